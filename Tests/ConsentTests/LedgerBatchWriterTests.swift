import Consent
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing
import ThrowawayPostgres

/// A ledger that keeps what it is given, in batches, and can be told to fail.
final class BatchRecordingStore: LedgerRecorder {
    let batches = Mutex<[[LedgerRecord]]>([])
    let failing = Atomic<Bool>(false)
    let delay: Duration

    init(delay: Duration = .milliseconds(5)) { self.delay = delay }

    struct Refused: Error {}

    func record(_ records: [LedgerRecord]) async throws {
        try await Task.sleep(for: delay)
        if failing.load(ordering: .relaxed) { throw Refused() }
        batches.withLock { $0.append(records) }
    }

}

@Suite("Batched ledger writes", .timeLimit(.minutes(5)))
struct LedgerBatchWriterTests {
    static func verification(_ index: Int) -> LedgerRecord {
        LedgerRecord(kind: .verification, clientID: UUID(), result: "valid-\(index)")
    }

    @Test("500 concurrent records are each written exactly once, in far fewer batches")
    func everyRecordOnceInBatches() async throws {
        let store = BatchRecordingStore()
        let writer = LedgerBatchWriter(store: store, maxBatch: 64)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<500 { group.addTask { try await writer.record(Self.verification(index)) } }
            try await group.waitForAll()
        }
        let batches = store.batches.withLock { $0 }
        let results = batches.flatMap { $0 }.map(\.result)
        #expect(results.count == 500)
        #expect(Set(results) == Set((0..<500).map { "valid-\($0)" }))
        #expect(batches.count < 100, "\(batches.count) batches")
        #expect(batches.allSatisfy { $0.count <= 64 })
    }

    @Test("a failed batch fails every caller in it, and the writer goes on afterwards")
    func failureReachesEveryCaller() async throws {
        let store = BatchRecordingStore()
        let writer = LedgerBatchWriter(store: store)
        store.failing.store(true, ordering: .relaxed)
        let failures = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<20 {
                group.addTask { (try? await writer.record(Self.verification(index))) == nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(failures == 20)
        store.failing.store(false, ordering: .relaxed)
        try await writer.record(Self.verification(99))
        #expect(store.batches.withLock { $0 }.flatMap { $0 }.map(\.result) == ["valid-99"])
    }

    @Test("in PostgreSQL, a batch is written in order with a leaf hash for each entry")
    func postgresBatch() async throws {
        try await withThrowawayClient { client in
            let writer = LedgerBatchWriter(store: PostgresConsentStore(client: client.timed, logger: Logger(label: "test")))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 { group.addTask { try await writer.record(Self.verification(index)) } }
                try await group.waitForAll()
            }
            let rows = try await client.query(
                "SELECT count(*)::int, count(DISTINCT result)::int, count(leaf_hash)::int, count(client_id)::int FROM ledger",
                logger: Logger(label: "test"))
            for try await (entries, distinct, hashed, withClient) in rows.decode((Int, Int, Int, Int).self) {
                #expect(entries == 300)
                #expect(distinct == 300)
                #expect(hashed == 300)
                #expect(withClient == 300)
            }
        }
    }
}
