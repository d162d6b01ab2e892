import Consent
import Display
import Foundation

/// Offline codes: a terminal's "Apply" and "Replace" and its confirmation view, a confirmed
/// guardian's "Save offline code" and "Replace", and printing a card again. Refusals of known
/// callers are recorded (`offline-code-refused`).
struct OfflineCodeService: Sendable {
    typealias TerminalPerson = TerminalCheckIn.Person
    typealias Subject = TerminalCheckIn.Subject

    /// What a terminal shows before the person confirms.
    struct Confirmation: Sendable {
        var subject: Subject
        /// The current code, while it is still valid.
        var current: OfflineCodeRecord?
    }

    /// A code as issued or re-signed.
    struct IssuedCode: Sendable {
        var record: OfflineCodeRecord
        var code: String
        var claims: CodeClaims
        /// False when the current, still valid code was returned.
        var isNew: Bool
    }

    let identities: Identities
    let checkIn: TerminalCheckIn
    let consents: any ConsentStore
    let offlineCodes: any OfflineCodeStore
    let refusals: RefusalRecorder
    let signer: CodeSigner
    let configuration: PassbyConfiguration
    let clock: any PassbyClock

    func identify(_ person: TerminalPerson, clientID: UUID) async throws -> Confirmation {
        try await refusals.recording(.offlineCodeRefused, clientID: clientID) { record in
            let now = clock.now()
            let subject = try await checkIn.subject(person, at: now, record: &record)
            let current = try await offlineCodes.currentCode(subject: subject.key)
            return Confirmation(subject: subject, current: current.flatMap { $0.expiresAt > now ? $0 : nil })
        }
    }

    /// A terminal's "Apply": the current code while it is valid, else a new generation.
    func apply(_ person: TerminalPerson, clientID: UUID) async throws -> IssuedCode {
        try await atTerminal(person, mode: .currentOrNew, clientID: clientID)
    }

    /// A terminal's "Replace": always a new generation; every earlier card fails from then on.
    func replace(_ person: TerminalPerson, clientID: UUID) async throws -> IssuedCode {
        try await atTerminal(person, mode: .replace, clientID: clientID)
    }

    private func atTerminal(_ person: TerminalPerson, mode: OfflineIssue, clientID: UUID) async throws -> IssuedCode {
        try await refusals.recording(.offlineCodeRefused, clientID: clientID) { record in
            let now = clock.now()
            return try await issue(try await checkIn.subject(person, at: now, record: &record), mode: mode, clientID: clientID, now: now)
        }
    }

    /// A confirmed guardian's "Save offline code" (the current code, else a new generation) or
    /// "Replace" (always a new generation), for a family member; a child's card is replaced so.
    func forGuardian(idNumber: String, mode: OfflineIssue, assertion: String?, clientID: UUID) async throws -> IssuedCode {
        try await refusals.recording(.offlineCodeRefused, clientID: clientID) { record in
            let now = clock.now()
            let guardian = try await identities.person(assertion: assertion, client: clientID, at: now, noting: &record)
            let id = try identities.identityNumber(idNumber, at: now)
            let key = identities.key(id)
            record.subjectKey = key
            record.subjectMasked = id.masked
            let group = try identities.eligibleGroup(of: id, at: now)
            guard let guardianship = try await consents.confirmedGuardianship(guardian: identities.key(guardian.id), subject: key) else {
                throw Refusal.notAGuardian
            }
            let record = try await identities.subject(key)
            let subject = Subject(key: record.subjectKey, group: group, record: record, actor: guardian)
            // Noted first: if the guardianship is removed later, the card this guardian holds must fail.
            try await consents.markCodeSaved(guardianshipID: guardianship.id)
            return try await issue(subject, mode: mode, clientID: clientID, now: now, guardianship: guardianship.id)
        }
    }

    /// Who prints a card: a terminal, or a guardian whose assertion says who they are.
    enum Printer: Sendable {
        case terminal
        case guardian(assertion: String?, clientID: UUID)
    }

    /// A stored card, signed again, for printing. A guardian is authenticated before the id is
    /// looked at, and prints only the cards of the people they are a confirmed guardian of;
    /// anyone else's card is `notFound`, as an unknown id is, so ids reveal nothing.
    func printable(id: UUID, by printer: Printer) async throws -> IssuedCode {
        guard case .guardian(let assertion, let clientID) = printer else {
            guard let stored = try await offlineCodes.code(id: id) else { throw Refusal.notFound }
            return try signed(stored, isNew: false)
        }
        return try await refusals.recording(.offlineCodeRefused, clientID: clientID) { record in
            let guardian = try await identities.person(assertion: assertion, client: clientID, at: clock.now(), noting: &record)
            guard let stored = try await offlineCodes.code(id: id),
                let guardianship = try await consents.confirmedGuardianship(guardian: identities.key(guardian.id), subject: stored.subjectKey)
            else { throw Refusal.notFound }
            try await consents.markCodeSaved(guardianshipID: guardianship.id)
            return try signed(stored, isNew: false)
        }
    }

    private func issue(_ subject: Subject, mode: OfflineIssue, clientID: UUID, now: Date, guardianship: UUID? = nil) async throws -> IssuedCode {
        let reference = identities.personalData.subjectReference(subject.key)
        let ledger = LedgerRecord(
            kind: mode == .replace ? .offlineCodeReplaced : .offlineCodeIssued, clientID: clientID,
            requesterKey: subject.actor.map { identities.key($0.id) }, requesterMasked: subject.actor?.id.masked,
            subjectKey: subject.key, subjectMasked: subject.record.maskedID)
        let (issuer, lifetime, record, group) = (signer.issuer, configuration.offlineCodeLifetime, subject.record, subject.group)
        let issuedAt = now.unixSeconds
        let outcome: OfflineIssueOutcome
        do {
            outcome = try await offlineCodes.issue(
                subject: subject.key, subjectReference: reference, mode: mode, at: now, ledger: ledger, guardianship: guardianship
            ) { generation, _ in
                let claims = CodeClaims(
                    issuer: issuer, issuedAt: issuedAt, expiresAt: issuedAt + lifetime, codeID: CodeSigner.newCodeID(), kind: .offline,
                    maskedName: record.maskedName, maskedID: record.maskedID, ageGroup: group.rawValue, generation: generation,
                    subjectReference: reference)
                return (claims.cbor.encoded(), Date(unixSeconds: issuedAt), Date(unixSeconds: claims.expiresAt))
            }
        } catch is GuardianshipGone {
            throw Refusal.notAGuardian
        }
        return try signed(outcome.code, isNew: outcome.isNew)
    }

    /// Signs a stored code's claims again: with EdDSA the same code comes back.
    private func signed(_ stored: OfflineCodeRecord, isNew: Bool) throws -> IssuedCode {
        guard let item = try? CBORDecoder.decode(stored.claims), let claims = CodeClaims(cbor: item) else {
            throw StoredClaimsDamaged()
        }
        return IssuedCode(record: stored, code: try signer.sign(claims), claims: claims, isNew: isNew)
    }
}

/// Claims that Passby stored itself no longer decode: a bug or a damaged row, never the caller's fault.
struct StoredClaimsDamaged: Error {}
