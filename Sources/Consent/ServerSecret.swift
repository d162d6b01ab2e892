import Crypto
import Database
import Foundation

/// The server secret behind every keyed hash. It lives sealed in the database, shared by every
/// instance; `PASSBY_SECRET` (64 or more hex characters) or an older `<data-dir>/secret` file is
/// imported into an empty database once.
public enum ServerSecret {
    public enum SecretError: Error, CustomStringConvertible {
        case badEnvironmentValue
        case differsFromDatabase
        public var description: String {
            switch self {
            case .badEnvironmentValue: "PASSBY_SECRET must be at least 64 hexadecimal characters (32 bytes)"
            case .differsFromDatabase:
                "PASSBY_SECRET differs from the server secret this database holds; unset it, or point this instance at its own database"
            }
        }
    }

    /// `PASSBY_SECRET`'s bytes, nil when it is unset.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [UInt8]? {
        guard let hex = environment["PASSBY_SECRET"], !hex.isEmpty else { return nil }
        guard let bytes = Hex.decode(hex), bytes.count >= 32 else { throw SecretError.badEnvironmentValue }
        return bytes
    }

    /// The secret this database holds, made on first use from `PASSBY_SECRET`, else an older
    /// `<data-dir>/secret`, else 32 random bytes. A `PASSBY_SECRET` that differs from the stored
    /// secret is an error: keyed hashes made under two secrets would never meet.
    public static func load(
        from vault: KeyVault, dataDirectory: URL, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> SymmetricKey {
        let configured = try fromEnvironment(environment)
        let bytes = try await vault.secret(
            "server-secret", existing: { try configured ?? SecretFile.loadIfPresent(at: dataDirectory.appendingPathComponent("secret"), length: 32) },
            create: { KeyVault.random(32) }, recordsDepend: true)
        if let configured, configured != bytes { throw SecretError.differsFromDatabase }
        return SymmetricKey(data: bytes)
    }
}
