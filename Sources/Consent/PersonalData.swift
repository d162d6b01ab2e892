import Crypto
import Database
import Foundation

/// The one place that turns personal data into what may be stored or shown: keyed hashes
/// (HMAC-SHA-256 under the server secret) for lookups, and masked forms for display.
///
/// The secret has versions (`ServerSecretRing`). A hash under version 1 is HMAC under its secret;
/// a hash under a later version is HMAC under that version's secret of the hash under the version
/// before it. So a stored hash moves to the next version without the plain ID number or name
/// (`SecretRekeying`), and while rows are moved, lookups try the current version, then the previous.
public struct PersonalData: Sendable {
    public let ring: ServerSecretRing

    public init(ring: ServerSecretRing) {
        self.ring = ring
    }

    /// One version, for tests and tools that need no rotation.
    public init(secret: SymmetricKey) {
        self.init(ring: ServerSecretRing([ServerSecretVersion(number: 1, key: secret, activatesAt: 0)]))
    }

    /// The version new hashes are made with.
    public var currentVersion: Int16 { ring.snapshot().current.number }

    /// The subject key: HMAC-SHA-256 of the normalized 18-character number (under version 1;
    /// see the type's comment for later versions). 32 bytes. It finds rows stored under the
    /// previous version too (`SubjectKey.lookupBytes`).
    public func subjectKey(_ id: IdentityNumber) -> SubjectKey {
        let snapshot = ring.snapshot()
        let first = firstSubjectKey(id, snapshot)
        return SubjectKey(bytes: snapshot.current(first), version: snapshot.current.number, lookupBytes: snapshot.candidates(first))
    }

    /// The subject key that finds the person's rows under every version held, for records that
    /// are never moved to a newer version (the append-only ledger).
    public func subjectKeyUnderEveryVersion(_ id: IdentityNumber) -> SubjectKey {
        let snapshot = ring.snapshot()
        let first = firstSubjectKey(id, snapshot)
        return SubjectKey(bytes: snapshot.current(first), version: snapshot.current.number, lookupBytes: snapshot.chain(first).reversed())
    }

    /// A keyed hash of a name after whitespace normalization, so that a declared name can be
    /// compared with the recorded one without storing either.
    public func nameHash(_ name: String) -> [UInt8] {
        keyedHash(domain: "name", Array(Self.normalizeName(name).utf8))
    }

    /// The name's keyed hash under `version` (a subject's record says which one it holds); nil
    /// for a version this instance does not hold.
    public func nameHash(_ name: String, version: Int16) -> [UInt8]? {
        ring.snapshot().hash(keyedHashUnderFirst(domain: "name", Array(Self.normalizeName(name).utf8)), under: version)
    }

    /// 32 bytes derived from the first version of the server secret for `purpose`, for public
    /// values that must stay the same on every start and across rotations without being stored
    /// (the key of Passby's own web client, which every visitor of `/helper` receives anyway).
    public func derivedSecret(for purpose: String) -> [UInt8] {
        keyedHashUnderFirst(domain: "derived:" + purpose, [])
    }

    /// 32 bytes derived for `purpose` from the current version first, then from the others a
    /// lookup tries: a key that seals with the first and opens with any (a rotation does not
    /// spoil what was sealed just before it, and a leaked earlier version seals nothing new).
    public func derivedSecrets(for purpose: String) -> [[UInt8]] {
        keyedHashCandidates(domain: "derived:" + purpose, [])
    }

    /// HMAC-SHA-256 of `bytes` under the current version, separated by `domain` from every other use.
    func keyedHash(domain: String, _ bytes: [UInt8]) -> [UInt8] {
        ring.snapshot().current(keyedHashUnderFirst(domain: domain, bytes))
    }

    /// The keyed hash as a lookup tries it: current version first, then the previous one.
    func keyedHashCandidates(domain: String, _ bytes: [UInt8]) -> [[UInt8]] {
        ring.snapshot().candidates(keyedHashUnderFirst(domain: domain, bytes))
    }

    private func keyedHashUnderFirst(domain: String, _ bytes: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(domain.utf8) + [0] + bytes, using: ring.snapshot().first.key))
    }

    private func firstSubjectKey(_ id: IdentityNumber, _ snapshot: ServerSecretRing.Snapshot) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(id.normalized.utf8), using: snapshot.first.key))
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

/// The keyed hash that stands for a person everywhere in storage.
///
/// Equality is the bytes. A key made from an ID number also knows the server-secret version it
/// was made under, and the same person's hashes under the other versions a lookup tries
/// (`lookupBytes`): a row stored under the previous version is still found, and `matches` says
/// whether a stored key is this person's.
public struct SubjectKey: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]
    /// The version `bytes` was made under: what a row written with this key records.
    public let version: Int16
    /// `bytes` first, then the person's hash under each other version a lookup tries.
    public let lookupBytes: [[UInt8]]

    /// A key as stored, or under the only version there is.
    public init(bytes: [UInt8]) {
        self.init(bytes: bytes, version: 1, lookupBytes: [bytes])
    }

    /// A key made now, under `version`, that also finds the same person's rows under `lookupBytes`.
    public init(bytes: [UInt8], version: Int16, lookupBytes: [[UInt8]]) {
        self.bytes = bytes
        self.version = version
        self.lookupBytes = [bytes] + lookupBytes.filter { $0 != bytes }
    }

    /// Whether `stored` is this person's key under one of the versions a lookup tries.
    public func matches(_ stored: SubjectKey?) -> Bool {
        guard let stored else { return false }
        return lookupBytes.contains(stored.bytes)
    }

    public static func == (lhs: SubjectKey, rhs: SubjectKey) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }

    /// Hex, for logs: it reveals nothing without the server secret.
    public var description: String { Hex.encode(bytes) }
}
