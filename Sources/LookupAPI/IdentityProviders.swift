import AsyncHTTPClient
import Consent
import Database
import Foundation
import Logging

/// The identity providers Passby trusts: those listed in `PASSBY_IDENTITY_PROVIDERS`, or the
/// development provider when `developmentProviderTrusted` allows it.
enum IdentityProviders {
    /// One entry of `PASSBY_IDENTITY_PROVIDERS`. `{"issuer", "jwks_file"}` alone is Passby's own
    /// format (claims `idn`, `name`, `rnv`; EdDSA or ES256; `PASSBY_ASSERTION_AUDIENCE`); with an
    /// `audience` it is an OpenID Connect provider with its own claim names.
    struct Entry: Decodable {
        var issuer: String
        var jwksFile: String?
        var jwksURI: String?
        var audience: String?
        var claims: Claims?
        var maxAgeSeconds: Int64?
        var allowHTTP: Bool?
        var algorithms: [String]?

        struct Claims: Decodable {
            var idNumber: String?
            var name: String?
            var realNameVerified: RealName?
            var dependents: String?
            enum CodingKeys: String, CodingKey {
                case idNumber = "id_number"
                case name
                case realNameVerified = "real_name_verified"
                case dependents
            }
        }

        /// A claim name that must be true, or `{"acr": [accepted values]}`.
        enum RealName: Decodable {
            case claim(String)
            case acr([String])
            struct ACR: Decodable { var acr: [String] }
            init(from decoder: any Decoder) throws {
                if let name = try? decoder.singleValueContainer().decode(String.self) {
                    self = .claim(name)
                } else {
                    self = .acr(try ACR(from: decoder).acr)
                }
            }
        }

        enum CodingKeys: String, CodingKey {
            case issuer, audience, claims, algorithms
            case jwksFile = "jwks_file"
            case jwksURI = "jwks_uri"
            case maxAgeSeconds = "max_age_seconds"
            case allowHTTP = "allow_http"
        }

        /// What the provider's assertions must say; nil for Passby's own format.
        func policy() throws -> ProviderPolicy? {
            guard let audience else { return nil }
            guard !audience.isEmpty else { throw ConfigurationError(description: "provider \(issuer): `audience` is empty") }
            let algorithms = Set(algorithms ?? Array(ProviderPolicy.asymmetricAlgorithms))
            let refused = algorithms.subtracting(ProviderPolicy.asymmetricAlgorithms)
            guard refused.isEmpty, !algorithms.isEmpty else {
                throw ConfigurationError(
                    description:
                        "provider \(issuer): algorithms must be among RS256, PS256, ES256 and EdDSA (never none or HMAC), not \(refused.sorted())")
            }
            if let maxAgeSeconds, !(1...86_400).contains(maxAgeSeconds) {
                throw ConfigurationError(description: "provider \(issuer): max_age_seconds must be 1…86400")
            }
            let realName: ProviderPolicy.RealNameCheck =
                switch claims?.realNameVerified {
                case .claim(let name): .claim(name)
                case .acr(let values): .acr(values)
                case nil: .claim("rnv")
                }
            if case .acr(let values) = realName, values.isEmpty {
                throw ConfigurationError(description: "provider \(issuer): real_name_verified lists no acr value")
            }
            return ProviderPolicy(
                audience: audience, idNumberClaim: claims?.idNumber ?? "idn", nameClaim: claims?.name ?? "name", realName: realName,
                dependentsClaim: claims?.dependents, maxAgeSeconds: maxAgeSeconds ?? 600, algorithms: algorithms)
        }
    }

    struct ConfigurationError: Error, CustomStringConvertible {
        let description: String
    }

    /// Whether `serve` trusts (and offers) the development identity provider. It mints an
    /// assertion for anyone who asks, so it is for demos only: on with `--demo` (unless
    /// `PASSBY_DEV_IDP=off`), and then only on a loopback address and with no configured
    /// provider; anything else is a start-up error, never a silent downgrade of who is trusted.
    static func developmentProviderTrusted(demo: Bool, host: String, configuration: PassbyConfiguration) throws -> Bool {
        guard demo, configuration.developmentIdentityProvider else { return false }
        guard isLoopback(host) else {
            throw ConfigurationError(
                description: """
                    the development identity provider mints assertions for anyone, so --demo serves only on a loopback address \
                    (not \(host)); set PASSBY_DEV_IDP=off to run the demo data without it
                    """)
        }
        guard configuration.identityProvidersFile == nil else {
            throw ConfigurationError(
                description: "the development identity provider is never trusted beside configured providers (PASSBY_IDENTITY_PROVIDERS); "
                    + "set PASSBY_DEV_IDP=off or drop --demo")
        }
        return true
    }

    /// A provider whose keys come over HTTP: its `jwks_uri`, or the one its metadata names.
    static func fetched(_ entry: Entry, policy: ProviderPolicy?, http: HTTPClient) async throws -> IdentityProvider {
        let allowHTTP = entry.allowHTTP ?? false
        if allowHTTP, !(URL(string: entry.issuer)?.host.map(isLoopback) ?? false) {
            throw ConfigurationError(description: "provider \(entry.issuer): allow_http is for loopback providers only")
        }
        let fetcher = ProviderFetcher(http: http, allowHTTP: allowHTTP)
        let address: String
        do {
            if let given = entry.jwksURI { address = given } else { address = try await fetcher.discover(issuer: entry.issuer) }
        } catch {
            throw ConfigurationError(description: "provider \(entry.issuer): discovery failed: \(error)")
        }
        do {
            let (jwks, maxAge) = try await fetcher.keySet(address)
            return IdentityProvider(
                issuer: entry.issuer, jwksJSON: jwks, policy: policy, refetch: { try await fetcher.keySet(address) }, maxAge: maxAge)
        } catch {
            throw ConfigurationError(description: "provider \(entry.issuer): its key set \(address) cannot be fetched: \(error)")
        }
    }

    /// 127.0.0.0/8, ::1 and localhost (the one rule, `Database.isLoopback`).
    static func isLoopback(_ host: String) -> Bool { Database.isLoopback(host) }

    /// The entries of `PASSBY_IDENTITY_PROVIDERS`, nil when it is not set.
    static func entries(_ configuration: PassbyConfiguration) throws -> [Entry]? {
        guard let path = configuration.identityProvidersFile else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(description: "the identity provider list \(path) cannot be read")
        }
        do {
            return try JSONDecoder().decode([Entry].self, from: data)
        } catch {
            throw ConfigurationError(description: "\(path) is not a JSON list of providers ({\"issuer\", \"jwks_file\", …}): \(error)")
        }
    }

    /// The helper page's sign-in (`PASSBY_WEB_OIDC_*`), its endpoints from the provider's metadata;
    /// nil when it is not configured. The provider must be one of `PASSBY_IDENTITY_PROVIDERS`, an
    /// OpenID one whose `audience` is Passby's client id: the ID tokens Passby obtains are then the
    /// very assertions its lookups accept.
    static func webSignIn(_ configuration: PassbyConfiguration, http: HTTPClient, logger: Logger) async throws -> WebSignInProvider? {
        guard let settings = configuration.webSignIn else { return nil }
        guard let entry = try entries(configuration)?.first(where: { $0.issuer == settings.issuer }) else {
            throw ConfigurationError(description: "PASSBY_WEB_OIDC_PROVIDER \(settings.issuer) is none of the issuers in PASSBY_IDENTITY_PROVIDERS")
        }
        guard let policy = try entry.policy(), policy.audience == settings.clientID else {
            throw ConfigurationError(
                description: "provider \(entry.issuer): its audience must be PASSBY_WEB_OIDC_CLIENT_ID, the aud of the ID tokens Passby signs in with"
            )
        }
        let fetcher = ProviderFetcher(http: http, allowHTTP: entry.allowHTTP ?? false)
        let metadata: ProviderFetcher.Metadata
        do {
            metadata = try await fetcher.metadata(issuer: entry.issuer)
        } catch {
            throw ConfigurationError(description: "provider \(entry.issuer): discovery for the sign-in failed: \(error)")
        }
        guard let authorization = metadata.authorizationEndpoint, let token = metadata.tokenEndpoint,
            allowed(authorization, allowHTTP: entry.allowHTTP ?? false), allowed(token, allowHTTP: entry.allowHTTP ?? false)
        else {
            throw ConfigurationError(
                description: "provider \(entry.issuer): its metadata names no https authorization_endpoint and token_endpoint for the sign-in")
        }
        let exchange = ProviderTokenClient(
            fetcher: fetcher, tokenEndpoint: token, clientID: settings.clientID, clientSecret: settings.clientSecret,
            redirectURI: settings.redirectURI, logger: logger)
        return WebSignInProvider(
            issuer: entry.issuer, clientID: settings.clientID, redirectURI: settings.redirectURI, scope: settings.scope,
            authorizationEndpoint: authorization, maxAgeSeconds: policy.maxAgeSeconds, exchange: exchange)
    }

    /// An endpoint Passby may send a browser or a secret to: https, or loopback http with `allow_http`.
    static func allowed(_ address: String, allowHTTP: Bool) -> Bool {
        guard let url = URLComponents(string: address), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            return false
        }
        return scheme == "https" || (scheme == "http" && allowHTTP && isLoopback(host))
    }

    /// The providers of `PASSBY_IDENTITY_PROVIDERS`, their keys read or fetched (`http` fetches
    /// them: discovery, then `jwks_uri`), and the development provider when it is trusted. A
    /// provider whose metadata or keys cannot be had is a start-up error naming it.
    static func load(
        _ configuration: PassbyConfiguration, development: DevelopmentIdentityProvider?, http: HTTPClient? = nil
    ) async throws -> [IdentityProvider] {
        var providers: [IdentityProvider] = []
        if let entries = try entries(configuration) {
            for entry in entries {
                let policy = try entry.policy()
                if let file = entry.jwksFile {
                    guard let jwks = FileManager.default.contents(atPath: file) else {
                        throw ConfigurationError(description: "provider \(entry.issuer): its key set \(file) cannot be read")
                    }
                    providers.append(IdentityProvider(issuer: entry.issuer, jwksJSON: String(decoding: jwks, as: UTF8.self), policy: policy))
                } else {
                    guard let http else { throw ConfigurationError(description: "provider \(entry.issuer): its keys can only be fetched by serve") }
                    providers.append(try await fetched(entry, policy: policy, http: http))
                }
                guard let added = providers.last, await AssertionVerifier.usableKeys(in: added.jwksJSON, policy: policy) > 0 else {
                    throw ConfigurationError(description: "provider \(entry.issuer): its key set has no key it may sign with")
                }
            }
        }
        if let development { providers.append(development.provider) }
        return providers
    }
}
