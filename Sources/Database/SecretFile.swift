import Foundation
import SystemPackage

/// A file of random bytes that only its owner may read, created atomically on first use.
public enum SecretFile {
    /// A secret file whose length is not the one its owner expects.
    public struct DamagedFile: Error, CustomStringConvertible {
        public let path: String
        public let length: Int
        public var description: String { "the secret file \(path) is damaged: it must hold \(length) bytes" }
    }

    /// Writes a new file that is 0600 from its first byte: created with that mode (never a
    /// readable file chmodded later), and an error if it exists already.
    public static func writePrivate(_ bytes: [UInt8], to file: URL) throws {
        let descriptor = try FileDescriptor.open(
            FilePath(file.path), .writeOnly, options: [.create, .exclusiveCreate], permissions: [.ownerReadWrite])
        try descriptor.closeAfter { _ = try descriptor.writeAll(bytes) }
    }

    /// The file's bytes; a new file of `length` random bytes if there is none.
    public static func loadOrCreate(at file: URL, length: Int) throws -> [UInt8] {
        let fm = FileManager.default
        if let data = fm.contents(atPath: file.path) {
            guard data.count == length else { throw DamagedFile(path: file.path, length: length) }
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
