import Foundation

/// The helper page's sign-in through an OpenID provider, from `PASSBY_WEB_OIDC_*`.
struct WebSignInSettings: Sendable, Equatable {
    /// One of the issuers of `PASSBY_IDENTITY_PROVIDERS` (`PASSBY_WEB_OIDC_PROVIDER`).
    var issuer: String
    /// Passby's client id at that provider (`PASSBY_WEB_OIDC_CLIENT_ID`); the provider's `audience` must be it.
    var clientID: String
    /// `PASSBY_WEB_OIDC_CLIENT_SECRET`, or the first line of the file `PASSBY_WEB_OIDC_CLIENT_SECRET_FILE` names.
    var clientSecret: String
    /// Passby's public URL of `/web/sign-in/callback` (`PASSBY_WEB_OIDC_REDIRECT_URI`), registered at the provider.
    var redirectURI: String
    /// `PASSBY_WEB_OIDC_SCOPE`, default `openid profile` (the standard `name` claim comes with
    /// `profile`); it must hold `openid`.
    var scope = WebSignInSettings.defaultScope
    static let defaultScope = "openid profile"

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    static let variables = [
        "PASSBY_WEB_OIDC_PROVIDER", "PASSBY_WEB_OIDC_CLIENT_ID", "PASSBY_WEB_OIDC_CLIENT_SECRET", "PASSBY_WEB_OIDC_CLIENT_SECRET_FILE",
        "PASSBY_WEB_OIDC_REDIRECT_URI", "PASSBY_WEB_OIDC_SCOPE",
    ]

    /// The settings, nil when none is set; a partial or wrong set is an error naming the variable
    /// (never its value: one of them is the secret).
    static func fromEnvironment(_ environment: [String: String]) throws -> WebSignInSettings? {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let issuer = value("PASSBY_WEB_OIDC_PROVIDER") else {
            if let stray = variables.first(where: { value($0) != nil }) {
                throw Invalid(description: "\(stray) is set but PASSBY_WEB_OIDC_PROVIDER is not")
            }
            return nil
        }
        guard let clientID = value("PASSBY_WEB_OIDC_CLIENT_ID"), clientID.count <= 200 else {
            throw Invalid(description: "PASSBY_WEB_OIDC_PROVIDER needs PASSBY_WEB_OIDC_CLIENT_ID (at most 200 characters)")
        }
        let secret: String
        switch (value("PASSBY_WEB_OIDC_CLIENT_SECRET"), value("PASSBY_WEB_OIDC_CLIENT_SECRET_FILE")) {
        case (let given?, nil):
            secret = given
        case (nil, let path?):
            guard let data = FileManager.default.contents(atPath: path),
                let line = String(data: data, encoding: .utf8)?.split(whereSeparator: \.isNewline).first
            else { throw Invalid(description: "PASSBY_WEB_OIDC_CLIENT_SECRET_FILE (\(path)) cannot be read or is empty") }
            secret = line.trimmingCharacters(in: .whitespaces)
        case (.some, .some):
            throw Invalid(description: "set PASSBY_WEB_OIDC_CLIENT_SECRET or PASSBY_WEB_OIDC_CLIENT_SECRET_FILE, not both")
        case (nil, nil):
            throw Invalid(description: "PASSBY_WEB_OIDC_PROVIDER needs PASSBY_WEB_OIDC_CLIENT_SECRET or PASSBY_WEB_OIDC_CLIENT_SECRET_FILE")
        }
        guard !secret.isEmpty else { throw Invalid(description: "the client secret is empty") }
        guard let redirect = value("PASSBY_WEB_OIDC_REDIRECT_URI") else {
            throw Invalid(
                description: "PASSBY_WEB_OIDC_PROVIDER needs PASSBY_WEB_OIDC_REDIRECT_URI, for example https://passby.example/web/sign-in/callback")
        }
        try checkRedirect(redirect)
        let scope = value("PASSBY_WEB_OIDC_SCOPE") ?? defaultScope
        guard scope.split(separator: " ").contains("openid"), scope.count <= 500 else {
            throw Invalid(description: "PASSBY_WEB_OIDC_SCOPE must hold openid")
        }
        return WebSignInSettings(issuer: issuer, clientID: clientID, clientSecret: secret, redirectURI: redirect, scope: scope)
    }

    /// An absolute URL of Passby's callback route: HTTPS, or plain HTTP on a loopback address.
    static func checkRedirect(_ text: String) throws {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
            url.path == ProviderSignIn.callbackPath, url.query == nil, url.fragment == nil, url.user == nil
        else {
            throw Invalid(
                description: "PASSBY_WEB_OIDC_REDIRECT_URI must be an absolute URL of \(ProviderSignIn.callbackPath), without query or fragment")
        }
        guard scheme == "https" || (scheme == "http" && IdentityProviders.isLoopback(host)) else {
            throw Invalid(description: "PASSBY_WEB_OIDC_REDIRECT_URI must be https (plain http only on a loopback address)")
        }
    }
}
