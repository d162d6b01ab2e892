import Consent
import Foundation
import Hummingbird

/// The ledger's signed heads and proofs, for compliance reviewers (role `reviewer`).
struct LedgerController {
    let service: ReviewService

    struct InclusionBody: Encodable {
        var seq: Int64
        var leafIndex: Int
        var leafHash: String
        var treeSize: Int
        var path: [String]
        var head: TreeHeadBody
    }

    struct ConsistencyBody: Encodable {
        var from: TreeHeadBody
        var to: TreeHeadBody
        var path: [String]
    }

    func addRoutes(to v1: RouterGroup<PassbyRequestContext>) {
        let reviewers = v1.group().add(middleware: RequireRole(.reviewer))
        reviewers.get("ledger/head", use: head)
        reviewers.get("ledger/consistency", use: consistency)
        reviewers.get("records/:seq/proof", use: inclusion)
    }

    @Sendable func head(request: Request, context: PassbyRequestContext) async throws -> Response {
        let (head, source) = try await service.latestHead()
        var response = try context.respond(TreeHeadBody(head), from: request)
        source.headers(into: &response.headers)
        return response
    }

    @Sendable func inclusion(request: Request, context: PassbyRequestContext) async throws -> Response {
        guard let seq = context.parameters.get("seq", as: Int64.self) else { throw Problem.notFound }
        let proof = try await service.inclusion(seq: seq, headSize: request.uri.queryParameters.get("size", as: Int.self))
        var response = try context.respond(
            InclusionBody(
                seq: proof.seq, leafIndex: proof.leafIndex, leafHash: TreeHeadBody.hex(proof.leafHash), treeSize: proof.head.size,
                path: proof.path.map(TreeHeadBody.hex), head: TreeHeadBody(proof.head)), from: request)
        proof.source.headers(into: &response.headers)
        return response
    }

    @Sendable func consistency(request: Request, context: PassbyRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        guard let from = query.get("from", as: Int.self), let to = query.get("to", as: Int.self) else {
            throw Problem.malformedRequest("`from` and `to` must be head sizes with 1 ≤ from ≤ to")
        }
        let proof = try await service.consistency(from: from, to: to)
        var response = try context.respond(
            ConsistencyBody(
                from: TreeHeadBody(proof.from), to: TreeHeadBody(proof.to), path: proof.path.map(TreeHeadBody.hex)), from: request)
        proof.source.headers(into: &response.headers)
        return response
    }
}
