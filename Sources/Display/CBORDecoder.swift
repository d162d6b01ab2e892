/// A strict CBOR decoder for untrusted input: it never traps, and it refuses what Passby never
/// writes (indefinite lengths, floats, undefined, reserved values) as well as duplicate map keys,
/// trailing bytes and nesting deeper than `maxDepth`.
public struct CBORDecoder {
    public enum Failure: Error, Equatable, Sendable {
        case truncated
        case indefiniteLength
        case duplicateKey
        case trailingBytes
        case tooDeep
        case invalidUTF8
        case unsupported
    }

    public static let maxDepth = 8

    private let bytes: [UInt8]
    private var position = 0

    /// Decodes exactly one item that fills all of `bytes`.
    public static func decode(_ bytes: [UInt8]) throws(Failure) -> CBOR {
        var decoder = CBORDecoder(bytes: bytes)
        let item = try decoder.item(depth: 0)
        guard decoder.position == bytes.count else { throw .trailingBytes }
        return item
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func byte() throws(Failure) -> UInt8 {
        guard position < bytes.count else { throw .truncated }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ count: UInt64) throws(Failure) -> [UInt8] {
        guard count <= UInt64(bytes.count - position) else { throw .truncated }
        let end = position + Int(count)
        defer { position = end }
        return Array(bytes[position..<end])
    }

    private mutating func argument(_ info: UInt8) throws(Failure) -> UInt64 {
        switch info {
        case 0..<24: return UInt64(info)
        case 24...27:
            var value: UInt64 = 0
            for _ in 0..<(1 << (info - 24)) { value = value << 8 | UInt64(try byte()) }
            return value
        case 31: throw .indefiniteLength
        default: throw .unsupported
        }
    }

    private mutating func item(depth: Int) throws(Failure) -> CBOR {
        guard depth <= Self.maxDepth else { throw .tooDeep }
        let initial = try byte()
        let major = initial >> 5
        let info = initial & 0x1F
        if major == 7 {
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            default: throw .unsupported
            }
        }
        let value = try argument(info)
        switch major {
        case 0: return .unsigned(value)
        case 1: return .negative(value)
        case 2: return .bytes(try take(value))
        case 3:
            let utf8 = try take(value)
            guard let text = String(validating: utf8, as: UTF8.self) else { throw .invalidUTF8 }
            return .text(text)
        case 4:
            // Every item takes at least one byte: a count beyond what is left is a lie.
            guard value <= UInt64(bytes.count - position) else { throw .truncated }
            var items: [CBOR] = []
            for _ in 0..<value { items.append(try item(depth: depth + 1)) }
            return .array(items)
        case 5:
            guard value <= UInt64(bytes.count - position) / 2 else { throw .truncated }
            var entries: [CBOR.Entry] = []
            for _ in 0..<value {
                let key = try item(depth: depth + 1)
                if entries.contains(where: { $0.key == key }) { throw .duplicateKey }
                entries.append(.init(key, try item(depth: depth + 1)))
            }
            return .map(entries)
        default:
            return .tagged(value, try item(depth: depth + 1))
        }
    }
}
