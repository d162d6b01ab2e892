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

    /// The file's bytes, nil when there is no such file.
    public static func loadIfPresent(at file: URL, length: Int) throws -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
        guard data.count == length else { throw DamagedFile(path: file.path, length: length) }
        return Array(data)
    }

    /// The file's bytes; a new file of `length` random bytes if there is none.
    public static func loadOrCreate(at file: URL, length: Int) throws -> [UInt8] {
        try loadOrCreate(at: file, length: length, encode: { $0 }, decode: { $0.count == length ? Array($0) : nil })
    }

    /// As `loadOrCreate(at:length:)`, the bytes written as hexadecimal digits and a newline
    /// (`openssl rand -hex 32` makes such a file); surrounding white space is ignored.
    public static func loadOrCreateHex(at file: URL, length: Int) throws -> [UInt8] {
        try loadOrCreate(
            at: file, length: length, encode: { Array((Hex.encode($0) + "\n").utf8) },
            decode: { data in
                Hex.decode(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)).flatMap {
                    $0.count == length ? $0 : nil
                }
            })
    }

    private static func loadOrCreate(
        at file: URL, length: Int, encode: ([UInt8]) -> [UInt8], decode: (Data) -> [UInt8]?
    ) throws -> [UInt8] {
        let fm = FileManager.default
        if let data = fm.contents(atPath: file.path) {
            guard let bytes = decode(data) else { throw DamagedFile(path: file.path, length: length) }
            return bytes
        }
        try fm.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // Write to a private temporary file, then link it into place: two processes starting at
        // once end up sharing whichever secret landed first.
        let temporary = file.deletingLastPathComponent().appendingPathComponent(".\(file.lastPathComponent).\(getpid())")
        try? fm.removeItem(at: temporary)
        try writePrivate(encode(bytes), to: temporary)
        defer { try? fm.removeItem(at: temporary) }
        if link(temporary.path, file.path) != 0 {
            guard errno == EEXIST, let data = fm.contents(atPath: file.path), let bytes = decode(data) else {
                throw CocoaError(.fileWriteUnknown)
            }
            return bytes
        }
        return bytes
    }
}

/// Lower-case hexadecimal text for bytes, and back.
public enum Hex {
    /// Lower-case hexadecimal, as PostgreSQL's `encode(…, 'hex')` writes it. Written digit by
    /// digit: it names every rate-limit window of a lookup, and `String(format:)` cost a lookup
    /// more than its HMAC did.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text = [UInt8]()
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static let digits = Array("0123456789abcdef".utf8)

    /// The bytes of an even number of hexadecimal digits (either case); nil for anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
