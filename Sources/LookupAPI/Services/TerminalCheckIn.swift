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
        if let cardName, record.nameHash != identities.personalData.nameHash(cardName) { throw Refusal.unknownSubject }
        return Subject(key: key, group: group, record: record, actor: actor)
    }
}

/// Writes the refusals of known callers to the ledger, as the lookup does: once a verified
/// assertion or a terminal's card has said who is involved. A refusal before that is anonymous
/// and only the route's metrics count it, so strangers cannot fill the ledger.
struct RefusalRecorder: Sendable {
    let ledger: LedgerBatchWriter

    /// Runs `body` with a record of `kind` to fill in; a `Refusal` it throws is recorded with its
    /// reason when the record names a requester or subject.
    func recording<T>(_ kind: LedgerRecord.Kind, clientID: UUID, _ body: (inout LedgerRecord) async throws -> T) async throws -> T {
        var record = LedgerRecord(kind: kind, clientID: clientID)
        do {
            return try await body(&record)
        } catch let refusal as Refusal {
            if record.requesterKey != nil || record.subjectKey != nil {
                record.kind = kind
                record.result = refusal.reason
                try await ledger.record(record)
            }
            throw refusal
        }
    }
}
