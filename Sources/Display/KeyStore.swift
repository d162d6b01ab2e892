import Foundation
import Synchronization
import SystemPackage

/// A signing key with its life: when it was made and, once retired or revoked, when.
public struct ManagedKey: Sendable {
    public let key: SigningKey
    public let created: Int64
    public let retired: Int64?
    /// Order of creation; decides which key is newest when two were made in the same second.
    public let sequence: Int
    /// Set when the key was revoked (after a compromise): from then on it neither signs nor
    /// verifies, and is no longer published, whatever codes it signed.
    public let revoked: Int64?

    public init(key: SigningKey, created: Int64, retired: Int64?, sequence: Int, revoked: Int64? = nil) {
        self.key = key
        self.created = created
        self.retired = retired
        self.sequence = sequence
        self.revoked = revoked
    }

    public var kidString: String { Base64URL.encode(key.kid) }

    /// The key as its JSON record (`alg`, `private_key`, `created`, `retired`, `sequence`, `revoked`):
    /// a key file's contents, or what the database stores sealed.
    public func encoded() -> Data {
        let file = KeyStore.File(
            alg: key.algorithm, privateKey: Base64URL.encode(key.rawPrivateKey), created: created, retired: retired, sequence: sequence,
            revoked: revoked)
        return (try? JSONEncoder().encode(file)) ?? Data()
    }

    /// A key from its JSON record; nil when the record is damaged.
    public static func decoded(_ data: Data) -> ManagedKey? {
        guard let file = try? JSONDecoder().decode(KeyStore.File.self, from: data), let raw = Base64URL.decode(file.privateKey),
            let key = try? SigningKey(algorithm: file.alg, rawPrivateKey: raw)
        else { return nil }
        return ManagedKey(key: key, created: file.created, retired: file.retired, sequence: file.sequence, revoked: file.revoked)
    }
}

/// What rotating, retiring and revoking do to a set of keys, wherever the keys are kept: each
/// returns the keys that changed, to be written back.
public enum KeyLifecycle {
    /// Oldest first: by sequence, then creation, then kid.
    public static func ordered(_ keys: [ManagedKey]) -> [ManagedKey] {
        keys.sorted { ($0.sequence, $0.created, $0.kidString) < ($1.sequence, $1.created, $1.kidString) }
    }

    /// A new key, newer than every other, which from now on signs.
    public static func rotate(_ keys: [ManagedKey], algorithm: CodeAlgorithm, now: Int64) -> ManagedKey {
        ManagedKey(key: SigningKey.generate(algorithm), created: now, retired: nil, sequence: (keys.map(\.sequence).max() ?? 0) + 1)
    }

    /// The key that signs, if any: the newest neither retired nor revoked.
    public static func active(_ keys: [ManagedKey]) -> ManagedKey? {
        ordered(keys).last(where: { $0.retired == nil && $0.revoked == nil })
    }

    /// The key, retired: it stops signing and keeps verifying until its codes have expired.
    public static func retire(_ keys: [ManagedKey], kid: String, now: Int64) throws -> ManagedKey {
        guard let key = keys.first(where: { $0.kidString == kid }) else { throw KeyStore.KeyStoreError.unknownKey(kid) }
        guard key.retired == nil else { throw KeyStore.KeyStoreError.alreadyRetired(kid) }
        guard keys.contains(where: { $0.retired == nil && $0.kidString != kid }) else { throw KeyStore.KeyStoreError.lastActiveKey }
        return ManagedKey(key: key.key, created: key.created, retired: now, sequence: key.sequence, revoked: key.revoked)
    }

    /// The key, revoked, and a new key of its algorithm when it was the one that signed.
    public static func revoke(_ keys: [ManagedKey], kid: String, now: Int64) throws -> (revoked: ManagedKey, replacement: ManagedKey?) {
        guard let key = keys.first(where: { $0.kidString == kid }) else { throw KeyStore.KeyStoreError.unknownKey(kid) }
        guard key.revoked == nil else { throw KeyStore.KeyStoreError.alreadyRevoked(kid) }
        let replacement =
            keys.contains(where: { $0.retired == nil && $0.revoked == nil && $0.kidString != kid })
            ? nil : rotate(keys, algorithm: key.key.algorithm, now: now)
        return (ManagedKey(key: key.key, created: key.created, retired: key.retired ?? now, sequence: key.sequence, revoked: now), replacement)
    }
}

/// Code-signing keys in a directory, one JSON file each, readable by their owner only (0600).
///
/// The newest key that is not retired signs. Retired keys keep verifying, and stay published,
/// until every code they signed has expired (`maxCodeLifetime` after retirement).
public struct KeyStore: Sendable {
    public let directory: URL

    public enum KeyStoreError: Error, CustomStringConvertible {
        case unknownKey(String)
        case lastActiveKey
        case alreadyRetired(String)
        case alreadyRevoked(String)
        case damaged(String)

        public var description: String {
            switch self {
            case .unknownKey(let kid): "no key with kid \(kid)"
            case .lastActiveKey: "that is the only active key; rotate first so that something can sign"
            case .alreadyRetired(let kid): "key \(kid) is retired already"
            case .alreadyRevoked(let kid): "key \(kid) is revoked already"
            case .damaged(let file): "the key file \(file) is damaged"
            }
        }
    }

    struct File: Codable {
        var alg: CodeAlgorithm
        var privateKey: String
        var created: Int64
        var retired: Int64?
        var sequence: Int
        var revoked: Int64?

        enum CodingKeys: String, CodingKey {
            case alg
            case privateKey = "private_key"
            case created, retired, sequence, revoked
        }
    }

    public init(directory: URL) { self.directory = directory }

    /// Every key, oldest first.
    public func load() throws -> [ManagedKey] {
        let fm = FileManager.default
        guard fm.fileExists(atPath: directory.path) else { return [] }
        let names = try fm.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        return KeyLifecycle.ordered(
            try names.map { name in
                guard let data = fm.contents(atPath: directory.appendingPathComponent(name).path), let key = ManagedKey.decoded(data) else {
                    throw KeyStoreError.damaged(name)
                }
                return key
            })
    }

    /// Makes a new key the active one. The old ones keep verifying.
    @discardableResult
    public func rotate(_ algorithm: CodeAlgorithm = .edDSA, now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> ManagedKey {
        let managed = KeyLifecycle.rotate(try load(), algorithm: algorithm, now: now)
        try write(managed)
        return managed
    }

    /// Creates the first key unless there is an active one.
    @discardableResult
    public func ensureActiveKey(_ algorithm: CodeAlgorithm = .edDSA) throws -> ManagedKey {
        if let active = try load().last(where: { $0.retired == nil }) { return active }
        return try rotate(algorithm)
    }

    /// Stops a key from signing; it keeps verifying until its codes have expired.
    @discardableResult
    public func retire(kid: String, now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> ManagedKey {
        let retired = try KeyLifecycle.retire(try load(), kid: kid, now: now)
        try write(retired)
        return retired
    }

    /// Revokes a key after a compromise: it stops signing and verifying at once and is no longer
    /// published, so every code it signed, printed cards included, fails as signed by an unknown
    /// key. When it was the key that signs, a new key of the same algorithm takes over first.
    /// Returns the revoked key and the new one, if one was made.
    @discardableResult
    public func revoke(kid: String, now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> (revoked: ManagedKey, replacement: ManagedKey?) {
        let outcome = try KeyLifecycle.revoke(try load(), kid: kid, now: now)
        // The replacement first: at no moment is there no key to sign with.
        if let replacement = outcome.replacement { try write(replacement) }
        try write(outcome.revoked)
        return outcome
    }

    func write(_ managed: ManagedKey) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = managed.encoded()
        let final = directory.appendingPathComponent("\(managed.kidString).json")
        let temporary = directory.appendingPathComponent(".\(managed.kidString).\(UUID().uuidString).tmp")
        // Created 0600 from its first byte, never a readable file chmodded afterwards.
        let descriptor = try FileDescriptor.open(
            FilePath(temporary.path), .writeOnly, options: [.create, .exclusiveCreate], permissions: [.ownerReadWrite])
        try descriptor.closeAfter { _ = try descriptor.writeAll(data) }
        // rename() is atomic: a reader sees the old file or the new one, never half of one.
        guard rename(temporary.path, final.path) == 0 else {
            try? fm.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown)
        }
    }
}

/// The keys in force at one moment: who signs, who verifies, what is published.
public struct KeyRing: Sendable {
    public let signing: SigningKey?
    public let verification: [[UInt8]: VerificationKey]
    public let published: JWKSet

    /// Builds the ring from the stored keys; a retired key stays while its codes may still be
    /// valid, a revoked one never.
    public init(keys: [ManagedKey], now: Int64, maxCodeLifetime: Int64) {
        let trusted = keys.filter { $0.revoked == nil }
        let live = trusted.filter { $0.retired.map { now < $0 + maxCodeLifetime } ?? true }
        signing = trusted.last(where: { $0.retired == nil })?.key
        verification = Dictionary(live.map { ($0.key.kid, $0.key.publicKey) }, uniquingKeysWith: { first, _ in first })
        published = JWKSet(keys: live.map { JWK($0.key.publicKey) })
    }
}

/// Serves the current key ring. Its keys come from a key directory, reloaded at most every
/// `refreshInterval` seconds, or are handed to it (`update`) by whoever watches where they are
/// kept; either way a rotation reaches a running server without a restart. The ring is rebuilt
/// as often, so a retired key leaves it when its codes have expired.
public final class LiveKeyRing: Sendable {
    private let store: KeyStore?
    private let maxCodeLifetime: Int64
    private let refreshInterval: Double
    private let state: Mutex<(keys: [ManagedKey], ring: KeyRing, builtAt: Double)>

    public init(store: KeyStore, maxCodeLifetime: Int64, refreshInterval: Double = 2) throws {
        self.store = store
        self.maxCodeLifetime = maxCodeLifetime
        self.refreshInterval = refreshInterval
        let now = Date().timeIntervalSince1970
        let keys = try store.load()
        state = Mutex((keys, KeyRing(keys: keys, now: Int64(now), maxCodeLifetime: maxCodeLifetime), now))
    }

    /// A ring over keys kept elsewhere; `update` hands it newer ones.
    public init(keys: [ManagedKey], maxCodeLifetime: Int64, refreshInterval: Double = 2) {
        self.store = nil
        self.maxCodeLifetime = maxCodeLifetime
        self.refreshInterval = refreshInterval
        let now = Date().timeIntervalSince1970
        state = Mutex((keys, KeyRing(keys: keys, now: Int64(now), maxCodeLifetime: maxCodeLifetime), now))
    }

    /// Replaces the keys; the ring is rebuilt at once.
    public func update(_ keys: [ManagedKey]) {
        let now = Date().timeIntervalSince1970
        let ring = KeyRing(keys: keys, now: Int64(now), maxCodeLifetime: maxCodeLifetime)
        state.withLock { $0 = (keys, ring, now) }
    }

    /// The ring, rebuilt if it is older than the refresh interval (from the directory, when there
    /// is one). A failed reload keeps the last good keys.
    public var current: KeyRing {
        let now = Date().timeIntervalSince1970
        if let fresh = state.withLock({ now - $0.builtAt < refreshInterval ? $0.ring : nil }) { return fresh }
        let reloaded = store.flatMap { try? $0.load() }
        return state.withLock { state in
            let keys = reloaded ?? state.keys
            state = (keys, KeyRing(keys: keys, now: Int64(now), maxCodeLifetime: maxCodeLifetime), now)
            return state.ring
        }
    }
}
