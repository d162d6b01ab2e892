import Consent
import Foundation

/// The identity providers Passby trusts: those listed in `PASSBY_IDENTITY_PROVIDERS`, or the
/// development provider when `developmentProviderTrusted` allows it.
enum IdentityProviders {
    struct Entry: Decodable {
        var issuer: String
        var jwksFile: String
        enum CodingKeys: String, CodingKey {
            case issuer
            case jwksFile = "jwks_file"
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

    /// 127.0.0.0/8, ::1 and localhost.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        return octets.count == 4 && octets.allSatisfy { $0 != nil } && octets[0] == 127
    }

    static func load(_ configuration: PassbyConfiguration, development: Bool, dataDirectory: URL) throws -> [IdentityProvider] {
        var providers: [IdentityProvider] = []
        if let path = configuration.identityProvidersFile {
            guard let data = FileManager.default.contents(atPath: path),
                let entries = try? JSONDecoder().decode([Entry].self, from: data)
            else { throw ConfigurationError(description: "\(path) is not a JSON list of {\"issuer\", \"jwks_file\"}") }
            for entry in entries {
                guard let jwks = FileManager.default.contents(atPath: entry.jwksFile) else {
                    throw ConfigurationError(description: "the key set \(entry.jwksFile) of \(entry.issuer) cannot be read")
                }
                providers.append(IdentityProvider(issuer: entry.issuer, jwksJSON: String(decoding: jwks, as: UTF8.self)))
            }
        }
        if development {
            providers.append(try DevelopmentIdentityProvider(dataDirectory: dataDirectory).provider)
        }
        return providers
    }
}
