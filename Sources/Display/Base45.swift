/// Base45 (RFC 9285): the encoding whose alphabet is the QR code's alphanumeric set.
public enum Base45 {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".utf8)
    static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = Int8(index) }
        return table
    }()

    public struct InvalidInput: Error, Equatable, Sendable {}

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 2 * 3 + 2)
        var index = 0
        while index + 1 < bytes.count {
            var value = Int(bytes[index]) << 8 | Int(bytes[index + 1])
            for _ in 0..<3 {
                out.append(alphabet[value % 45])
                value /= 45
            }
            index += 2
        }
        if index < bytes.count {
            let value = Int(bytes[index])
            out += [alphabet[value % 45], alphabet[value / 45]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes strictly: only alphabet characters, no dangling character, no chunk out of range.
    public static func decode(_ text: some StringProtocol) throws(InvalidInput) -> [UInt8] {
        let input = Array(text.utf8)
        guard input.count % 3 != 1 else { throw InvalidInput() }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 3 * 2 + 1)
        var index = 0
        while index < input.count {
            let chunk = min(3, input.count - index)
            var value = 0
            var factor = 1
            for offset in 0..<chunk {
                let digit = values[Int(input[index + offset])]
                guard digit >= 0 else { throw InvalidInput() }
                value += Int(digit) * factor
                factor *= 45
            }
            if chunk == 3 {
                guard value <= 0xFFFF else { throw InvalidInput() }
                out += [UInt8(value >> 8), UInt8(value & 0xFF)]
            } else {
                guard value <= 0xFF else { throw InvalidInput() }
                out.append(UInt8(value))
            }
            index += chunk
        }
        return out
    }
}
