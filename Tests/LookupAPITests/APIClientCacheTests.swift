import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Testing

@testable import LookupAPI

@Suite("API client keys: the cache and its revocation notices", .timeLimit(.minutes(5)))
struct APIClientCacheTests {
    @Test("a key revoked in SQL by another process stops working once the notice arrives, within the 2 s every instance promises")
    func revocationByAnotherProcess() async throws {
        let (components, owner) = try await TestApp.postgres()
        let cache = try #require(((components.clients as? OperatorClientWrites)?.service as? CachedAPIClientRepository)?.cache)
        try await buildApplication(components).test(.router) { client in
            let gateway = try await components.clients.create(name: "g", role: .gateway)
            // The listener subscribes as the services start.
            for _ in 0..<100 where !cache.isListening { try await Task.sleep(for: .milliseconds(20)) }
            #expect(cache.isListening)
            #expect(try await client.send(.put, "/v1/health-statuses", key: gateway.key, body: "[]").status == .ok)
            #expect(cache.client(keyHash: ClientKey.hash(gateway.key)) != nil, "the key is answered from the cache now")

            // As `passby clients revoke` in another process would: straight in the table.
            try await owner.query("UPDATE api_clients SET revoked_at = now() WHERE id = \(gateway.client.id)", logger: Logger(label: "test"))
            let clock = ContinuousClock()
            let revokedAt = clock.now
            var status = HTTPResponse.Status.ok
            while status == .ok, revokedAt.duration(to: clock.now) < .seconds(5) {
                status = try await client.send(.put, "/v1/health-statuses", key: gateway.key, body: "[]").status
                if status == .ok { try await Task.sleep(for: .milliseconds(5)) }
            }
            #expect(status == .unauthorized)
            // The promise (README) is 2 s; a notice takes milliseconds, so this fails only if it is lost.
            #expect(revokedAt.duration(to: clock.now) < .seconds(2))
        }
    }

    @Test("without a subscription nothing is cached, and a read that raced a revocation is not kept")
    func cacheOnlyWhileListening() throws {
        let cache = APIClientCache()
        let client = APIClient(id: UUID(), name: "g", role: .gateway, createdAt: Date())
        let hash = ClientKey.hash("pbk_example")
        cache.store(client, keyHash: hash, readSince: cache.generation())
        #expect(cache.client(keyHash: hash) == nil)

        cache.invalidate(listening: true)
        let before = cache.generation()
        cache.invalidate()  // a revocation notice arrives while the read is in flight
        cache.store(client, keyHash: hash, readSince: before)
        #expect(cache.client(keyHash: hash) == nil)
        cache.store(client, keyHash: hash, readSince: cache.generation())
        #expect(cache.client(keyHash: hash) == client)

        cache.invalidate(listening: false)
        #expect(cache.client(keyHash: hash) == nil)
    }

    @Test("entries age out")
    func maxAge() async throws {
        let cache = APIClientCache(maxAge: .milliseconds(50))
        cache.invalidate(listening: true)
        let client = APIClient(id: UUID(), name: "g", role: .gateway, createdAt: Date())
        cache.store(client, keyHash: [1], readSince: cache.generation())
        #expect(cache.client(keyHash: [1]) == client)
        try await Task.sleep(for: .milliseconds(80))
        #expect(cache.client(keyHash: [1]) == nil)
    }
}
