import Consent
import Foundation
import Metrics

/// Compliance reviewers: the sealed ledger's heads and proofs, and queries over its entries.
/// Filters on ID numbers are hashed here and never logged; every query is itself recorded.
struct ReviewService: Sendable {
    /// A reviewer's query as asked; ID numbers are still text here.
    struct Query: Sendable {
        var subjectIdNumber: String?
        var requesterIdNumber: String?
        var kind: String?
        var result: String?
        var clientID: UUID?
        var from: Date?
        var to: Date?
        /// Entries after this leaf index (the cursor), -1 for the start.
        var afterLeaf: Int64 = -1
        /// The signed head that bounds the answer; the latest when nil.
        var headSize: Int?
        /// An export streams every entry; a page holds at most `limit`.
        var isExport = false
    }

    /// A bounded answer: the filter as stored, the head size it is bounded by, and the stores
    /// that hold that head (every page of it is read from them).
    struct Bounded: Sendable {
        var filter: LedgerFilter
        var headSize: Int
        var stores: ReviewReads.Stores
        var source: ReadSource
    }

    struct InclusionProof: Sendable {
        var seq: Int64
        var leafIndex: Int
        var leafHash: MerkleTree.Hash
        var path: [MerkleTree.Hash]
        var head: TreeHead
        var source: ReadSource
    }

    struct ConsistencyProof: Sendable {
        var from: TreeHead
        var to: TreeHead
        var path: [MerkleTree.Hash]
        var source: ReadSource
    }

    static let pageLimits = 1...1000

    let identities: Identities
    /// Where reads go: a fresh enough standby, else the primary.
    let reads: ReviewReads
    let consents: any ConsentStore
    let clock: any PassbyClock

    /// Runs `body` on the stores `reads` chooses. A standby that fails, or does not hold what was
    /// asked yet (a head it has not replayed), is asked no further: the primary answers.
    private func read<T>(_ body: (ReviewReads.Stores) async throws -> T) async throws -> (T, ReadSource) {
        let (stores, source) = reads.choose(now: clock.now().timeIntervalSince1970)
        guard source != .primary else { return (try await body(stores), source) }
        do {
            return (try await body(stores), source)
        } catch {
            // Counted: an operator sees how often the standby could not answer.
            Counter(label: "passby_replica_fallbacks").increment()
            return (try await body(reads.primary), .primary)
        }
    }

    func latestHead() async throws -> (TreeHead, ReadSource) {
        try await read { try await Self.head(size: nil, in: $0.tree) }
    }

    /// The head of `size`, or the latest.
    static func head(size: Int?, in tree: any LedgerTreeStore) async throws -> TreeHead {
        guard let size else {
            guard let head = try await tree.latestHead() else { throw Refusal.notSealed }
            return head
        }
        guard let head = try await tree.head(size: size) else { throw Refusal.unknownHead }
        return head
    }

    func inclusion(seq: Int64, headSize: Int?) async throws -> InclusionProof {
        let ((index, leaf, path, head), source) = try await read { stores in
            let tree = stores.tree
            let head = try await Self.head(size: headSize, in: tree)
            guard let index = try await tree.leafIndex(seq: seq), index < head.size else { throw Refusal.notSealed }
            let elements = MerkleTree.inclusionProofNodes(index: index, size: head.size)
            let leafRef = MerkleNodeRef(level: 0, index: Int64(index))
            let nodes = try await tree.nodes(Set(elements.flatMap { $0 } + [leafRef]))
            guard let path = MerkleTree.resolve(elements, nodes: nodes), let leaf = nodes[leafRef] else { throw IncompleteTree() }
            return (index, leaf, path, head)
        }
        return InclusionProof(seq: seq, leafIndex: index, leafHash: leaf, path: path, head: head, source: source)
    }

    func consistency(from: Int, to: Int) async throws -> ConsistencyProof {
        guard from >= 1, from <= to else { throw Refusal.malformedRequest("`from` and `to` must be head sizes with 1 ≤ from ≤ to") }
        let ((old, new, path), source) = try await read { stores in
            let old = try await Self.head(size: from, in: stores.tree)
            let new = try await Self.head(size: to, in: stores.tree)
            let elements = MerkleTree.consistencyProofNodes(oldSize: old.size, newSize: new.size)
            let nodes = try await stores.tree.nodes(Set(elements.flatMap { $0 }))
            guard let path = MerkleTree.resolve(elements, nodes: nodes) else { throw IncompleteTree() }
            return (old, new, path)
        }
        return ConsistencyProof(from: old, to: new, path: path, source: source)
    }

    /// Checks a query, records it in the ledger, and says which filter and head bound its answer.
    func begin(_ query: Query, clientID: UUID) async throws -> Bounded {
        let now = clock.now()
        var filter = LedgerFilter(kind: query.kind, result: query.result, clientID: query.clientID, from: query.from, to: query.to)
        if let number = query.subjectIdNumber {
            filter.subjectKey = identities.keyUnderEveryVersion(try identities.identityNumber(number, field: "subject_id_number", at: now))
        }
        if let number = query.requesterIdNumber {
            filter.requesterKey = identities.keyUnderEveryVersion(
                try identities.identityNumber(number, field: "requester_id_number", at: now))
        }
        // Bounded by a signed head, so that the same filter and `size` give the same answer; every
        // page is read where that head is.
        let ((size, stores), source) = try await read { stores in
            if let requested = query.headSize {
                guard try await stores.tree.head(size: requested) != nil else { throw Refusal.unknownHead }
                return (requested, stores)
            }
            return (try await stores.tree.latestHead()?.size ?? 0, stores)
        }
        try await consents.record(
            LedgerRecord(
                kind: .review, clientID: clientID, requesterKey: filter.requesterKey, subjectKey: filter.subjectKey,
                result: query.isExport ? "export" : "query"))
        return Bounded(filter: filter, headSize: size, stores: stores, source: source)
    }

    /// One page of a bounded answer, in leaf order. A page the standby fails to give comes from
    /// the primary, which holds the same head.
    func entries(_ bounded: Bounded, afterLeaf: Int64, limit: Int) async throws -> [ReviewedEntry] {
        let page = { (stores: ReviewReads.Stores) in
            try await stores.reviews.entries(matching: bounded.filter, afterLeaf: afterLeaf, beforeLeaf: Int64(bounded.headSize), limit: limit)
        }
        guard bounded.source != .primary else { return try await page(bounded.stores) }
        do {
            return try await page(bounded.stores)
        } catch {
            Counter(label: "passby_replica_fallbacks").increment()
            return try await page(reads.primary)
        }
    }
}

/// A proof needed a stored tree node that is not there: the tree is damaged, never the caller's fault.
struct IncompleteTree: Error {}
