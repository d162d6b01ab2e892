import AsyncHTTPClient
import Foundation
import Logging
import Testing

@testable import LookupAPI

/// `PASSBY_WEB_OIDC_*`: all or nothing, a callback URL of Passby's own, and a provider whose ID
/// tokens are the assertions lookups accept. Mistakes are start-up errors that never print the secret.
@Suite("The helper page's sign-in: configuration")
struct WebSignInSettingsTests {
    static let complete = [
        "PASSBY_WEB_OIDC_PROVIDER": "https://kc.example/realms/health", "PASSBY_WEB_OIDC_CLIENT_ID": "passby",
        "PASSBY_WEB_OIDC_CLIENT_SECRET": "s3cret-value", "PASSBY_WEB_OIDC_REDIRECT_URI": "https://passby.example/web/sign-in/callback",
    ]

    func error(_ environment: [String: String]) -> String? {
        do {
            _ = try WebSignInSettings.fromEnvironment(environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("a complete set is read, with scope openid profile by default; none at all is no sign-in")
    func reads() throws {
        let settings = try #require(try WebSignInSettings.fromEnvironment(Self.complete))
        #expect(settings.issuer == "https://kc.example/realms/health" && settings.clientID == "passby")
        #expect(settings.clientSecret == "s3cret-value" && settings.scope == "openid profile")
        #expect(try WebSignInSettings.fromEnvironment([:]) == nil)
        #expect(try PassbyConfiguration.fromEnvironment(Self.complete).webSignIn == settings)
    }

    @Test("the secret may come from a file: its first line")
    func secretFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)")
        try "from-a-file\nignored\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        var environment = Self.complete
        environment["PASSBY_WEB_OIDC_CLIENT_SECRET"] = nil
        environment["PASSBY_WEB_OIDC_CLIENT_SECRET_FILE"] = file.path
        #expect(try WebSignInSettings.fromEnvironment(environment)?.clientSecret == "from-a-file")
        environment["PASSBY_WEB_OIDC_CLIENT_SECRET"] = "also"
        #expect(error(environment)?.contains("not both") == true)
        environment["PASSBY_WEB_OIDC_CLIENT_SECRET"] = nil
        environment["PASSBY_WEB_OIDC_CLIENT_SECRET_FILE"] = "/nonexistent/secret"
        #expect(error(environment)?.contains("cannot be read") == true)
    }

    @Test(
        "a partial set is an error naming what is missing, never the secret",
        arguments: ["PASSBY_WEB_OIDC_PROVIDER", "PASSBY_WEB_OIDC_CLIENT_ID", "PASSBY_WEB_OIDC_CLIENT_SECRET", "PASSBY_WEB_OIDC_REDIRECT_URI"])
    func partial(missing: String) throws {
        var environment = Self.complete
        environment[missing] = nil
        let message = try #require(error(environment))
        #expect(message.contains("PASSBY_WEB_OIDC_"))
        #expect(!message.contains("s3cret-value"))
    }

    @Test(
        "the redirect must be Passby's callback, over https or on loopback",
        arguments: [
            "http://passby.example/web/sign-in/callback", "https://passby.example/elsewhere", "https://passby.example/web/sign-in/callback?x=1",
            "https://passby.example/web/sign-in/callback#f", "/web/sign-in/callback", "https://user@passby.example/web/sign-in/callback",
        ])
    func redirect(uri: String) {
        var environment = Self.complete
        environment["PASSBY_WEB_OIDC_REDIRECT_URI"] = uri
        #expect(error(environment)?.contains("PASSBY_WEB_OIDC_REDIRECT_URI") == true)
    }

    @Test("plain http is allowed for a loopback callback, and a scope without openid is refused")
    func loopbackAndScope() throws {
        var environment = Self.complete
        environment["PASSBY_WEB_OIDC_REDIRECT_URI"] = "http://127.0.0.1:8080/web/sign-in/callback"
        #expect(try WebSignInSettings.fromEnvironment(environment)?.redirectURI.hasPrefix("http://127.0.0.1") == true)
        environment["PASSBY_WEB_OIDC_SCOPE"] = "profile email"
        #expect(error(environment)?.contains("openid") == true)
    }

    @Test("the provider must be a configured OpenID one whose audience is the client id")
    func provider() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("websignin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let list = directory.appendingPathComponent("providers.json")
        try
            #"[{"issuer": "https://kc.example/realms/health", "audience": "another-client", "jwks_file": "/x"}, {"issuer": "https://own.example", "jwks_file": "/x"}]"#
            .write(to: list, atomically: true, encoding: .utf8)
        func startUpError(issuer: String) async -> String? {
            var environment = Self.complete
            environment["PASSBY_WEB_OIDC_PROVIDER"] = issuer
            environment["PASSBY_IDENTITY_PROVIDERS"] = list.path
            do {
                let configuration = try PassbyConfiguration.fromEnvironment(environment)
                _ = try await IdentityProviders.webSignIn(configuration, http: HTTPClient.shared, logger: Logger(label: "test"))
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(await startUpError(issuer: "https://unknown.example")?.contains("none of the issuers") == true)
        #expect(await startUpError(issuer: "https://kc.example/realms/health")?.contains("audience must be PASSBY_WEB_OIDC_CLIENT_ID") == true)
        #expect(await startUpError(issuer: "https://own.example")?.contains("audience must be PASSBY_WEB_OIDC_CLIENT_ID") == true)
    }
}
