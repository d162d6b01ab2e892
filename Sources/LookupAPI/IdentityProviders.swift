import Consent
import Foundation

/// The identity providers Passby trusts: those listed in `PASSBY_IDENTITY_PROVIDERS`, plus the
/// development provider unless it is switched off.
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

    static func load(_ configuration: PassbyConfiguration, dataDirectory: URL) throws -> [IdentityProvider] {
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
        if configuration.developmentIdentityProvider {
            providers.append(try DevelopmentIdentityProvider(dataDirectory: dataDirectory).provider)
        }
        return providers
    }
}
