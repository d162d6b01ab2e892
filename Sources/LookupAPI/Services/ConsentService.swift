import Consent
import Crypto
import Display
import Foundation

/// Fixed rules of consent grants.
enum ConsentRules {
    /// The shortest validity a grant may ask for.
    static let minimumValidSeconds = 60
    /// An attested (spoken) consent: one use, for two minutes.
    static let attestedValidity: TimeInterval = 120
    static let maximumStatementLength = 500
    /// The purpose every grant serves.
    static let purpose = "display-health-code"
}

/// Consent grants: made by guardians and by elderly people at terminals, attested on the spot by
/// a passer-by, withdrawn by their grantor, and proven by a signed receipt.
struct ConsentService: Sendable {
    /// Who asks, through which client.
    struct Caller: Sendable {
        var clientID: UUID
        var role: Role
        var assertion: String?
    }

    struct NewGrant: Sendable {
        var idNumber: String
        var maxUses: Int?
        var validSeconds: Int?
        var granteeIdNumber: String?
        var idempotencyKey: String?
        /// SHA-256 of the request body, so that a retry with the same key must send the same body.
        var bodyDigest: [UInt8]
    }

    /// A grant as shown to its grantor, once, with its token.
    struct IssuedGrant: Sendable {
        var grant: ConsentGrant
        var token: ConsentToken
        var maskedID: String
        /// False when an idempotent retry found the grant made earlier.
        var isNew: Bool
    }

    let identities: Identities
    let consents: any ConsentStore
    let refusals: RefusalRecorder
    let signer: CodeSigner
    let configuration: PassbyConfiguration
    let clock: any PassbyClock

    var personalData: PersonalData { identities.personalData }

    /// A guardian's grant for a confirmed family member, or an elderly person's own at a terminal.
    /// Refusals of a verified grantor are recorded (`grant-refused`).
    func create(_ request: NewGrant, by caller: Caller) async throws -> IssuedGrant {
        try await refusals.recording(.grantRefused, clientID: caller.clientID) { record in try await create(request, by: caller, noting: &record) }
    }

    private func create(_ request: NewGrant, by caller: Caller, noting ledger: inout LedgerRecord) async throws -> IssuedGrant {
        let now = clock.now()
        let person = try await identities.person(assertion: caller.assertion, client: caller.clientID, at: now, noting: &ledger)
        let subject = try identities.identityNumber(request.idNumber, at: now)
        ledger.subjectKey = identities.key(subject)
        ledger.subjectMasked = subject.masked
        let grantee = try request.granteeIdNumber.map { number throws(Refusal) in
            try identities.identityNumber(number, field: "grantee_id_number", at: now)
        }
        let maxUses = request.maxUses ?? 1
        let validSeconds = request.validSeconds ?? configuration.maxGrantSeconds
        guard (1...configuration.maxGrantUses).contains(maxUses) else { throw Refusal.invalidMaxUses }
        guard (ConsentRules.minimumValidSeconds...configuration.maxGrantSeconds).contains(validSeconds) else { throw Refusal.invalidValidity }
        let group = try identities.eligibleGroup(of: subject, at: now)
        let subjectKey = identities.key(subject)
        let grantorKey = identities.key(person.id)

        let relation: GrantorRelation
        let method: GrantMethod
        var guardianshipID: UUID?
        if caller.role == .terminal {
            // At a terminal an elderly person grants for themselves; a child's grant needs a guardian.
            guard subject == person.id, group == .elder else { throw Refusal.selfConsentElderlyOnly }
            relation = .selfGranted
            method = .terminal
        } else {
            guard let guardianship = try await consents.confirmedGuardianship(guardian: grantorKey, subject: subjectKey) else {
                throw Refusal.notAGuardian
            }
            relation = .guardian
            method = .guardianApp
            guardianshipID = guardianship.id
        }
        // Only now, for someone allowed to grant for this person, does Passby say whether it knows them.
        let record = try await identities.subject(subjectKey)
        // The grant holds the subject's key as stored (it refers to the subject's row).
        let storedSubjectKey = record.subjectKey

        // With an Idempotency-Key the grant's id and token are derived from it and the day, so a
        // retry finds the same grant and shows the same token, which is never stored. A key holds
        // for the day it was first used and the next: long after (the grant purged, say), the same
        // request makes a new grant with a new token, never the old token again.
        var token: ConsentToken
        var grantID: UUID
        if let key = request.idempotencyKey {
            let day = Int64(now.timeIntervalSince1970.rounded(.down)) / 86_400
            let made = [day, day - 1].flatMap { idempotentGrants(client: caller.clientID, key: key, bodyDigest: request.bodyDigest, day: $0) }
            (grantID, token) = made[0]
            // A retry finds the grant its first try made, on that day or the next, under the
            // server-secret version then in force.
            for (id, derived) in made {
                guard let existing = try await consents.grant(id: id) else { continue }
                guard subjectKey.matches(existing.subjectKey), try await consents.grant(tokenHashes: personalData.tokenHashes(derived))?.id == id
                else {
                    throw Refusal.idempotencyKeyReused
                }
                return IssuedGrant(grant: existing, token: derived, maskedID: record.maskedID, isNew: false)
            }
        } else {
            token = ConsentToken.random()
            grantID = UUID()
        }
        let grant = ConsentGrant(
            id: grantID, subjectKey: storedSubjectKey, grantorKey: grantorKey, relation: relation, guardianshipID: guardianshipID,
            granteeKey: grantee.map(identities.key), legalBasis: .consent, method: method,
            validFrom: now, validUntil: now.addingTimeInterval(TimeInterval(validSeconds)), maxUses: maxUses)
        try await store(grant, token: token, statement: nil, grantor: person, subjectMasked: record.maskedID, clientID: caller.clientID)
        return IssuedGrant(grant: grant, token: token, maskedID: record.maskedID, isNew: true)
    }

    /// The id and token of the grant an Idempotency-Key makes on `day` (days since 1970, UTC):
    /// under the current server-secret version first, then under the others a lookup tries.
    func idempotentGrants(client: UUID, key: String, bodyDigest: [UInt8], day: Int64) -> [(UUID, ConsentToken)] {
        let client = client.uuidString
        let tokens = personalData.derivedTokens(for: ["consent", client, key, Data(bodyDigest).base64EncodedString(), "\(day)"])
        let ids = personalData.derivedTokens(for: ["consent-id", client, key, "\(day)"]).map(Self.uuid(from:))
        return Array(zip(ids, tokens))
    }

    /// A passer-by's attestation that an elderly person consented out loud: for that requester
    /// only, one use, two minutes, and a few an hour. A child needs a guardian's grant, unless the
    /// operator declared a public-health emergency.
    ///
    /// The rate limit comes before anything about the person: whether Passby knows them is told
    /// only to a requester within their limit. Refusals are recorded (`grant-refused`).
    func attest(idNumber: String, statement: String, by caller: Caller) async throws -> IssuedGrant {
        try await refusals.recording(.grantRefused, clientID: caller.clientID) { record in
            try await attest(idNumber: idNumber, statement: statement, by: caller, noting: &record)
        }
    }

    private func attest(idNumber: String, statement: String, by caller: Caller, noting ledger: inout LedgerRecord) async throws -> IssuedGrant {
        let now = clock.now()
        let person = try await identities.person(assertion: caller.assertion, client: caller.clientID, at: now, noting: &ledger)
        let requesterKey = identities.key(person.id)
        let recent = try await consents.attestedGrants(by: requesterKey, since: now.addingTimeInterval(-3600))
        guard recent < configuration.attestedPerHour else { throw Refusal.attestationRateLimited(retryAfter: 3600) }
        let subject = try identities.identityNumber(idNumber, at: now)
        ledger.subjectKey = identities.key(subject)
        ledger.subjectMasked = subject.masked
        let statement = statement.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !statement.isEmpty, statement.count <= ConsentRules.maximumStatementLength else { throw Refusal.invalidStatement }
        let group = try identities.eligibleGroup(of: subject, at: now)
        let legalBasis: LegalBasis
        if group == .child {
            guard configuration.publicHealthEmergency else { throw Refusal.guardianConsentRequired }
            legalBasis = .publicHealthEmergency
        } else {
            legalBasis = .consent
        }
        let subjectKey = identities.key(subject)
        let record: SubjectRecord
        do {
            record = try await identities.subject(subjectKey)
        } catch Refusal.unknownSubject {
            // A "no" must cost as a failed consent try does, or the answer is a free oracle of who is known.
            let hour = ClockHour(now)
            let failures = try await consents.countConsentFailure(requester: requesterKey, window: hour.start, grantID: nil)
            guard failures <= configuration.consentFailuresPerHour else { throw Refusal.consentAttemptsExceeded(retryAfter: hour.secondsLeft) }
            throw Refusal.unknownSubject
        }
        let grant = ConsentGrant(
            id: UUID(), subjectKey: record.subjectKey, grantorKey: requesterKey, relation: .attested, guardianshipID: nil,
            granteeKey: requesterKey, legalBasis: legalBasis, method: .attestedVerbal, validFrom: now,
            validUntil: now.addingTimeInterval(ConsentRules.attestedValidity), maxUses: 1)
        let token = ConsentToken.random()
        try await store(grant, token: token, statement: statement, grantor: person, subjectMasked: record.maskedID, clientID: caller.clientID)
        return IssuedGrant(grant: grant, token: token, maskedID: record.maskedID, isNew: true)
    }

    /// Withdraws a grant at once. Only its grantor may; withdrawing twice changes nothing.
    func withdraw(grantID: UUID, by caller: Caller) async throws {
        let now = clock.now()
        let person = try await identities.person(assertion: caller.assertion, client: caller.clientID, at: now)
        let grant = try await grantOfGrantor(grantID, person: person)
        let record = LedgerRecord(
            kind: .grantWithdrawn, clientID: caller.clientID, requesterKey: grant.grantorKey, requesterMasked: person.id.masked,
            subjectKey: grant.subjectKey, grantID: grantID, method: grant.method, legalBasis: grant.legalBasis)
        _ = try await consents.withdrawGrant(id: grantID, ledger: record)
    }

    /// The grant's fields, signed as a code of kind `receipt`, for its grantor.
    func receipt(grantID: UUID, by caller: Caller) async throws -> String {
        let now = clock.now()
        let person = try await identities.person(assertion: caller.assertion, client: caller.clientID, at: now)
        let grant = try await grantOfGrantor(grantID, person: person)
        let record = try await identities.subject(grant.subjectKey)
        let issuedAt = now.unixSeconds
        let claims = CodeClaims(
            issuer: signer.issuer, issuedAt: issuedAt, expiresAt: issuedAt + configuration.offlineCodeLifetime,
            codeID: CodeSigner.newCodeID(), kind: .receipt, maskedName: record.maskedName, maskedID: record.maskedID,
            ageGroup: "",
            extra: [
                "grant": .text(grant.id.uuidString.lowercased()), "purpose": .text(ConsentRules.purpose),
                "method": .text(grant.method.rawValue), "basis": .text(grant.legalBasis.rawValue),
                "relation": .text(grant.relation.rawValue), "from": .int(grant.validFrom.unixSeconds),
                "until": .int(grant.validUntil.unixSeconds), "max_uses": .int(Int64(grant.maxUses)),
                "uses": .int(Int64(grant.uses)), "status": .text(grant.withdrawnAt == nil ? "active" : "withdrawn"),
                "grantee": .bool(grant.granteeKey != nil),
            ])
        return try signer.sign(claims)
    }

    /// The grant, if this person made it; `notFound` for someone else's, so ids reveal nothing.
    private func grantOfGrantor(_ id: UUID, person: VerifiedPerson) async throws -> ConsentGrant {
        guard let grant = try await consents.grant(id: id), identities.key(person.id).matches(grant.grantorKey) else { throw Refusal.notFound }
        return grant
    }

    private func store(
        _ grant: ConsentGrant, token: ConsentToken, statement: String?, grantor: VerifiedPerson, subjectMasked: String, clientID: UUID
    ) async throws {
        let record = LedgerRecord(
            kind: .grantCreated, clientID: clientID, requesterKey: grant.grantorKey, requesterMasked: grantor.id.masked,
            subjectKey: grant.subjectKey, subjectMasked: subjectMasked, grantID: grant.id, method: grant.method,
            legalBasis: grant.legalBasis)
        try await consents.createGrant(grant, tokenHash: personalData.tokenHash(token), statement: statement, ledger: record)
    }

    /// A UUID made from a derived token's characters (its 80 bits, as a version-4-shaped UUID).
    static func uuid(from token: ConsentToken) -> UUID {
        var bytes = Array(SHA256.hash(data: Array(token.canonical.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }
}
