import Consent
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import LookupAPI

/// Reviewers' reads from a hot standby (issue 16): used while it was caught up at most
/// `PASSBY_READ_MAX_LAG_SECONDS` ago, the answer saying where it came from and how stale it may
/// be; the primary answers whenever the standby is stale, silent, or lacks what was asked.
@Suite("Reviewer reads from a read replica", .timeLimit(.minutes(5)))
struct ReadReplicaTests {
    @Test("the standby is chosen only while it was caught up within the limit")
    func choice() {
        let tree = InMemoryLedgerTreeStore(ledger: InMemoryConsentStore())
        let stores = ReviewReads.Stores(tree: tree, reviews: tree)
        #expect(ReviewReads(primary: stores).choose(now: 100).source == .primary, "no standby")
        let reads = ReviewReads(primary: stores, replica: stores, maxLag: 5)
        #expect(reads.choose(now: 100).source == .primary, "not yet seen caught up")
        reads.observe(caughtUpAt: 100)
        #expect(reads.choose(now: 101.5).source == .replica(staleness: 1.5))
        reads.observe(caughtUpAt: 90)
        #expect(reads.choose(now: 101.5).source == .replica(staleness: 1.5), "an older observation does not move it back")
        #expect(reads.choose(now: 105).source == .replica(staleness: 5))
        #expect(reads.choose(now: 105.1).source == .primary, "too far behind")
        reads.observe(caughtUpAt: nil)
        #expect(reads.choose(now: 101).source == .primary, "a standby that does not answer is out of use")
    }

    /// An application whose reviewers may read `standby` (its record pages from `reviews`, the
    /// standby itself by default) beside the primary's in-memory stores, over one ledger.
    func withStandby(
        reviews: (any LedgerReviewStore)? = nil
    ) async throws -> (PassbyComponents, ledger: InMemoryConsentStore, standby: InMemoryLedgerTreeStore, reads: ReviewReads, reviewer: String) {
        var components = try await TestApp.memory()
        let ledger = try #require(components.stores.consents as? InMemoryConsentStore)
        let standby = InMemoryLedgerTreeStore(ledger: ledger)
        let reads = ReviewReads(
            primary: .init(tree: components.stores.ledgerTree, reviews: components.stores.reviews),
            replica: .init(tree: standby, reviews: reviews ?? standby))
        components.stores.reviewReads = reads
        let reviewer = try await components.clients.create(name: "r", role: .reviewer)
        return (components, ledger, standby, reads, reviewer.key)
    }

    @Test("reviewers read the standby's head, with headers that say so; a head it lacks comes from the primary")
    func routes() async throws {
        let (components, ledger, standby, reads, reviewer) = try await withStandby()
        try await ledger.record(LedgerRecord(kind: .verification, result: "valid"))
        _ = try await LedgerSealer.seal(tree: standby, key: components.ledgerKey)
        try await ledger.record(LedgerRecord(kind: .verification, result: "valid"))
        _ = try await LedgerSealer.seal(tree: components.stores.ledgerTree, key: components.ledgerKey)
        try await buildApplication(components).test(.router) { client in
            func head() async throws -> (size: Int?, source: String?, staleness: String?) {
                let answer = try await client.send(.get, "/v1/ledger/head", key: reviewer)
                return (try json(answer.body)["size"] as? Int, answer.headers[ReadSource.sourceHeader], answer.headers[ReadSource.stalenessHeader])
            }
            #expect(try await head() == (2, "primary", "0"))
            reads.observe(caughtUpAt: Date().timeIntervalSince1970)
            let fromStandby = try await head()
            #expect(fromStandby.size == 1 && fromStandby.source == "replica" && ["0", "1"].contains(fromStandby.staleness))
            let records = try await client.send(.get, "/v1/records", key: reviewer)
            let recordCount = (try json(records.body)["records"] as? [Any])?.count
            #expect(records.headers[ReadSource.sourceHeader] == "replica" && recordCount == 1)
            // The primary's newer head is not on the standby yet: the primary answers, and says so.
            let bounded = try await client.send(.get, "/v1/records?size=2", key: reviewer)
            let boundedCount = (try json(bounded.body)["records"] as? [Any])?.count
            #expect(bounded.headers[ReadSource.sourceHeader] == "primary" && boundedCount == 2)
            let proof = try await client.send(.get, "/v1/records/2/proof", key: reviewer)
            #expect(proof.status == .ok && proof.headers[ReadSource.sourceHeader] == "primary")
            reads.observe(caughtUpAt: nil)
            #expect(try await head() == (2, "primary", "0"))
        }
    }

    /// A standby whose record pages fail (a recovery conflict, a dropped connection).
    struct FailingReviews: LedgerReviewStore {
        struct Conflict: Error {}
        func entries(matching filter: LedgerFilter, afterLeaf: Int64, beforeLeaf: Int64, limit: Int) async throws -> [ReviewedEntry] {
            throw Conflict()
        }
    }

    @Test("a page the standby fails to give comes from the primary, bounded by the same head")
    func pageFallback() async throws {
        let (components, ledger, standby, reads, reviewer) = try await withStandby(reviews: FailingReviews())
        try await ledger.record(LedgerRecord(kind: .verification, result: "valid"))
        _ = try await LedgerSealer.seal(tree: standby, key: components.ledgerKey)
        _ = try await LedgerSealer.seal(tree: components.stores.ledgerTree, key: components.ledgerKey)
        try await ledger.record(LedgerRecord(kind: .verification, result: "valid"))
        _ = try await LedgerSealer.seal(tree: components.stores.ledgerTree, key: components.ledgerKey)
        reads.observe(caughtUpAt: Date().timeIntervalSince1970)
        try await buildApplication(components).test(.router) { client in
            let answer = try await client.send(.get, "/v1/records", key: reviewer)
            let page = try json(answer.body)
            #expect(answer.status == .ok && page["head_size"] as? Int == 1 && (page["records"] as? [Any])?.count == 1, "\(answer.body)")
        }
    }
}
