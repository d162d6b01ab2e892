import Crypto
import Database
import Foundation

/// The server secret behind every keyed hash: `PASSBY_SECRET` (64 or more hex characters), or a
/// random 32-byte file created with mode 0600 in the data directory on first run.
public enum ServerSecret {
    public enum SecretError: Error, CustomStringConvertible {
        case badEnvironmentValue
        public var description: String {
            switch self {
            case .badEnvironmentValue: "PASSBY_SECRET must be at least 64 hexadecimal characters (32 bytes)"
            }
        }
    }

    public static func load(
        dataDirectory: URL, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> SymmetricKey {
        if let hex = environment["PASSBY_SECRET"], !hex.isEmpty {
            guard let bytes = Self.bytes(fromHex: hex), bytes.count >= 32 else { throw SecretError.badEnvironmentValue }
            return SymmetricKey(data: bytes)
        }
        let file = dataDirectory.appendingPathComponent("secret")
        return SymmetricKey(data: try SecretFile.loadOrCreate(at: file, length: 32))
    }

    static func bytes(fromHex hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
