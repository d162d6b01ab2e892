import Consent
import Crypto
import Display
import Foundation
import Metrics

/// The passer-by lookup. Checks, in order: the requester's assertion, a stored answer for an
/// idempotent retry, the subject's ID number, eligibility, rate limits, the requester's failed
/// consent tries, the consent token and grant, the subject's status; then takes one use of the
/// grant and writes the issued record in one statement, and only after it commits signs the
/// display code.
///
/// Every refusal is counted in `passby_lookup_refusals`. It is also written to the ledger when
/// the requester is known (their assertion verified), except a rate-limited lookup after the
/// window's first: a stranger cannot fill the ledger, and neither can one person at wire speed.
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
    let rateLimits: any RateLimitCounter
    let signer: CodeSigner
    let configuration: PassbyConfiguration
    let clock: any PassbyClock

    func lookup(_ request: Request) async throws -> IssuedCode {
        let now = clock.now()
        var attempt = Attempt(record: LedgerRecord(kind: .lookupRefused, clientID: request.clientID))
        let claims: CodeClaims
        do {
            claims = try await checkAndConsume(request, now: now, attempt: &attempt)
        } catch let refusal as Refusal {
            Counter(label: "passby_lookup_refusals", dimensions: [("reason", refusal.reason)]).increment()
            if attempt.recorded && attempt.record.requesterKey != nil {
                attempt.record.kind = .lookupRefused
                attempt.record.result = refusal.reason
                try await ledger.record(attempt.record)
            }
            throw refusal
        }
        // The record has committed: only now is the code signed and shown.
        return IssuedCode(code: try signer.sign(claims), claims: claims)
    }

    /// What the checks established so far, for the refusal's ledger record.
    private struct Attempt {
        var record: LedgerRecord
        /// False for a refusal not worth a ledger row (a repeated rate-limited lookup).
        var recorded = true
    }

    /// Runs the checks in order, filling `attempt` with what each established, and takes the use.
    private func checkAndConsume(_ request: Request, now: Date, attempt: inout Attempt) async throws -> CodeClaims {
        let person = try await identities.person(assertion: request.assertion, client: request.clientID, at: now, noting: &attempt.record)
        let requesterKey = identities.key(person.id)

        // Under each server-secret version a lookup tries, so that a retry across a rotation is known.
        let requestHashes = requesterKey.lookupBytes.map { Array(SHA256.hash(data: request.bodyDigest + $0)) }
        let requestHash = requestHashes[0]
        if let key = request.idempotencyKey,
            let stored = try await storedAnswer(client: request.clientID, key: key, hashes: requestHashes, now: now)
        {
            return stored
        }

        let subject = try identities.identityNumber(request.idNumber, at: now)
        let subjectKey = identities.key(subject)
        attempt.record.subjectKey = subjectKey
        attempt.record.subjectMasked = subject.masked
        let group = try identities.eligibleGroup(of: subject, at: now)

        let nowSeconds = now.timeIntervalSince1970
        // Counted where every instance counts (one statement for both keys).
        if let limited = try await rateLimits.hit(
            [
                ("requester:\(requesterKey)", configuration.lookupsPerMinutePerRequester),
                ("client:\(request.clientID)", configuration.lookupsPerMinutePerClient),
            ], window: 60, now: nowSeconds)
        {
            attempt.recorded = limited.first
            throw Refusal.lookupRateLimited(retryAfter: limited.retryAfter)
        }
        let (grant, storedSubject) = try await usableGrant(
            request.consentToken, subject: subjectKey, requester: requesterKey, now: now, attempt: &attempt)
        // Read with the check when the store could; else now.
        var status: SubjectRecord
        if let storedSubject { status = storedSubject } else { status = try await identities.subject(grant.subjectKey) }

        let issuedAt = now.unixSeconds
        let claims = CodeClaims(
            issuer: signer.issuer, issuedAt: issuedAt, expiresAt: issuedAt + configuration.displayCodeLifetime,
            codeID: CodeSigner.newCodeID(), kind: .display, maskedName: status.maskedName, maskedID: status.maskedID,
            ageGroup: group.rawValue, status: status.status.rawValue, statusTime: status.asOf.unixSeconds)
        var issued = attempt.record
        issued.kind = .lookupIssued
        issued.result = "ok"
        issued.codeID = claims.codeID
        issued.codeExpiry = Date(unixSeconds: claims.expiresAt)
        let answer = IdempotentAnswer(requestHash: requestHash, claims: claims.cbor.encoded())
        let idempotency = request.idempotencyKey.map { (clientID: request.clientID, key: $0, answer: answer) }
        // The subject's limit counts codes issued, not tries, and is looked at only with a token that
        // fits, by the store as it takes the use: bogus lookups can neither block a person nor learn
        // how often they were looked up.
        let issueLimit = IssueLimit(key: "subject:\(subjectKey)", limit: configuration.lookupsPerMinutePerSubject, window: 60)
        let refusal: ConsentRefusal?
        do {
            refusal = try await consents.consume(
                grantID: grant.id, subject: subjectKey, requester: requesterKey, at: now, ledger: issued, idempotency: idempotency,
                issueLimit: issueLimit)
        } catch let limited as IssueLimitReached {
            // A retry that waited while its first copy took the window's last code: answer as it did.
            if let key = request.idempotencyKey,
                let stored = try await storedAnswer(client: request.clientID, key: key, hashes: requestHashes, now: now)
            {
                return stored
            }
            throw Refusal.lookupRateLimited(retryAfter: limited.retryAfter)
        } catch is IdempotencyKeyTaken {
            // A concurrent retry with the same key committed first: answer as it did.
            if let key = request.idempotencyKey,
                let stored = try await storedAnswer(client: request.clientID, key: key, hashes: requestHashes, now: now)
            {
                return stored
            }
            throw Refusal.idempotencyKeyReused
        }
        if let refusal { throw Refusal.consent(refusal) }
        return claims
    }

    /// The grant the token names, if it can serve this lookup. The store decides and counts in
    /// one step: a requester with too many failed tries this hour is refused before the token is
    /// looked at, and a token that is unknown, locked, another person's or someone else's is
    /// `consent-invalid`, all alike, counted for the requester and on the grant.
    private func usableGrant(
        _ text: String, subject: SubjectKey, requester: SubjectKey, now: Date, attempt: inout Attempt
    ) async throws -> (ConsentGrant, SubjectRecord?) {
        let hour = ClockHour(now)
        // A text that is no token at all is checked as an unknown token (an empty hash matches none): it counts the same.
        let tokenHashes = ConsentToken(parsing: text).map(identities.personalData.tokenHashes) ?? [[]]
        let reading = try await consents.checkConsentReading(
            tokenHashes: tokenHashes, subject: subject, requester: requester, window: hour.start,
            grantLimit: ConsentGrant.failedTryLimit, requesterLimit: configuration.consentFailuresPerHour)
        switch reading.check {
        case .requesterLocked:
            throw Refusal.consentAttemptsExceeded(retryAfter: hour.secondsLeft)
        case .unfit(let grantID, _):
            attempt.record.grantID = grantID
            throw Refusal.consent(.invalid)
        case .fits(let grantID):
            // A grant made while the check ran may be missing from its reading: read it now.
            var read = reading.grant
            if read == nil { read = try await consents.grant(id: grantID) }
            guard let grant = read else { throw Refusal.consent(.invalid) }
            attempt.record.grantID = grant.id
            attempt.record.method = grant.method
            attempt.record.legalBasis = grant.legalBasis
            if let refusal = grant.refusal(subject: subject, requester: requester, at: now) { throw Refusal.consent(refusal) }
            return (grant, reading.subject)
        }
    }

    /// The claims stored for an earlier request with this key; `idempotencyKeyReused` if its body
    /// (or requester) differed. `hashes` is the request's hash under each version a lookup tries.
    private func storedAnswer(client: UUID, key: String, hashes: [[UInt8]], now: Date) async throws -> CodeClaims? {
        guard
            let stored = try await consents.idempotentAnswer(
                clientID: client, key: key, notBefore: now.addingTimeInterval(-Self.idempotencyWindow))
        else { return nil }
        guard hashes.contains(stored.requestHash) else { throw Refusal.idempotencyKeyReused }
        guard let item = try? CBORDecoder.decode(stored.claims), let claims = CodeClaims(cbor: item) else { return nil }
        return claims
    }
}
