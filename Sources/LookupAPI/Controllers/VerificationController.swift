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

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.post("verifications", use: verify)
    }

    @Sendable func verify(request: Request, context: PassbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(Body.self, from: request, within: limits)
        let caller = try context.client
        let outcome = try await service.verify(body.code, by: caller.isStaffSession ? .staff(caller.id) : .client(caller.id))
        // Written directly (`JSONAnswer`): verification is the busiest route.
        var answer = JSONAnswer()
        answer.add("verdict", outcome.verdict.rawValue)
        answer.add("valid", outcome.verdict == .valid)
        if let claims = outcome.claims {
            answer.add("kind", claims.kind.rawValue)
            answer.add("masked_name", claims.maskedName)
            answer.add("masked_id", claims.maskedID)
            answer.add("group", claims.ageGroup)
            answer.add("status", outcome.status)
            answer.add("status_as_of", time: outcome.statusAsOf.map { Int64($0.timeIntervalSince1970.rounded(.down)) })
            answer.add("expires_at", time: claims.expiresAt)
            answer.add("generation", claims.generation)
        }
        return answer.response(status: .ok)
    }
}
