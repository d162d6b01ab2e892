import Display
import Foundation
import Hummingbird

/// `POST /v1/verifications`: a checkpoint asks whether a code is valid.
/// A code that cannot be parsed is an answer (`malformed`), not an error.
struct VerificationController {
    let service: VerificationService
    let limits: JSONBody.Limits

    struct Body: Decodable {
        var code: String
    }

    struct Answer: Encodable {
        var verdict: String
        var valid: Bool
        var kind: String?
        var maskedName: String?
        var maskedID: String?
        var group: String?
        var status: String?
        var statusAsOf: Date?
        var expiresAt: Date?
        var generation: Int64?
    }

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.post("verifications", use: verify)
    }

    @Sendable func verify(request: Request, context: PassbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(Body.self, from: request, within: limits)
        let caller = try context.client
        let outcome = try await service.verify(body.code, by: caller.isStaffSession ? .staff(caller.id) : .client(caller.id))
        var answer = Answer(verdict: outcome.verdict.rawValue, valid: outcome.verdict == .valid)
        if let claims = outcome.claims {
            answer.kind = claims.kind.rawValue
            answer.maskedName = claims.maskedName
            answer.maskedID = claims.maskedID
            answer.group = claims.ageGroup
            answer.status = outcome.status
            answer.statusAsOf = outcome.statusAsOf
            answer.generation = claims.generation
            answer.expiresAt = Date(unixSeconds: claims.expiresAt)
        }
        return try context.respond(answer, from: request)
    }
}
