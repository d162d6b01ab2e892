import Consent
import Crypto
import Display
import Foundation
import Metrics

/// The passer-by lookup. Checks, in order: the requester's assertion, a stored answer for an
/// idempotent retry, the subject's ID number, eligibility, rate limits, the consent token and
/// grant, the subject's status; then takes one use of the grant and writes the issued record in
/// one statement, and only after it commits signs the display code. Every refusal is recorded in
/// the ledger with its reason and counted in `passby_lookup_refusals`.
struct LookupService: Sendable {
    /// What a helper or gateway asks for, already decoded.
    struct Request: Sendable {
        var clientID: UUID
        var assertion: String?
        var idNumber: String
        var consentToken: String
        var idempotencyKey: String?
        /// SHA-256 of the request body: a retry with the same key must send the same body.
        var bodyDigest: [UInt8]
    }

    /// An issued display code.
    struct IssuedCode: Sendable {
        var code: String
        var claims: CodeClaims
    }

    /// How long an idempotent answer is kept for retries.
    static let idempotencyWindow: TimeInterval = 86_400

    let identities: Identities
    let consents: any ConsentStore
    let ledger: LedgerBatchWriter
    let rateLimiter: RateLimiter
    let signer: CodeSigner
    let configuration: PassbyConfiguration
    let clock: any PassbyClock

    func lookup(_ request: Request) async throws -> IssuedCode {
        let now = clock.now()
        var record = LedgerRecord(kind: .lookupRefused, clientID: request.clientID)
        let claims: CodeClaims
        do {
            claims = try await checkAndConsume(request, now: now, record: &record)
        } catch let refusal as Refusal {
            record.kind = .lookupRefused
            record.result = refusal.reason
            Counter(label: "passby_lookup_refusals", dimensions: [("reason", refusal.reason)]).increment()
            try await ledger.record(record)
            throw refusal
        }
        // The record has committed: only now is the code signed and shown.
        return IssuedCode(code: try signer.sign(claims), claims: claims)
    }

    /// Runs the checks in order, filling `record` with what each established, and takes the use.
    private func checkAndConsume(_ request: Request, now: Date, record: inout LedgerRecord) async throws -> CodeClaims {
        let person = try await identities.person(assertion: request.assertion, client: request.clientID, at: now)
        let requesterKey = identities.key(person.id)
        record.requesterKey = requesterKey
        record.requesterMasked = person.id.masked

        let requestHash = Array(SHA256.hash(data: request.bodyDigest + requesterKey.bytes))
        if let key = request.idempotencyKey, let stored = try await storedAnswer(client: request.clientID, key: key, hash: requestHash, now: now) {
            return stored
        }

        let subject = try identities.identityNumber(request.idNumber, at: now)
        let subjectKey = identities.key(subject)
        record.subjectKey = subjectKey
        record.subjectMasked = subject.masked
        let group = try identities.eligibleGroup(of: subject, at: now)

        let nowSeconds = now.timeIntervalSince1970
        for (key, limit) in [
            ("requester:\(requesterKey)", configuration.lookupsPerMinutePerRequester),
            ("subject:\(subjectKey)", configuration.lookupsPerMinutePerSubject),
            ("client:\(request.clientID)", configuration.lookupsPerMinutePerClient),
        ] {
            if let retryAfter = rateLimiter.hit(key, limit: limit, now: nowSeconds) { throw Refusal.lookupRateLimited(retryAfter: retryAfter) }
        }

        guard let token = ConsentToken(parsing: request.consentToken),
            let grant = try await consents.grant(tokenHash: identities.personalData.tokenHash(token))
        else { throw Refusal.consent(.invalid) }
        record.grantID = grant.id
        record.method = grant.method
        record.legalBasis = grant.legalBasis
        if let refusal = grant.refusal(subject: subjectKey, requester: requesterKey, at: now) {
            throw Refusal.consent(refusal == .wrongSubject ? try await countWrongSubject(grant) : refusal)
        }
        let status = try await identities.subject(subjectKey)

        let issuedAt = now.unixSeconds
        let claims = CodeClaims(
            issuer: signer.issuer, issuedAt: issuedAt, expiresAt: issuedAt + configuration.displayCodeLifetime,
            codeID: CodeSigner.newCodeID(), kind: .display, maskedName: status.maskedName, maskedID: status.maskedID,
            ageGroup: group.rawValue, status: status.status.rawValue, statusTime: status.asOf.unixSeconds)
        var issued = record
        issued.kind = .lookupIssued
        issued.result = "ok"
        issued.codeID = claims.codeID
        issued.codeExpiry = Date(unixSeconds: claims.expiresAt)
        let answer = IdempotentAnswer(requestHash: requestHash, claims: claims.cbor.encoded())
        let idempotency = request.idempotencyKey.map { (clientID: request.clientID, key: $0, answer: answer) }
        let refusal: ConsentRefusal?
        do {
            refusal = try await consents.consume(
                grantID: grant.id, subject: subjectKey, requester: requesterKey, at: now, ledger: issued, idempotency: idempotency)
        } catch is IdempotencyKeyTaken {
            // A concurrent retry with the same key committed first: answer as it did.
            if let key = request.idempotencyKey,
                let stored = try await storedAnswer(client: request.clientID, key: key, hash: requestHash, now: now)
            {
                return stored
            }
            throw Refusal.idempotencyKeyReused
        }
        if let refusal { throw Refusal.consent(refusal) }
        return claims
    }

    /// Counts a live token sent with another person's ID number. Past the limit the answer is
    /// `consent-locked`, also for concurrent tries that all read the grant before any counted.
    private func countWrongSubject(_ grant: ConsentGrant) async throws -> ConsentRefusal {
        let tries = try await consents.countWrongSubject(grantID: grant.id) ?? .max
        return tries > ConsentGrant.wrongSubjectTryLimit ? .locked : .wrongSubject
    }

    /// The claims stored for an earlier request with this key; `idempotencyKeyReused` if its body differed.
    private func storedAnswer(client: UUID, key: String, hash: [UInt8], now: Date) async throws -> CodeClaims? {
        guard
            let stored = try await consents.idempotentAnswer(
                clientID: client, key: key, notBefore: now.addingTimeInterval(-Self.idempotencyWindow))
        else { return nil }
        guard stored.requestHash == hash else { throw Refusal.idempotencyKeyReused }
        guard let item = try? CBORDecoder.decode(stored.claims), let claims = CodeClaims(cbor: item) else { return nil }
        return claims
    }
}
