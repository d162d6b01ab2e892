import Consent
import Foundation
import Testing

@testable import LookupAPI

/// `PASSBY_IDENTITY_PROVIDERS`: Passby's own entries keep working, OpenID Connect entries map
/// their claims, and a configuration that would trust too much is a start-up error.
@Suite("Identity provider configuration")
struct IdentityProviderConfigTests {
    /// A provider's public keys: one RSA key and one Ed25519 key.
    static let keySet = """
        {"keys": [{"kty": "RSA", "kid": "r1", "n": "zpj_bPZX95GaNfidlIrrEpugRPuT6xXUWvIigfXVaUIrWvA9Mg6zsdFn9exlosZLTdofurZ4wLNYHsgnlfNo6prcf-4U0mQLRgnAUlLqDTYeflgZEPWtaV2r-zZIsKj3rVZyZ4zYa6GScNVlR5UZbsQMj4cmaqS_cnTMGzyPFAFKPYfUG1TgyP0STDGPian1HVmTBLHToLpKZF9Kup_rp_sZdFad7a8BZU65TxDRQEI4ZCxHk-fl-D4cVSpy5CR9o3vmYLmnaANyn0MA4Zpzlnf4nEk3QvDLzuSZYcNMSndO6Dgo7xcRm2Ye3uZomMTROI68_wK5mmTfu0bw3ksbSQ", "e": "AQAB"},
                  {"kty": "OKP", "crv": "Ed25519", "kid": "e1", "x": "NqxhRVDYCc2WVfzO3fEy3A80z2MGCsvNqvo5NEc4dOg"}]}
        """

    func load(_ entries: String, keySet: String = keySet) async throws -> [IdentityProvider] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("idp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("keys.json")
        try keySet.write(to: keys, atomically: true, encoding: .utf8)
        let list = directory.appendingPathComponent("providers.json")
        try entries.replacingOccurrences(of: "KEYS", with: keys.path).write(to: list, atomically: true, encoding: .utf8)
        var configuration = PassbyConfiguration()
        configuration.identityProvidersFile = list.path
        return try await IdentityProviders.load(configuration, development: nil)
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

    @Test("a provider whose key set has no key it may sign with is a start-up error; loopback is written plainly")
    func noUsableKey() async {
        await #expect {
            // Only an encryption key, as some providers publish beside their signing keys.
            try await load(
                #"[{"issuer": "https://a.example", "audience": "passby", "jwks_file": "KEYS"}]"#,
                keySet: #"{"keys": [{"kty": "RSA", "use": "enc", "kid": "x", "n": "AQAB", "e": "AQAB"}]}"#)
        } throws: { error in
            "\(error)".contains("https://a.example") && "\(error)".contains("no key")
        }
        #expect(IdentityProviders.isLoopback("127.0.0.1") && IdentityProviders.isLoopback("127.1.2.3") && IdentityProviders.isLoopback("::1"))
        for host in ["0127.0.0.1", "127.0.0.01", "127.0.0.1.evil.example", "128.0.0.1", "127.0.0", "localhost.evil.example"] {
            #expect(!IdentityProviders.isLoopback(host), "\(host)")
        }
    }
}
