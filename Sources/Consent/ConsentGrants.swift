import Foundation

/// How a grant was given (docs/format.md §4).
public enum GrantMethod: String, Sendable, Codable {
    case guardianApp = "guardian-app"
    case terminal
    case attestedVerbal = "attested-verbal"
}

/// Why processing is lawful: consent, or a public-health emergency the operator declared.
public enum LegalBasis: String, Sendable, Codable {
    case consent
    case publicHealthEmergency = "public-health-emergency"
}

/// Who granted, relative to the subject.
public enum GrantorRelation: String, Sendable, Codable {
    /// An elderly subject, for themselves, at a terminal.
    case selfGranted = "self"
    /// A registered guardian.
    case guardian
    /// A passer-by's attestation of the subject's spoken consent.
    case attested
}

/// A consent grant as stored.
public struct ConsentGrant: Sendable, Equatable {
    public var id: UUID
    public var subjectKey: SubjectKey
    public var grantorKey: SubjectKey
    public var relation: GrantorRelation
    public var guardianshipID: UUID?
    public var granteeKey: SubjectKey?
    public var legalBasis: LegalBasis
    public var method: GrantMethod
    public var validFrom: Date
    public var validUntil: Date
    public var maxUses: Int
    public var uses: Int
    public var withdrawnAt: Date?
    /// False once the guardianship it was given through has been removed.
    public var guardianshipActive: Bool
    /// How many lookups sent this token with another person's ID number, or came from someone
    /// it was not given to.
    public var failedTries: Int

    /// Failed tries after which a token is locked for good: `consent-invalid` for everyone.
    public static let failedTryLimit = 5

    public init(
        id: UUID, subjectKey: SubjectKey, grantorKey: SubjectKey, relation: GrantorRelation, guardianshipID: UUID?,
        granteeKey: SubjectKey?, legalBasis: LegalBasis, method: GrantMethod, validFrom: Date, validUntil: Date,
        maxUses: Int, uses: Int = 0, withdrawnAt: Date? = nil, guardianshipActive: Bool = true,
        failedTries: Int = 0
    ) {
        self.id = id
        self.subjectKey = subjectKey
        self.grantorKey = grantorKey
        self.relation = relation
        self.guardianshipID = guardianshipID
        self.granteeKey = granteeKey
        self.legalBasis = legalBasis
        self.method = method
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.maxUses = maxUses
        self.uses = uses
        self.withdrawnAt = withdrawnAt
        self.guardianshipActive = guardianshipActive
        self.failedTries = failedTries
    }

    /// Why this grant cannot serve a lookup of `subject` by `requester` now, or nil if it can.
    ///
    /// A grant that is locked, names another person or was given to someone else is, to this
    /// requester, no token at all: `invalid`, exactly as an unknown token, so that the answer never
    /// confirms whose ID number a token was given for. Only then does its state speak.
    public func refusal(subject: SubjectKey, requester: SubjectKey, at now: Date) -> ConsentRefusal? {
        if failedTries >= Self.failedTryLimit || !subject.matches(subjectKey) { return .invalid }
        if let granteeKey, !requester.matches(granteeKey) { return .invalid }
        if withdrawnAt != nil || !guardianshipActive { return .withdrawn }
        if now >= validUntil || now < validFrom { return .expired }
        if uses >= maxUses { return .used }
        return nil
    }
}

/// A lookup's consent check with what the lookup reads next when the token fits: the grant, and
/// the subject's stored record (nil when the store reads them apart, or the subject is unknown).
public struct ConsentCheckReading: Sendable {
    public var check: ConsentCheck
    public var grant: ConsentGrant?
    public var subject: SubjectRecord?

    public init(check: ConsentCheck, grant: ConsentGrant? = nil, subject: SubjectRecord? = nil) {
        self.check = check
        self.grant = grant
        self.subject = subject
    }
}

extension ConsentStore {
    /// `checkConsent`, then the grant it fits; a store that can do both in one statement does
    /// (`PostgresConsentStore`, with the subject's record too: one round trip where there were three).
    public func checkConsentReading(
        tokenHashes: [[UInt8]], subject: SubjectKey, requester: SubjectKey, window: Date, grantLimit: Int, requesterLimit: Int
    ) async throws -> ConsentCheckReading {
        let check = try await checkConsent(
            tokenHashes: tokenHashes, subject: subject, requester: requester, window: window, grantLimit: grantLimit,
            requesterLimit: requesterLimit)
        guard case .fits(let id) = check else { return ConsentCheckReading(check: check) }
        return ConsentCheckReading(check: check, grant: try await grant(id: id))
    }

    /// The grant stored under `tokenHash`.
    public func grant(tokenHash: [UInt8]) async throws -> ConsentGrant? {
        try await grant(tokenHashes: [tokenHash])
    }

    /// `checkConsent` for a token hash under the only version there is.
    public func checkConsent(
        tokenHash: [UInt8], subject: SubjectKey, requester: SubjectKey, window: Date, grantLimit: Int, requesterLimit: Int
    ) async throws -> ConsentCheck {
        try await checkConsent(
            tokenHashes: [tokenHash], subject: subject, requester: requester, window: window, grantLimit: grantLimit,
            requesterLimit: requesterLimit)
    }
}

/// What `ConsentStore.checkConsent` decided.
public enum ConsentCheck: Sendable, Hashable {
    /// The requester has had their failed tries this hour.
    case requesterLocked
    /// The token fits; the grant's own state decides next.
    case fits(grantID: UUID)
    /// Unknown, another person's, someone else's or locked; counted.
    case unfit(grantID: UUID?, requesterFailures: Int)
}

/// Why a consent token did not let a lookup through; the raw values are the problem reasons.
public enum ConsentRefusal: String, Error, Sendable, CaseIterable {
    case invalid = "consent-invalid"
    case expired = "consent-expired"
    case used = "consent-used"
    case withdrawn = "consent-withdrawn"
}

extension ConsentStore {
    /// `consume` without a limit on codes issued.
    public func consume(
        grantID: UUID, subject: SubjectKey, requester: SubjectKey, at now: Date, ledger: LedgerRecord,
        idempotency: (clientID: UUID, key: String, answer: IdempotentAnswer)?
    ) async throws -> ConsentRefusal? {
        try await consume(
            grantID: grantID, subject: subject, requester: requester, at: now, ledger: ledger, idempotency: idempotency, issueLimit: nil)
    }
}

/// At most `limit` codes issued for one subject per `window` seconds, in a fixed window named
/// `key` that every instance shares. `consume` looks at it and counts in it with the use that
/// issues a code, so tries that fail neither use it up nor learn how often a person was looked up.
public struct IssueLimit: Sendable, Equatable {
    public var key: String
    public var limit: Int
    public var window: TimeInterval

    public init(key: String, limit: Int, window: TimeInterval) {
        self.key = key
        self.limit = limit
        self.window = window
    }
}

/// `consume` found the subject's `IssueLimit` reached; nothing was used.
public struct IssueLimitReached: Error, Equatable {
    /// Seconds until the window ends.
    public var retryAfter: Int

    public init(retryAfter: Int) { self.retryAfter = retryAfter }

    /// The refusal for a window that began at `start` (Unix seconds) and lasts `window` seconds.
    public init(windowStart start: Double, window: TimeInterval, now: Double) {
        retryAfter = max(1, Int((start + window - now).rounded(.up)))
    }
}

/// `consume` was given an idempotency key that another request of the same client stored first.
public struct IdempotencyKeyTaken: Error, Equatable {
    public init() {}
}

/// A retried lookup's stored answer.
public struct IdempotentAnswer: Sendable, Equatable {
    public var requestHash: [UInt8]
    /// The encoded claims of the code that was issued.
    public var claims: [UInt8]

    public init(requestHash: [UInt8], claims: [UInt8]) {
        self.requestHash = requestHash
        self.claims = claims
    }
}

/// Storage for family members, grants, the ledger and idempotent answers. Every method that
/// changes state writes its ledger record in the same transaction.
public protocol ConsentStore: LedgerRecorder, GuardianshipStore, AssertionBindingStore {
    func createGrant(_ grant: ConsentGrant, tokenHash: [UInt8], statement: String?, ledger: LedgerRecord) async throws
    /// The grant stored under one of `tokenHashes` (a token's hash under each version a lookup tries).
    func grant(tokenHashes: [[UInt8]]) async throws -> ConsentGrant?
    func grant(id: UUID) async throws -> ConsentGrant?
    /// A lookup's consent check, decided and counted in one atomic step: whether the requester
    /// is locked out this hour, else whether the token (stored under one of `tokenHashes`) fits
    /// `subject` and `requester`; an unfit token counts one failure for the requester (in the hour
    /// starting at `window`) and one on its grant. Concurrent checks of one requester or one token
    /// each see the ones before. Keys match under any version they look up (`SubjectKey.matches`).
    func checkConsent(
        tokenHashes: [[UInt8]], subject: SubjectKey, requester: SubjectKey, window: Date, grantLimit: Int, requesterLimit: Int
    ) async throws -> ConsentCheck
    /// `checkConsent`, and for a token that fits, the grant and the subject's record as they were
    /// when the check began (the consuming statement decides again; these only name a refusal
    /// and fill the code).
    func checkConsentReading(
        tokenHashes: [[UInt8]], subject: SubjectKey, requester: SubjectKey, window: Date, grantLimit: Int, requesterLimit: Int
    ) async throws -> ConsentCheckReading
    /// Counts one failed consent try: on the grant, when the token named one, and for `requester`
    /// in the hour starting at `window` (an earlier hour's count starts again). Returns the
    /// requester's count after it. Atomic: concurrent tries each count.
    func countConsentFailure(requester: SubjectKey, window: Date, grantID: UUID?) async throws -> Int
    /// Withdraws a grant; returns the grant as it was, or nil if there is none.
    func withdrawGrant(id: UUID, ledger: LedgerRecord) async throws -> ConsentGrant?
    /// The grants made in `subject`'s name, newest first, at most `limit`: what the person sees at a terminal.
    func grants(ofSubject subject: SubjectKey, limit: Int) async throws -> [ConsentGrant]
    /// How many attested grants a requester made since `since`.
    func attestedGrants(by requester: SubjectKey, since: Date) async throws -> Int

    /// Atomically takes one use of a grant and writes the issued record (and the answer for retries).
    /// Returns the refusal instead when the grant can no longer serve; throws `IdempotencyKeyTaken`
    /// when the client's idempotency key is stored already, and `IssueLimitReached` when the
    /// subject had its `issueLimit` (nothing is used then). A use taken counts in the limit's window.
    func consume(
        grantID: UUID, subject: SubjectKey, requester: SubjectKey, at: Date, ledger: LedgerRecord,
        idempotency: (clientID: UUID, key: String, answer: IdempotentAnswer)?, issueLimit: IssueLimit?
    ) async throws -> ConsentRefusal?
    func idempotentAnswer(clientID: UUID, key: String, notBefore: Date) async throws -> IdempotentAnswer?

    func record(_ ledger: LedgerRecord) async throws
    /// Ledger records in sequence order (for tests and, later, reviewers).
    func ledger(after seq: Int64, limit: Int) async throws -> [StoredLedgerRecord]
    /// The retention purge, in one transaction: erases the personal fields (and salt) of ledger
    /// entries before `cutoff`, keeping their digest and leaf hash, deletes what ended before it
    /// in every other table with personal data, and records itself.
    func purge(before cutoff: Date) async throws -> PurgeCounts
}
