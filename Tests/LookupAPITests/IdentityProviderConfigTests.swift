import Consent
import Foundation
import Testing

@testable import LookupAPI

/// `PASSBY_IDENTITY_PROVIDERS`: Passby's own entries keep working, OpenID Connect entries map
/// their claims, and a configuration that would trust too much is a start-up error.
@Suite("Identity provider configuration")
struct IdentityProviderConfigTests {
    func load(_ entries: String) async throws -> [IdentityProvider] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("idp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys.json")
        try #"{"keys":[]}"#.write(to: keys, atomically: true, encoding: .utf8)
        let list = directory.appendingPathComponent("providers.json")
        try entries.replacingOccurrences(of: "KEYS", with: keys.path).write(to: list, atomically: true, encoding: .utf8)
        var configuration = PassbyConfiguration()
        configuration.identityProvidersFile = list.path
        return try await IdentityProviders.load(configuration, development: false, dataDirectory: directory)
    }

    @Test("an OpenID Connect entry maps its claims; a plain one keeps Passby's own format")
    func entries() async throws {
        let providers = try await load(
            """
            [{"issuer": "https://idp.example", "jwks_file": "KEYS"},
             {"issuer": "https://kc.example/realms/r", "audience": "passby-web", "jwks_file": "KEYS", "max_age_seconds": 300,
              "claims": {"id_number": "idn", "name": "name", "real_name_verified": {"acr": ["urn:real-name"]}}, "algorithms": ["RS256"]}]
            """)
        #expect(providers.count == 2)
        #expect(providers[0].policy == nil, "Passby's own entries keep their format")
        let policy = try #require(providers[1].policy)
        #expect(policy.audience == "passby-web" && policy.idNumberClaim == "idn" && policy.realName == .acr(["urn:real-name"]))
        #expect(policy.maxAgeSeconds == 300 && policy.algorithms == ["RS256"])
        let defaults = try #require(try await load(#"[{"issuer": "https://idp.example", "audience": "passby", "jwks_file": "KEYS"}]"#)[0].policy)
        #expect(defaults.algorithms == ["RS256", "PS256", "ES256", "EdDSA"] && defaults.maxAgeSeconds == 600 && defaults.realName == .claim("rnv"))
    }

    @Test("none, HMAC, an empty audience, an odd max_age, no acr value or keys to fetch outside serve are start-up errors naming the provider")
    func refused() async {
        for entry in [
            #"{"issuer": "https://a.example", "audience": "passby", "jwks_file": "KEYS", "algorithms": ["RS256", "none"]}"#,
            #"{"issuer": "https://a.example", "audience": "passby", "jwks_file": "KEYS", "algorithms": ["HS256"]}"#,
            #"{"issuer": "https://a.example", "audience": "", "jwks_file": "KEYS"}"#,
            #"{"issuer": "https://a.example", "audience": "passby", "jwks_file": "KEYS", "max_age_seconds": 0}"#,
            #"{"issuer": "https://a.example", "audience": "passby", "jwks_file": "KEYS", "claims": {"real_name_verified": {"acr": []}}}"#,
            #"{"issuer": "https://a.example", "audience": "passby", "jwks_uri": "https://a.example/jwks"}"#,
        ] {
            await #expect("\(entry)") {
                try await load("[\(entry)]")
            } throws: { error in
                "\(error)".contains("https://a.example")
            }
        }
    }
}
