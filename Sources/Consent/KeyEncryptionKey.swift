import Crypto
import Database
import Foundation

/// The key-encryption key: every secret Passby shares through PostgreSQL (the server secret,
/// the code-signing keys, the ledger key, the receipt key, the demo provider's key) is stored
/// sealed under it with AES-GCM, so the database alone reveals none of them.
///
/// 32 bytes written as 64 hexadecimal characters: `PASSBY_KEK`, or the file `PASSBY_KEK_FILE`
/// names, or by default `<data-dir>/kek`, created (mode 0600) on first use. Every instance on
/// one database needs the same one.
public struct KeyEncryptionKey: Sendable {
    let key: SymmetricKey

    public enum KEKError: Error, CustomStringConvertible {
        case badValue(String)
        case unreadable(String)
        case notGiven

        public var description: String {
            switch self {
            case .badValue(let source): "\(source) must be 64 hexadecimal characters (32 bytes)"
            case .unreadable(let path): "PASSBY_KEK_FILE (\(path)) cannot be read"
            case .notGiven:
                "with DATABASE_URL, set PASSBY_KEK or PASSBY_KEK_FILE: the key-encryption key every instance on that database shares"
            }
        }
    }

    public init(bytes: [UInt8]) {
        key = SymmetricKey(data: bytes)
    }

    /// The key from the environment, else `<data-dir>/kek`, which is made only when `mayCreate`
    /// (the embedded database): an instance of a shared database must be given the shared key.
    public static func load(
        dataDirectory: URL, mayCreate: Bool = true, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Self {
        if let hex = environment["PASSBY_KEK"], !hex.isEmpty {
            guard let bytes = Hex.decode(hex), bytes.count == 32 else { throw KEKError.badValue("PASSBY_KEK") }
            return Self(bytes: bytes)
        }
        if let path = environment["PASSBY_KEK_FILE"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else { throw KEKError.unreadable(path) }
            guard let bytes = Hex.decode(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
                bytes.count == 32
            else { throw KEKError.badValue("PASSBY_KEK_FILE (\(path))") }
            return Self(bytes: bytes)
        }
        let file = dataDirectory.appendingPathComponent("kek")
        guard mayCreate || FileManager.default.fileExists(atPath: file.path) else { throw KEKError.notGiven }
        return Self(bytes: try SecretFile.loadOrCreateHex(at: file, length: 32))
    }

    /// `plain` sealed for the entry `name`: nonce, ciphertext and tag. The name is authenticated,
    /// so a sealed value moved to another entry does not open.
    public func seal(_ plain: [UInt8], name: String) -> [UInt8] {
        // AES-GCM with a 256-bit key and a fresh random nonce does not fail.
        Array((try? AES.GCM.seal(plain, using: key, authenticating: Array(name.utf8)).combined) ?? Data())
    }

    /// The plain bytes, or nil when `sealed` was not made by this key for this name.
    public func open(_ sealed: [UInt8], name: String) -> [UInt8]? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed), let plain = try? AES.GCM.open(box, using: key, authenticating: Array(name.utf8))
        else { return nil }
        return Array(plain)
    }
}
