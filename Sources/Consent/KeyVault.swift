import Foundation

/// Where sealed key material is kept, by name: a table every instance on one database reads.
/// Only sealed bytes pass through it; it never sees a plain key.
public protocol KeyMaterialStore: Sendable {
    /// The sealed entries whose names start with `prefix`.
    func entries(prefix: String) async throws -> [String: [UInt8]]
    /// Stores `sealed` under `name` unless the name is taken, and returns what the name holds
    /// afterwards: of two instances creating one secret at once, both get the first one stored.
    func insertIfAbsent(name: String, sealed: [UInt8]) async throws -> [UInt8]
    /// Stores `sealed` under `name`, replacing what was there.
    func put(name: String, sealed: [UInt8]) async throws
    /// Whether the database already holds records (subjects or ledger entries) that keyed hashes
    /// or signed heads were made for: then a missing secret must not be made anew.
    func holdsRecords() async throws -> Bool
}

/// Key material shared by every instance on one database, sealed under the key-encryption key.
public struct KeyVault: Sendable {
    public enum VaultError: Error, CustomStringConvertible {
        /// An entry that this key-encryption key did not seal, or that was moved from another name.
        case cannotOpen(String)
        /// A secret the database's records depend on is missing.
        case missing(String)

        public var description: String {
            switch self {
            case .cannotOpen(let name):
                "the database's key material \"\(name)\" does not open with this key-encryption key: every instance on one database needs the same PASSBY_KEK"
            case .missing(let name):
                """
                the database holds records but no key material "\(name)": a new one would orphan them. Restore key_material \
                (and the KEK) from the backup that goes with this database, or start once with the data directory that holds the \
                old key file so that it is imported
                """
            }
        }
    }

    public let store: any KeyMaterialStore
    let kek: KeyEncryptionKey

    public init(store: any KeyMaterialStore, kek: KeyEncryptionKey) {
        self.store = store
        self.kek = kek
    }

    /// The secret `name`. When the database has none yet, it stores the bytes `existing` gives
    /// (a key file being imported), else `create`'s; whichever instance stores first wins. With
    /// `recordsDepend`, a new secret is made only for a database that holds no records yet: one
    /// restored without its key material must not silently get another secret.
    public func secret(
        _ name: String, existing: () throws -> [UInt8]?, create: () -> [UInt8], recordsDepend: Bool = false
    ) async throws -> [UInt8] {
        if let sealed = try await store.entries(prefix: name)[name] { return try open(sealed, name: name) }
        let imported = try existing()
        if imported == nil, recordsDepend, try await store.holdsRecords() { throw VaultError.missing(name) }
        let bytes = try imported ?? create()
        return try open(try await store.insertIfAbsent(name: name, sealed: kek.seal(bytes, name: name)), name: name)
    }

    /// Every entry whose name starts with `prefix`, opened.
    public func opened(prefix: String) async throws -> [String: [UInt8]] {
        var opened: [String: [UInt8]] = [:]
        for (name, sealed) in try await store.entries(prefix: prefix) { opened[name] = try open(sealed, name: name) }
        return opened
    }

    /// Stores `bytes` under `name` unless the name is taken.
    public func add(_ bytes: [UInt8], name: String) async throws {
        _ = try await store.insertIfAbsent(name: name, sealed: kek.seal(bytes, name: name))
    }

    /// Stores `bytes` under `name`, replacing what was there.
    public func put(_ bytes: [UInt8], name: String) async throws {
        try await store.put(name: name, sealed: kek.seal(bytes, name: name))
    }

    func open(_ sealed: [UInt8], name: String) throws -> [UInt8] {
        guard let plain = kek.open(sealed, name: name) else { throw VaultError.cannotOpen(name) }
        return plain
    }

    /// `count` random bytes, for a new secret.
    public static func random(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
