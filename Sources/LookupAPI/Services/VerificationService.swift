import Consent
import Display
import Foundation

/// Checkpoints verify codes. Every verification is recorded: who asked, which code, the verdict.
struct VerificationService: Sendable {
    /// Who verifies: an API client of role `checkpoint`, or a staff member's session.
    enum Verifier: Sendable {
        case client(UUID)
        case staff(UUID)
    }

    /// The verdict, and for a valid code what it shows. An offline code shows the subject's
    /// current status, not one frozen in the code.
    struct Outcome: Sendable {
        var verdict: Verdict
        /// Only for a valid code: a forged one must not have its claims repeated as if true.
        var claims: CodeClaims?
        var status: String?
        var statusAsOf: Date?
    }

    let keys: LiveKeyRing
    let offlineCodes: any OfflineCodeStore
    let statuses: any HealthStatusRepository
    let ledger: LedgerBatchWriter
    let skew: Int64
    let clock: any PassbyClock

    func verify(_ code: String, by verifier: Verifier) async throws -> Outcome {
        let now = clock.now()
        var result = CodeVerifier(keys: keys.current.verification, skew: skew).verify(code, now: now.unixSeconds)
        // An offline code is valid only in the subject's current generation.
        var current: SubjectRecord?
        if result.verdict == .valid, let claims = result.claims, claims.kind == .offline, let reference = claims.subjectReference {
            if let generation = try await offlineCodes.currentGeneration(subjectReference: reference), generation.generation == claims.generation {
                current = try await statuses.record(for: generation.subject)
            } else {
                result.verdict = .replaced
            }
        }
        let valid = result.verdict == .valid
        // Claims whose signature did not verify are anyone's words: none of them is stored.
        let signed = ![.malformed, .unknownKey, .badSignature].contains(result.verdict)
        let claims = signed ? result.claims : nil
        var record = LedgerRecord(
            kind: .verification, subjectKey: current?.subjectKey, subjectMasked: valid ? claims?.maskedID : nil,
            result: result.verdict.rawValue, codeID: claims?.codeID, codeExpiry: claims.map { Date(unixSeconds: $0.expiresAt) })
        switch verifier {
        case .client(let id): record.clientID = id
        case .staff(let id): record.staffID = id
        }
        try await ledger.record(record)
        guard valid, let claims else { return Outcome(verdict: result.verdict) }
        return Outcome(
            verdict: .valid, claims: claims, status: current?.status.rawValue ?? claims.status,
            statusAsOf: current?.asOf ?? claims.statusTime.map(Date.init(unixSeconds:)))
    }
}
