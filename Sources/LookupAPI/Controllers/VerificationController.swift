import Consent
import Display
import Foundation
import Hummingbird

/// `POST /v1/verifications`: a checkpoint asks whether a code is valid.
/// A code that cannot be parsed is an answer (`malformed`), not an error.
struct VerificationController {
    let dependencies: PassbyDependencies
    let keys: LiveKeyRing

    struct VerificationRequest: Decodable {
        var code: String
    }

    struct VerificationAnswer: Encodable {
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

        enum CodingKeys: String, CodingKey {
            case verdict, valid, kind, maskedName = "masked_name", maskedID = "masked_id", group, status
            case statusAsOf = "status_as_of", expiresAt = "expires_at", generation
        }
    }

    func addRoutes(to group: RouterGroup<PassbyRequestContext>) {
        group.post("verifications", use: verify)
    }

    @Sendable func verify(request: Request, context: PassbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(VerificationRequest.self, from: request, within: dependencies.configuration)
        let verifier = CodeVerifier(keys: keys.current.verification, skew: dependencies.configuration.verificationSkew)
        var result = verifier.verify(body.code, now: Int64(Date().timeIntervalSince1970))
        // An offline code is valid only in the subject's current generation, and shows the current status.
        var current: SubjectRecord?
        if result.verdict == .valid, let claims = result.claims, claims.kind == .offline, let reference = claims.subjectReference {
            let generation = try await dependencies.storage { try await dependencies.offlineCodes.currentGeneration(subjectReference: reference) }
            if let generation, generation.generation == claims.generation {
                current = try await dependencies.storage { try await dependencies.statuses.record(for: generation.subject) }
            } else {
                result.verdict = .replaced
            }
        }
        // Every verification is recorded: who asked, which code, and the verdict.
        let caller = context.identity
        let record = LedgerRecord(
            kind: .verification, clientID: caller?.isStaffSession == true ? nil : caller?.id,
            staffID: caller?.isStaffSession == true ? caller?.id : nil, subjectKey: current?.subjectKey, subjectMasked: result.verdict == .valid ? result.claims?.maskedID : nil,
            result: result.verdict.rawValue, codeID: result.claims?.codeID,
            codeExpiry: result.claims.map { Date(timeIntervalSince1970: TimeInterval($0.expiresAt)) })
        try await dependencies.storage { try await dependencies.ledgerWriter.record(record) }
        var answer = VerificationAnswer(verdict: result.verdict.rawValue, valid: result.verdict == .valid)
        // Details only for a valid code: a forged one must not have its claims repeated as if true.
        if result.verdict == .valid, let claims = result.claims {
            answer.kind = claims.kind.rawValue
            answer.maskedName = claims.maskedName
            answer.maskedID = claims.maskedID
            answer.group = claims.ageGroup
            answer.status = current?.status.rawValue ?? claims.status
            answer.statusAsOf = current?.asOf ?? claims.statusTime.map { Date(timeIntervalSince1970: TimeInterval($0)) }
            answer.generation = claims.generation
            answer.expiresAt = Date(timeIntervalSince1970: TimeInterval(claims.expiresAt))
        }
        return try context.responseEncoder.encode(answer, from: request, context: context)
    }
}
