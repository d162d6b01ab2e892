import Consent
import Foundation

/// What was consented in the name of the person at a terminal: they see every grant made for
/// them (by themselves, a guardian, or a passer-by who attested their consent) and withdraw any.
struct TerminalGrantService: Sendable {
    let consents: any ConsentStore
    let clock: any PassbyClock
    /// The most a terminal lists; retention keeps the rest few.
    static let listLimit = 100

    /// A grant as its subject sees it, with the guardian's masked ID when a guardian made it.
    struct SubjectGrant: Sendable {
        var grant: ConsentGrant
        var guardianMaskedID: String?
        /// `active`, `used`, `expired`, `withdrawn` or `locked` (too many wrong tries).
        var status: String
    }

    /// The grants made in the person's name: those that still act first, then the newest.
    func grants(of subject: TerminalCheckIn.Subject) async throws -> [SubjectGrant] {
        let now = clock.now()
        let guardians = Dictionary(
            try await consents.guardianships(ofSubject: subject.key).map { ($0.id, $0.guardianMaskedID) }, uniquingKeysWith: { first, _ in first })
        return try await consents.grants(ofSubject: subject.key, limit: Self.listLimit).map { grant in
            SubjectGrant(grant: grant, guardianMaskedID: grant.guardianshipID.flatMap { guardians[$0] }, status: Self.status(of: grant, at: now))
        }
    }

    /// The person withdraws a grant made in their name. Another person's grant answers as an
    /// unknown one does.
    func withdraw(grantID: UUID, subject: TerminalCheckIn.Subject, record: LedgerRecord) async throws {
        guard let grant = try await consents.grant(id: grantID), subject.key.matches(grant.subjectKey) else { throw Refusal.notFound }
        var withdrawn = record
        withdrawn.kind = .grantWithdrawn
        withdrawn.grantID = grant.id
        withdrawn.method = grant.method
        withdrawn.legalBasis = grant.legalBasis
        withdrawn.result = "withdrawn-by-subject"
        _ = try await consents.withdrawGrant(id: grant.id, ledger: withdrawn)
    }

    static func status(of grant: ConsentGrant, at now: Date) -> String {
        if grant.withdrawnAt != nil || !grant.guardianshipActive { return "withdrawn" }
        if grant.failedTries >= ConsentGrant.failedTryLimit { return "locked" }
        if grant.uses >= grant.maxUses { return "used" }
        if grant.validUntil <= now { return "expired" }
        return "active"
    }
}
