import Consent
import Foundation

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

    /// A bounded answer: the filter as stored, and the head size it is bounded by.
    struct Bounded: Sendable {
        var filter: LedgerFilter
        var headSize: Int
    }

    struct InclusionProof: Sendable {
        var seq: Int64
        var leafIndex: Int
        var leafHash: MerkleTree.Hash
        var path: [MerkleTree.Hash]
        var head: TreeHead
    }

    struct ConsistencyProof: Sendable {
        var from: TreeHead
        var to: TreeHead
        var path: [MerkleTree.Hash]
    }

    static let pageLimits = 1...1000

    let identities: Identities
    let tree: any LedgerTreeStore
    let reviews: any LedgerReviewStore
    let consents: any ConsentStore
    let clock: any PassbyClock

    func latestHead() async throws -> TreeHead {
        guard let head = try await tree.latestHead() else { throw Refusal.notSealed }
        return head
    }

    /// The head of `size`, or the latest.
    func head(size: Int?) async throws -> TreeHead {
        guard let size else { return try await latestHead() }
        guard let head = try await tree.head(size: size) else { throw Refusal.unknownHead }
        return head
    }

    func inclusion(seq: Int64, headSize: Int?) async throws -> InclusionProof {
        let head = try await head(size: headSize)
        guard let index = try await tree.leafIndex(seq: seq), index < head.size else { throw Refusal.notSealed }
        let elements = MerkleTree.inclusionProofNodes(index: index, size: head.size)
        let leafRef = MerkleNodeRef(level: 0, index: Int64(index))
        let nodes = try await tree.nodes(Set(elements.flatMap { $0 } + [leafRef]))
        guard let path = MerkleTree.resolve(elements, nodes: nodes), let leaf = nodes[leafRef] else { throw IncompleteTree() }
        return InclusionProof(seq: seq, leafIndex: index, leafHash: leaf, path: path, head: head)
    }

    func consistency(from: Int, to: Int) async throws -> ConsistencyProof {
        guard from >= 1, from <= to else { throw Refusal.malformedRequest("`from` and `to` must be head sizes with 1 ≤ from ≤ to") }
        let old = try await head(size: from)
        let new = try await head(size: to)
        let elements = MerkleTree.consistencyProofNodes(oldSize: old.size, newSize: new.size)
        let nodes = try await tree.nodes(Set(elements.flatMap { $0 }))
        guard let path = MerkleTree.resolve(elements, nodes: nodes) else { throw IncompleteTree() }
        return ConsistencyProof(from: old, to: new, path: path)
    }

    /// Checks a query, records it in the ledger, and says which filter and head bound its answer.
    func begin(_ query: Query, clientID: UUID) async throws -> Bounded {
        let now = clock.now()
        var filter = LedgerFilter(kind: query.kind, result: query.result, clientID: query.clientID, from: query.from, to: query.to)
        if let number = query.subjectIdNumber {
            filter.subjectKey = identities.key(try identities.identityNumber(number, field: "subject_id_number", at: now))
        }
        if let number = query.requesterIdNumber {
            filter.requesterKey = identities.key(try identities.identityNumber(number, field: "requester_id_number", at: now))
        }
        // Bounded by a signed head, so that the same filter and `size` give the same answer.
        let size: Int
        if let requested = query.headSize {
            guard try await tree.head(size: requested) != nil else { throw Refusal.unknownHead }
            size = requested
        } else {
            size = try await tree.latestHead()?.size ?? 0
        }
        try await consents.record(
            LedgerRecord(
                kind: .review, clientID: clientID, requesterKey: filter.requesterKey, subjectKey: filter.subjectKey,
                result: query.isExport ? "export" : "query"))
        return Bounded(filter: filter, headSize: size)
    }

    /// One page of a bounded answer, in leaf order.
    func entries(_ bounded: Bounded, afterLeaf: Int64, limit: Int) async throws -> [ReviewedEntry] {
        try await reviews.entries(matching: bounded.filter, afterLeaf: afterLeaf, beforeLeaf: Int64(bounded.headSize), limit: limit)
    }
}

/// A proof needed a stored tree node that is not there: the tree is damaged, never the caller's fault.
struct IncompleteTree: Error {}
