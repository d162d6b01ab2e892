import Foundation
import Synchronization

/// Authenticated API clients, kept in memory so that a request costs no database round trip for
/// its key.
///
/// Revocation must still take effect at once, so the cache is used only while
/// `APIClientRevocationListener` is subscribed to the database's revocation notices: each notice
/// empties it, and so does losing the subscription. Entries also age out after `maxAge`.
final class APIClientCache: Sendable {
    private struct State {
        var listening = false
        /// Changes on every revocation notice or subscription change.
        var generation = 0
        var entries: [[UInt8]: (client: APIClient, cachedAt: ContinuousClock.Instant)] = [:]
    }

    private let state = Mutex(State())
    let maxAge: Duration
    let capacity: Int

    init(maxAge: Duration = .seconds(60), capacity: Int = 10_000) {
        self.maxAge = maxAge
        self.capacity = capacity
    }

    func client(keyHash: [UInt8]) -> APIClient? {
        state.withLock { state in
            guard state.listening, let entry = state.entries[keyHash] else { return nil }
            guard entry.cachedAt.duration(to: .now) < maxAge else {
                state.entries[keyHash] = nil
                return nil
            }
            return entry.client
        }
    }

    /// Remembers a client read from storage; `generation` is what `generation()` said before
    /// the read, so a revocation that arrived during the read is not undone.
    func store(_ client: APIClient, keyHash: [UInt8], readSince generation: Int) {
        state.withLock { state in
            guard state.listening, generation == state.generation else { return }
            if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[keyHash] = (client, .now)
        }
    }

    /// Changes on every revocation notice or subscription change.
    func generation() -> Int { state.withLock { $0.generation } }

    /// Drops every entry (a client was revoked, or the subscription changed).
    func invalidate(listening: Bool? = nil) {
        state.withLock { state in
            state.generation += 1
            state.entries.removeAll(keepingCapacity: true)
            if let listening { state.listening = listening }
        }
    }

    var isListening: Bool { state.withLock { $0.listening } }
}

/// A repository that answers key look-ups from `APIClientCache` when it can.
struct CachedAPIClientRepository: APIClientRepository {
    let base: any APIClientRepository
    let cache: APIClientCache

    func create(name: String, role: Role) async throws -> (client: APIClient, key: String) {
        try await base.create(name: name, role: role)
    }

    func client(keyHash: [UInt8]) async throws -> APIClient? {
        if let cached = cache.client(keyHash: keyHash) { return cached }
        let generation = cache.generation()
        guard let client = try await base.client(keyHash: keyHash) else { return nil }
        cache.store(client, keyHash: keyHash, readSince: generation)
        return client
    }

    func register(name: String, role: Role, key: String) async throws -> APIClient {
        try await base.register(name: name, role: role, key: key)
    }

    func list() async throws -> [APIClient] { try await base.list() }

    func revoke(id: UUID) async throws -> Bool {
        defer { cache.invalidate() }
        return try await base.revoke(id: id)
    }
}
