import Consent
import Display
import Foundation

/// Offline codes: a terminal's "Apply" and "Replace" and its confirmation view, a guardian's
/// "Save offline code", and printing a card again.
struct OfflineCodeService: Sendable {
    /// Who stands at a terminal: read from an ID card, or shown by their own app as an assertion.
    enum TerminalPerson: Sendable {
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
    let consents: any ConsentStore
    let offlineCodes: any OfflineCodeStore
    let signer: CodeSigner
    let configuration: PassbyConfiguration
    let clock: any PassbyClock

    /// The person at a terminal: elderly people act for themselves; children need a guardian.
    func terminalSubject(_ person: TerminalPerson, at now: Date) async throws -> Subject {
        let id: IdentityNumber
        var actor: VerifiedPerson?
        var cardName: String?
        switch person {
        case .idCard(let number, let name):
            id = try identities.identityNumber(number, at: now)
            cardName = name
        case .appCode(let assertion, let clientID):
            let verified = try await identities.person(assertion: assertion, client: clientID, at: now)
            id = verified.id
            actor = verified
        }
        let group = try identities.eligibleGroup(of: id, at: now)
        guard group == .elder else { throw Refusal.selfServiceElderlyOnly }
        let key = identities.key(id)
        let record = try await identities.subject(key)
        if let cardName, record.nameHash != identities.personalData.nameHash(cardName) { throw Refusal.nameMismatch }
        return Subject(key: key, group: group, record: record, actor: actor)
    }

    func identify(_ person: TerminalPerson) async throws -> Confirmation {
        let now = clock.now()
        let subject = try await terminalSubject(person, at: now)
        let current = try await offlineCodes.currentCode(subject: subject.key)
        return Confirmation(subject: subject, current: current.flatMap { $0.expiresAt > now ? $0 : nil })
    }

    /// A terminal's "Apply": the current code while it is valid, else a new generation.
    func apply(_ person: TerminalPerson, clientID: UUID) async throws -> IssuedCode {
        let now = clock.now()
        return try await issue(try await terminalSubject(person, at: now), mode: .currentOrNew, clientID: clientID, now: now)
    }

    /// A terminal's "Replace": always a new generation; every earlier card fails from then on.
    func replace(_ person: TerminalPerson, clientID: UUID) async throws -> IssuedCode {
        let now = clock.now()
        return try await issue(try await terminalSubject(person, at: now), mode: .replace, clientID: clientID, now: now)
    }

    /// A guardian's "Save offline code" for a registered family member.
    func save(idNumber: String, assertion: String?, clientID: UUID) async throws -> IssuedCode {
        let now = clock.now()
        let guardian = try await identities.person(assertion: assertion, client: clientID, at: now)
        let id = try identities.identityNumber(idNumber, at: now)
        let group = try identities.eligibleGroup(of: id, at: now)
        let key = identities.key(id)
        guard try await consents.activeGuardianship(guardian: identities.key(guardian.id), subject: key) != nil else {
            throw Refusal.notAGuardian
        }
        let subject = Subject(key: key, group: group, record: try await identities.subject(key), actor: guardian)
        return try await issue(subject, mode: .currentOrNew, clientID: clientID, now: now)
    }

    /// Who prints a card: a terminal, or a guardian whose assertion says who they are.
    enum Printer: Sendable {
        case terminal
        case guardian(assertion: String?, clientID: UUID)
    }

    /// A stored card, signed again, for printing. A guardian prints only the cards of the people
    /// they look after; anyone else's card is `notFound`, so ids reveal nothing.
    func printable(id: UUID, by printer: Printer) async throws -> IssuedCode {
        guard let stored = try await offlineCodes.code(id: id) else { throw Refusal.notFound }
        if case .guardian(let assertion, let clientID) = printer {
            let guardian = try await identities.person(assertion: assertion, client: clientID, at: clock.now())
            guard try await consents.activeGuardianship(guardian: identities.key(guardian.id), subject: stored.subjectKey) != nil else {
                throw Refusal.notFound
            }
        }
        return try signed(stored, isNew: false)
    }

    private func issue(_ subject: Subject, mode: OfflineIssue, clientID: UUID, now: Date) async throws -> IssuedCode {
        let reference = identities.personalData.subjectReference(subject.key)
        let ledger = LedgerRecord(
            kind: mode == .replace ? .offlineCodeReplaced : .offlineCodeIssued, clientID: clientID,
            requesterKey: subject.actor.map { identities.key($0.id) }, requesterMasked: subject.actor?.id.masked,
            subjectKey: subject.key, subjectMasked: subject.record.maskedID)
        let (issuer, lifetime, record, group) = (signer.issuer, configuration.offlineCodeLifetime, subject.record, subject.group)
        let issuedAt = now.unixSeconds
        let outcome = try await offlineCodes.issue(subject: subject.key, subjectReference: reference, mode: mode, at: now, ledger: ledger) {
            generation, _ in
            let claims = CodeClaims(
                issuer: issuer, issuedAt: issuedAt, expiresAt: issuedAt + lifetime, codeID: CodeSigner.newCodeID(), kind: .offline,
                maskedName: record.maskedName, maskedID: record.maskedID, ageGroup: group.rawValue, generation: generation,
                subjectReference: reference)
            return (claims.cbor.encoded(), Date(unixSeconds: issuedAt), Date(unixSeconds: claims.expiresAt))
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
