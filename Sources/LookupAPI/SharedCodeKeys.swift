import Consent
import Display
import Foundation

/// The code-signing keys every instance on one database shares: one sealed entry each,
/// `code-key:<kid>`, in the database's key material. `passby keys` changes them through the
/// owner's connection; each running instance picks the change up (`KeyMaterialWatcher`).
struct SharedCodeKeys: Sendable {
    static let prefix = "code-key:"
    let vault: KeyVault

    /// Every key, oldest first.
    func load() async throws -> [ManagedKey] {
        KeyLifecycle.ordered(
            try await vault.opened(prefix: Self.prefix).map { name, bytes in
                guard let key = ManagedKey.decoded(Data(bytes)) else { throw KeyStore.KeyStoreError.damaged(name) }
                return key
            })
    }

    /// The keys, with one that signs: an empty database first imports the keys of an older key
    /// directory, and makes a new key when there were none.
    func ensureSigningKey(importing directory: KeyStore, now: Int64 = Int64(Date().timeIntervalSince1970)) async throws -> [ManagedKey] {
        var keys = try await load()
        if keys.isEmpty {
            for key in try directory.load() { try await vault.add(Array(key.encoded()), name: Self.name(key)) }
            keys = try await load()
        }
        if KeyLifecycle.active(keys) == nil {
            try await write(KeyLifecycle.rotate(keys, algorithm: .edDSA, now: now))
            keys = try await load()
        }
        return keys
    }

    /// Makes a new key the one that signs; older keys keep verifying.
    func rotate(_ algorithm: CodeAlgorithm, now: Int64 = Int64(Date().timeIntervalSince1970)) async throws -> ManagedKey {
        let key = KeyLifecycle.rotate(try await load(), algorithm: algorithm, now: now)
        try await write(key)
        return key
    }

    /// Stops a key from signing; it keeps verifying until its codes have expired.
    func retire(kid: String, now: Int64 = Int64(Date().timeIntervalSince1970)) async throws -> ManagedKey {
        let retired = try KeyLifecycle.retire(try await load(), kid: kid, now: now)
        try await write(retired)
        return retired
    }

    /// Revokes a key at once; a new key takes over if it was the one that signed.
    func revoke(kid: String, now: Int64 = Int64(Date().timeIntervalSince1970)) async throws -> (revoked: ManagedKey, replacement: ManagedKey?) {
        let outcome = try KeyLifecycle.revoke(try await load(), kid: kid, now: now)
        // The replacement first: at no moment is there no key to sign with.
        if let replacement = outcome.replacement { try await write(replacement) }
        try await write(outcome.revoked)
        return outcome
    }

    func write(_ key: ManagedKey) async throws {
        try await vault.put(Array(key.encoded()), name: Self.name(key))
    }

    static func name(_ key: ManagedKey) -> String { prefix + key.kidString }
}
