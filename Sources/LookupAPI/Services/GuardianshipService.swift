import Consent
import Foundation

/// Fixed rules of family registrations.
enum GuardianshipRules {
    static let relationships: Set<String> = ["spouse", "parent", "child", "grandparent", "grandchild", "sibling", "relative", "carer", "other"]
}

/// Guardians register, list and remove the people they look after (their family members).
struct GuardianshipService: Sendable {
    let identities: Identities
    let consents: any ConsentStore
    let quotas: GuardianQuotas
    let clock: any PassbyClock

    /// Registers `idNumber` as a family member of the guardian the assertion names. The name must
    /// match the one on record; quotas hold per guardian and per subject.
    func add(idNumber: String, name: String, relationship: String, assertion: String?, clientID: UUID) async throws -> Guardianship {
        let now = clock.now()
        let guardian = try await identities.person(assertion: assertion, client: clientID, at: now)
        let subject = try identities.identityNumber(idNumber, at: now)
        guard GuardianshipRules.relationships.contains(relationship) else { throw Refusal.invalidRelationship }
        guard subject != guardian.id else { throw Refusal.selfRegistration }
        _ = try identities.eligibleGroup(of: subject, at: now)
        let subjectKey = identities.key(subject)
        let record = try await identities.subject(subjectKey)
        guard record.nameHash == identities.personalData.nameHash(name) else { throw Refusal.nameMismatch }
        let guardianKey = identities.key(guardian.id)
        let guardianship = Guardianship(
            id: UUID(), guardianKey: guardianKey, guardianMaskedID: guardian.id.masked, subjectKey: subjectKey,
            subjectMaskedID: record.maskedID, subjectMaskedName: record.maskedName, relationship: relationship, createdAt: now)
        let ledger = LedgerRecord(
            kind: .familyMemberAdded, clientID: clientID, requesterKey: guardianKey, requesterMasked: guardian.id.masked,
            subjectKey: subjectKey, subjectMasked: record.maskedID)
        switch try await consents.addGuardianship(guardianship, quotas: quotas, ledger: ledger) {
        case .failure(let refusal): throw Refusal.guardianship(refusal)
        case .success(let stored): return stored
        }
    }

    /// The guardian's own family members.
    func list(assertion: String?, clientID: UUID) async throws -> [Guardianship] {
        let guardian = try await identities.person(assertion: assertion, client: clientID, at: clock.now())
        return try await consents.guardianships(of: identities.key(guardian.id))
    }

    /// Removes one of the guardian's own registrations; grants made through it stop at once.
    func remove(id: UUID, assertion: String?, clientID: UUID) async throws {
        let guardian = try await identities.person(assertion: assertion, client: clientID, at: clock.now())
        let key = identities.key(guardian.id)
        let ledger = LedgerRecord(kind: .familyMemberRemoved, clientID: clientID, requesterKey: key, requesterMasked: guardian.id.masked)
        guard try await consents.removeGuardianship(id: id, guardian: key, ledger: ledger) else { throw Refusal.notFound }
    }
}
