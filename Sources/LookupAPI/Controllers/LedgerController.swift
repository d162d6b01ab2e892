import Consent
import Foundation
import HTTPTypes
import Hummingbird

/// The ledger's signed heads and proofs, for compliance reviewers (role `reviewer`).
struct LedgerController {
    let dependencies: PassbyDependencies

    struct HeadBody: Encodable {
        var size: Int
        var root: String
        var sealedAt: Date
        var kid: String
        var signature: String
        enum CodingKeys: String, CodingKey { case size, root, sealedAt = "sealed_at", kid, signature }
        init(_ head: TreeHead) {
            size = head.size
            root = Self.hex(head.root)
            sealedAt = head.sealedAt
            kid = head.kid
            signature = Self.hex(head.signature)
        }
        static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    }

    struct InclusionBody: Encodable {
        var seq: Int64
        var leafIndex: Int
        var leafHash: String
        var treeSize: Int
        var path: [String]
        var head: HeadBody
        enum CodingKeys: String, CodingKey { case seq, leafIndex = "leaf_index", leafHash = "leaf_hash", treeSize = "tree_size", path, head }
    }

    struct ConsistencyBody: Encodable {
        var from: HeadBody
        var to: HeadBody
        var path: [String]
    }

    func addRoutes(to v1: RouterGroup<PassbyRequestContext>) {
        let reviewers = v1.group().add(middleware: RequireRole(.reviewer))
        reviewers.get("ledger/head", use: head)
        reviewers.get("ledger/consistency", use: consistency)
        reviewers.get("records/:seq/proof", use: inclusion)
    }

    static let notSealed = Problem(.notFound, "not-sealed", "The ledger has no signed head yet; it is sealed every few seconds")

    @Sendable func head(request: Request, context: PassbyRequestContext) async throws -> Response {
        guard let head = try await dependencies.storage({ try await dependencies.ledgerTree.latestHead() }) else { throw Self.notSealed }
        return try context.responseEncoder.encode(HeadBody(head), from: request, context: context)
    }

    /// The head of `size`, or the latest.
    func head(size: Int?) async throws -> TreeHead {
        let tree = dependencies.ledgerTree
        let head = try await dependencies.storage { size == nil ? try await tree.latestHead() : try await tree.head(size: size!) }
        guard let head else { throw size == nil ? Self.notSealed : Problem(.notFound, "unknown-head", "No signed head has that size") }
        return head
    }

    @Sendable func inclusion(request: Request, context: PassbyRequestContext) async throws -> Response {
        guard let seq = context.parameters.get("seq", as: Int64.self) else { throw Problem.notFound }
        let head = try await head(size: request.uri.queryParameters.get("size", as: Int.self))
        let tree = dependencies.ledgerTree
        guard let index = try await dependencies.storage({ try await tree.leafIndex(seq: seq) }), index < head.size else {
            throw Problem(.notFound, "not-sealed", "That entry is not in this head's tree (yet)")
        }
        let elements = MerkleTree.inclusionProofNodes(index: index, size: head.size)
        let leafRef = MerkleNodeRef(level: 0, index: Int64(index))
        let nodes = try await dependencies.storage { try await tree.nodes(Set(elements.flatMap { $0 } + [leafRef])) }
        guard let path = MerkleTree.resolve(elements, nodes: nodes), let leaf = nodes[leafRef] else { throw Problem.internalError }
        let body = InclusionBody(
            seq: seq, leafIndex: index, leafHash: HeadBody.hex(leaf), treeSize: head.size, path: path.map(HeadBody.hex), head: HeadBody(head))
        return try context.responseEncoder.encode(body, from: request, context: context)
    }

    @Sendable func consistency(request: Request, context: PassbyRequestContext) async throws -> Response {
        guard let from = request.uri.queryParameters.get("from", as: Int.self), let to = request.uri.queryParameters.get("to", as: Int.self),
              from >= 1, from <= to
        else { throw Problem.malformedRequest("`from` and `to` must be head sizes with 1 ≤ from ≤ to") }
        let old = try await head(size: from)
        let new = try await head(size: to)
        let tree = dependencies.ledgerTree
        let elements = MerkleTree.consistencyProofNodes(oldSize: old.size, newSize: new.size)
        let nodes = try await dependencies.storage { try await tree.nodes(Set(elements.flatMap { $0 })) }
        guard let path = MerkleTree.resolve(elements, nodes: nodes) else { throw Problem.internalError }
        let body = ConsistencyBody(from: HeadBody(old), to: HeadBody(new), path: path.map(HeadBody.hex))
        return try context.responseEncoder.encode(body, from: request, context: context)
    }
}
