import Consent
import Display
import Foundation
import Logging
import PostgresNIO
import Testing
import ThrowawayPostgres

@testable import LookupAPI

/// Code-signing keys shared through the database (issue 16): imported once, changed by the
/// operator through the owner's connection, and followed by every running instance.
@Suite("Shared code-signing keys", .timeLimit(.minutes(5)))
struct SharedKeysTests {
    static let kek = KeyEncryptionKey(bytes: Array(repeating: 0x42, count: 32))
    let logger = Logger(label: "test")

    /// Runs `body` with the owner's code keys, a pool as the service's role, and the owner's pool.
    func withDatabase(_ body: (SharedCodeKeys, PostgresClient, PostgresClient) async throws -> Void) async throws {
        let database = try await ThrowawayDatabase.create()
        let owner = PostgresClient(configuration: database, backgroundLogger: logger)
        let service = PostgresClient(configuration: try await database.asApplicationRole(), backgroundLogger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await owner.run() }
            group.addTask { await service.run() }
            defer { group.cancelAll() }
            try await body(
                SharedCodeKeys(vault: KeyVault(store: PostgresKeyMaterialStore(client: owner.timed, logger: logger), kek: Self.kek)), service,
                owner)
        }
    }

    @Test("an empty database imports an older key directory once; later directories are ignored")
    func importsOnce() async throws {
        try await withDatabase { keys, _, _ in
            let directory = KeyStore(directory: TestDirectory.path("keys"))
            let old = try directory.rotate(.es256)
            let imported = try await keys.ensureSigningKey(importing: directory)
            #expect(imported.map(\.kidString) == [old.kidString])
            #expect(KeyLifecycle.active(imported)?.key.algorithm == .es256)
            let other = KeyStore(directory: TestDirectory.path("keys"))
            try other.rotate()
            #expect(try await keys.ensureSigningKey(importing: other).map(\.kidString) == [old.kidString])
        }
    }

    @Test("an empty database without key files gets one EdDSA key; rotate, retire and revoke change what signs")
    func lifecycle() async throws {
        try await withDatabase { keys, _, _ in
            let first = try #require(KeyLifecycle.active(try await keys.ensureSigningKey(importing: KeyStore(directory: TestDirectory.path("none")))))
            #expect(first.key.algorithm == .edDSA)
            let second = try await keys.rotate(.es256)
            #expect(KeyLifecycle.active(try await keys.load())?.kidString == second.kidString)
            _ = try await keys.retire(kid: first.kidString)
            await #expect(throws: KeyStore.KeyStoreError.self) { try await keys.retire(kid: first.kidString) }
            let outcome = try await keys.revoke(kid: second.kidString)
            let replacement = try #require(outcome.replacement, "the key that signed was revoked: a new one takes over")
            let loaded = try await keys.load()
            #expect(KeyLifecycle.active(loaded)?.kidString == replacement.kidString)
            #expect(loaded.count == 3 && loaded.first { $0.kidString == second.kidString }?.revoked != nil)
        }
    }

    @Test("a running instance follows a rotation on a notice, without waiting for its poll")
    func watcherFollows() async throws {
        try await withDatabase { keys, service, owner in
            let initial = try await keys.ensureSigningKey(importing: KeyStore(directory: TestDirectory.path("none")))
            let ring = LiveKeyRing(keys: initial, maxCodeLifetime: PassbyConfiguration().maxCodeLifetime, refreshInterval: 0)
            // The instance reads through the service's role; its poll is far off, so only the notice can be in time.
            let reader = SharedCodeKeys(vault: KeyVault(store: PostgresKeyMaterialStore(client: service.timed, logger: logger), kek: Self.kek))
            let watcher = KeyMaterialWatcher(client: service, codeKeys: reader, ring: ring, pollInterval: .seconds(600), logger: logger)
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await watcher.run() }
                defer { group.cancelAll() }
                // Subscribed once the service's connection has sent its LISTEN.
                let subscribed = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < subscribed {
                    let rows = try await owner.query(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%passby_key_material%'", logger: logger)
                    var listening: Int64 = 0
                    for try await count in rows.decode(Int64.self) { listening = count }
                    if listening > 0 { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let rotated = try await keys.rotate(.es256)
                let deadline = ContinuousClock.now + .seconds(2)
                while ContinuousClock.now < deadline, ring.current.signing?.kid != rotated.key.kid { try await Task.sleep(for: .milliseconds(20)) }
                #expect(ring.current.signing?.kid == rotated.key.kid)
                #expect(ring.current.published.keys.count == 2)
            }
        }
    }

    @Test("a running instance reads a new server-secret version through the service's role, with the code keys")
    func watcherReadsSecretVersions() async throws {
        try await withDatabase { keys, service, owner in
            let initial = try await keys.ensureSigningKey(importing: KeyStore(directory: TestDirectory.path("none")))
            let ownerVault = KeyVault(store: PostgresKeyMaterialStore(client: owner.timed, logger: logger), kek: Self.kek)
            let versions = try await ServerSecret.versions(from: ownerVault, dataDirectory: TestDirectory.path("data"), environment: [:])
            let secret = ServerSecretRing(versions)
            let reader = SharedCodeKeys(vault: KeyVault(store: PostgresKeyMaterialStore(client: service.timed, logger: logger), kek: Self.kek))
            let watcher = KeyMaterialWatcher(
                client: service, codeKeys: reader, ring: LiveKeyRing(keys: initial, maxCodeLifetime: 60, refreshInterval: 0),
                serverSecret: secret, logger: logger)
            try await ServerSecret.addVersion(to: ownerVault, after: versions, now: Int64(Date().timeIntervalSince1970), delay: 15)
            await watcher.reload()
            #expect(secret.snapshot().versions.map(\.number) == [1, 2])
            #expect(secret.snapshot().current.number == 1, "in force only after its delay")
        }
    }

    @Test("a read that began before a newer one was applied is dropped, so keys never go back")
    func readOrder() {
        let order = ReadOrder()
        var applied: [Int] = []
        let slow = order.start()
        let fast = order.start()
        order.applyIfNewest(fast) { applied.append(fast) }
        order.applyIfNewest(slow) { applied.append(slow) }
        #expect(applied == [fast])
        let later = order.start()
        order.applyIfNewest(later) { applied.append(later) }
        #expect(applied == [fast, later])
    }
}
