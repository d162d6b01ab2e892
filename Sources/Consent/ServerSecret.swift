import Crypto
import Foundation
import SystemPackage

/// The server secret behind every keyed hash: `PASSBY_SECRET` (64 or more hex characters), or a
/// random 32-byte file created with mode 0600 in the data directory on first run.
public enum ServerSecret {
    public enum SecretError: Error, CustomStringConvertible {
        case badEnvironmentValue
        case badFile(String)
        public var description: String {
            switch self {
            case .badEnvironmentValue: "PASSBY_SECRET must be at least 64 hexadecimal characters (32 bytes)"
            case .badFile(let path): "the server secret in \(path) is damaged: it must hold 32 bytes"
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

/// A file of random bytes that only its owner may read, created atomically on first use.
public enum SecretFile {
    /// Writes a new file that is 0600 from its first byte: created with that mode (never a
    /// readable file chmodded later), and an error if it exists already.
    public static func writePrivate(_ bytes: [UInt8], to file: URL) throws {
        let descriptor = try FileDescriptor.open(
            FilePath(file.path), .writeOnly, options: [.create, .exclusiveCreate], permissions: [.ownerReadWrite])
        try descriptor.closeAfter { _ = try descriptor.writeAll(bytes) }
    }

    public static func loadOrCreate(at file: URL, length: Int) throws -> [UInt8] {
        let fm = FileManager.default
        if let data = fm.contents(atPath: file.path) {
            guard data.count == length else { throw ServerSecret.SecretError.badFile(file.path) }
            return Array(data)
        }
        try fm.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // Write to a private temporary file, then link it into place: two processes starting at
        // once end up sharing whichever secret landed first.
        let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).\(getpid())")
        try? fm.removeItem(at: temporary)
        try writePrivate(bytes, to: temporary)
        defer { try? fm.removeItem(at: temporary) }
        if link(temporary.path, file.path) != 0 {
            guard errno == EEXIST, let data = fm.contents(atPath: file.path), data.count == length else {
                throw CocoaError(.fileWriteUnknown)
            }
            return Array(data)
        }
        return bytes
    }
}
