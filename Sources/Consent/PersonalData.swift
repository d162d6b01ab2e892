import Crypto
import Foundation

/// The one place that turns personal data into what may be stored or shown: keyed hashes
/// (HMAC-SHA-256 under the server secret) for lookups, and masked forms for display.
public struct PersonalData: Sendable {
    private let secret: SymmetricKey

    public init(secret: SymmetricKey) {
        self.secret = secret
    }

    /// The subject key: HMAC-SHA-256 of the normalized 18-character number. 32 bytes.
    public func subjectKey(_ id: IdentityNumber) -> SubjectKey {
        SubjectKey(bytes: Array(HMAC<SHA256>.authenticationCode(for: Array(id.normalized.utf8), using: secret)))
    }

    /// A keyed hash of a name after whitespace normalization, so that a declared name can be
    /// compared with the recorded one without storing either.
    public func nameHash(_ name: String) -> [UInt8] {
        keyedHash(domain: "name", Array(Self.normalizeName(name).utf8))
    }

    /// 32 bytes derived from the server secret for `purpose`, for secrets that must be the same
    /// on every start without being stored (such as the key of Passby's own web client).
    public func derivedSecret(for purpose: String) -> [UInt8] {
        keyedHash(domain: "derived:" + purpose, [])
    }

    /// HMAC-SHA-256 of `bytes` under the secret, separated by `domain` from every other use.
    func keyedHash(domain: String, _ bytes: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(domain.utf8) + [0] + bytes, using: secret))
    }

    /// Trims, collapses runs of white space (including the ideographic space) into one space, and
    /// drops a space between two Han characters: `" 王 秀英 "` is `王秀英`, `"John  Smith"` is `John Smith`.
    public static func normalizeName(_ name: String) -> String {
        let words = name.split(whereSeparator: { $0.isWhitespace })
        var result = ""
        for word in words {
            if let last = result.last, let first = word.first, !(isHan(last) && isHan(first)) { result += " " }
            result += word
        }
        return result
    }

    static func isHan(_ character: Character) -> Bool {
        character.unicodeScalars.first.map { (0x3400...0x9FFF).contains($0.value) || (0x20000...0x2FFFF).contains($0.value) } ?? false
    }

    /// First four and last four characters: `1101**********123X`.
    public static func maskIdentityNumber(_ normalized: String) -> String {
        let characters = Array(normalized)
        guard characters.count > 8 else { return String(repeating: "*", count: characters.count) }
        return String(characters[..<4]) + String(repeating: "*", count: characters.count - 8) + String(characters[(characters.count - 4)...])
    }

    /// One character: `*`; two: first + `*`; three or more: first, `*` for each middle character, last.
    public static func maskName(_ name: String) -> String {
        let characters = Array(normalizeName(name))
        switch characters.count {
        case 0: return ""
        case 1: return "*"
        case 2: return String(characters[0]) + "*"
        default:
            return String(characters[0]) + String(repeating: "*", count: characters.count - 2) + String(characters[characters.count - 1])
        }
    }
}

/// The keyed hash that stands for a subject everywhere in storage.
public struct SubjectKey: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Hex, for logs: it reveals nothing without the server secret.
    public var description: String { bytes.map { String(format: "%02x", $0) }.joined() }
}
