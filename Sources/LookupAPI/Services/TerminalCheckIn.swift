import Consent
import Foundation

/// Who stands at a self-service terminal, established the same way for every terminal route.
/// Elderly people act for themselves there; children need a guardian.
struct TerminalCheckIn: Sendable {
    /// Read from an ID card, or shown by the person's own app as an assertion.
    enum Person: Sendable {
        case idCard(idNumber: String, name: String)
        /// The assertion, and the terminal's client that read it.
        case appCode(assertion: String?, clientID: UUID)
    }

    /// Whom a request is for, established and checked.
    struct Subject: Sendable {
        var key: SubjectKey
        var group: AgeGroup
        var record: SubjectRecord
        /// The person acting, when an assertion said who (an app code, a guardian).
        var actor: VerifiedPerson?
    }

    let identities: Identities

    /// The elderly person at the terminal. A card whose name does not fit the record answers
    /// `unknown-subject`, as an unknown number does: the terminal cannot be used to test names.
    func subject(_ person: Person, at now: Date, record ledger: inout LedgerRecord) async throws -> Subject {
        let id: IdentityNumber
        var actor: VerifiedPerson?
        var cardName: String?
        switch person {
        case .idCard(let number, let name):
            id = try identities.identityNumber(number, at: now)
            cardName = name
        case .appCode(let assertion, let clientID):
            let verified = try await identities.person(assertion: assertion, client: clientID, at: now, noting: &ledger)
            id = verified.id
            actor = verified
        }
        let key = identities.key(id)
        ledger.subjectKey = key
        ledger.subjectMasked = id.masked
        let group = try identities.eligibleGroup(of: id, at: now)
        guard group == .elder else { throw Refusal.selfServiceElderlyOnly }
        let record = try await identities.subject(key)
        if let cardName, record.nameHash != identities.personalData.nameHash(cardName, version: record.secretVersion) {
            throw Refusal.unknownSubject
        }
        // The key as stored: rows that refer to the subject must hold it.
        return Subject(key: record.subjectKey, group: group, record: record, actor: actor)
    }
}
