import Crypto
import Foundation

/// A consent token: 80 bits as 16 characters of Crockford base32, shown in groups of four.
/// Input is case-insensitive; hyphens and spaces are ignored; I and L read as 1, O as 0.
public struct ConsentToken: Sendable, Hashable, CustomStringConvertible {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// The 16 canonical characters. A secret: stored only as a keyed hash.
    public let canonical: String

    /// A token from 10 random bytes.
    public static func random() -> ConsentToken {
        var generator = SystemRandomNumberGenerator()
        return ConsentToken(bytes: (0..<10).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The token made from the first 10 bytes of `bytes` (80 bits).
    public init(bytes: [UInt8]) {
        precondition(bytes.count >= 10)
        var value: UInt128 = 0
        for byte in bytes.prefix(10) { value = value << 8 | UInt128(byte) }
        var characters: [Character] = []
        for shift in stride(from: 75, through: 0, by: -5) { characters.append(Self.alphabet[Int((value >> UInt128(shift)) & 31)]) }
        canonical = String(characters)
    }

    /// Parses what a person typed; nil unless it is 16 Crockford characters once separators are gone.
    public init?(parsing input: String) {
        var characters: [Character] = []
        for character in input.uppercased() where character != "-" && character != " " {
            switch character {
            case "I", "L": characters.append("1")
            case "O": characters.append("0")
            default:
                guard Self.alphabet.contains(character) else { return nil }
                characters.append(character)
            }
        }
        guard characters.count == 16 else { return nil }
        canonical = String(characters)
    }

    /// `ABCD-EFGH-JKMN-PQRS`.
    public var grouped: String {
        let characters = Array(canonical)
        return stride(from: 0, to: 16, by: 4).map { String(characters[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// Never the token itself.
    public var description: String { "ConsentToken(****)" }
}

extension PersonalData {
    /// The keyed hash under which a token is stored.
    public func tokenHash(_ token: ConsentToken) -> [UInt8] {
        keyedHash(domain: "token", Array(token.canonical.utf8))
    }

    /// The token's keyed hash under the current version first, then under the others a lookup
    /// tries: a grant stored before a rotation is still found.
    public func tokenHashes(_ token: ConsentToken) -> [[UInt8]] {
        keyedHashCandidates(domain: "token", Array(token.canonical.utf8))
    }

    /// A token derived from a request's identity, so that a retried request gets the same token
    /// without the token ever being stored.
    public func derivedToken(for parts: [String]) -> ConsentToken {
        ConsentToken(bytes: keyedHash(domain: "derived-token", Array(parts.joined(separator: "\u{0}").utf8)))
    }

    /// The derived token under the current version first, then under the others a lookup tries:
    /// a request retried across a rotation finds the grant its first try made.
    public func derivedTokens(for parts: [String]) -> [ConsentToken] {
        keyedHashCandidates(domain: "derived-token", Array(parts.joined(separator: "\u{0}").utf8)).map(ConsentToken.init(bytes:))
    }
}
