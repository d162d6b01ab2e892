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
        return try names.map { name in
            let url = directory.appendingPathComponent(name)
            guard let data = fm.contents(atPath: url.path), let file = try? JSONDecoder().decode(File.self, from: data),
                let raw = Base64URL.decode(file.privateKey), let key = try? SigningKey(algorithm: file.alg, rawPrivateKey: raw)
            else { throw KeyStoreError.damaged(name) }
            return ManagedKey(key: key, created: file.created, retired: file.retired, sequence: file.sequence, revoked: file.revoked)
        }.sorted { ($0.sequence, $0.created, $0.kidString) < ($1.sequence, $1.created, $1.kidString) }
    }

    /// Makes a new key the active one. The old ones keep verifying.
    @discardableResult
    public func rotate(_ algorithm: CodeAlgorithm = .edDSA, now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> ManagedKey {
        let sequence = (try load().map(\.sequence).max() ?? 0) + 1
        let managed = ManagedKey(key: SigningKey.generate(algorithm), created: now, retired: nil, sequence: sequence)
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
        let keys = try load()
        guard let key = keys.first(where: { $0.kidString == kid }) else { throw KeyStoreError.unknownKey(kid) }
        guard key.retired == nil else { throw KeyStoreError.alreadyRetired(kid) }
        guard keys.contains(where: { $0.retired == nil && $0.kidString != kid }) else { throw KeyStoreError.lastActiveKey }
        let retired = ManagedKey(key: key.key, created: key.created, retired: now, sequence: key.sequence, revoked: key.revoked)
        try write(retired)
        return retired
    }

    /// Revokes a key after a compromise: it stops signing and verifying at once and is no longer
    /// published, so every code it signed, printed cards included, fails as signed by an unknown
    /// key. When it was the key that signs, a new key of the same algorithm takes over first.
    /// Returns the revoked key and the new one, if one was made.
    @discardableResult
    public func revoke(kid: String, now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> (revoked: ManagedKey, replacement: ManagedKey?) {
        let keys = try load()
        guard let key = keys.first(where: { $0.kidString == kid }) else { throw KeyStoreError.unknownKey(kid) }
        guard key.revoked == nil else { throw KeyStoreError.alreadyRevoked(kid) }
        var replacement: ManagedKey?
        if !keys.contains(where: { $0.retired == nil && $0.revoked == nil && $0.kidString != kid }) {
            replacement = try rotate(key.key.algorithm, now: now)
        }
        let revoked = ManagedKey(key: key.key, created: key.created, retired: key.retired ?? now, sequence: key.sequence, revoked: now)
        try write(revoked)
        return (revoked, replacement)
    }

    func write(_ managed: ManagedKey) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let file = File(
            alg: managed.key.algorithm, privateKey: Base64URL.encode(managed.key.rawPrivateKey),
            created: managed.created, retired: managed.retired, sequence: managed.sequence, revoked: managed.revoked)
        let data = try JSONEncoder().encode(file)
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

/// Serves the current key ring, reloading it from the store at most every `refreshInterval`
/// seconds, so that a rotation by the CLI reaches a running server without a restart.
public final class LiveKeyRing: Sendable {
    private let store: KeyStore
    private let maxCodeLifetime: Int64
    private let refreshInterval: Double
    private let state: Mutex<(ring: KeyRing, loadedAt: Double)>

    public init(store: KeyStore, maxCodeLifetime: Int64, refreshInterval: Double = 2) throws {
        self.store = store
        self.maxCodeLifetime = maxCodeLifetime
        self.refreshInterval = refreshInterval
        let now = Date().timeIntervalSince1970
        state = Mutex((KeyRing(keys: try store.load(), now: Int64(now), maxCodeLifetime: maxCodeLifetime), now))
    }

    /// The ring, reloaded if it is older than the refresh interval. A failed reload keeps the last good ring.
    public var current: KeyRing {
        let now = Date().timeIntervalSince1970
        if let fresh = state.withLock({ now - $0.loadedAt < refreshInterval ? $0.ring : nil }) { return fresh }
        let ring = (try? store.load()).map { KeyRing(keys: $0, now: Int64(now), maxCodeLifetime: maxCodeLifetime) }
        return state.withLock { state in
            if let ring { state.ring = ring }
            state.loadedAt = now
            return state.ring
        }
    }
}
