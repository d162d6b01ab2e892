import Foundation

/// `ConsentStore` in memory: the twin that `ConsentStoreContractTests` holds to the same
/// contract as `PostgresConsentStore`. An actor, so each method is as atomic as the
/// PostgreSQL transaction it mirrors.
public actor InMemoryConsentStore: ConsentStore {
    struct StoredGuardianship {
        var guardianship: Guardianship
        var removedAt: Date?
        var removed: Bool { removedAt != nil }
    }

    struct StoredGrant {
        var grant: ConsentGrant
        var tokenHash: [UInt8]
        var statement: String?
        var createdAt: Date
    }

    struct StoredAnswer {
        var answer: IdempotentAnswer
        var createdAt: Date
    }

    struct AnswerKey: Hashable {
        var clientID: UUID
        var key: String
    }

    var guardianshipRows: [StoredGuardianship] = []
    var grantRows: [UUID: StoredGrant] = [:]
    var answers: [AnswerKey: StoredAnswer] = [:]
    var entries: [StoredLedgerRecord] = []
    var assertionBindings: [[UInt8]: (clientID: UUID, expiresAt: Date)] = [:]
    var consentFailures: [SubjectKey: (window: Date, failures: Int)] = [:]
    /// Codes issued per `IssueLimit` window.
    var issueWindows: [String: (start: Date, hits: Int)] = [:]
    var offlineCodes: (any OfflineCodeStore)?
    let clock: @Sendable () -> Date

    /// `clock` stands for the database's `now()`: when rows are created, withdrawn and recorded.
    public init(clock: @escaping @Sendable () -> Date = { Date() }) {
        self.clock = clock
    }

    /// Each entry's canonical fields, digest and leaf hash, fixed when it is appended as the
    /// ledger's trigger fixes them, so a purge keeps them.
    var audited: [LedgerAudit.EntryFields] = []

    func append(_ record: LedgerRecord) {
        let stored = StoredLedgerRecord(seq: Int64(entries.count + 1), at: clock(), record: record)
        entries.append(stored)
        var generator = SystemRandomNumberGenerator()
        audited.append(LedgerAudit.EntryFields(stored, salt: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }))
    }

    /// The entries as `ledger verify` reads them.
    public func auditEntries() -> [LedgerAudit.EntryFields] { audited }

    /// Stored records in sequence order, purged ones included.
    public func storedRecords() -> [StoredLedgerRecord] { entries }

    public func record(_ ledger: LedgerRecord) async throws { append(ledger) }

    public func record(_ records: [LedgerRecord]) async throws { records.forEach(append) }

    // MARK: Grants

    public func createGrant(_ grant: ConsentGrant, tokenHash: [UInt8], statement: String?, ledger: LedgerRecord) async throws {
        grantRows[grant.id] = StoredGrant(grant: grant, tokenHash: tokenHash, statement: statement, createdAt: clock())
        append(ledger)
    }

    /// A grant as stored, with whether its guardianship is still active.
    func current(_ stored: StoredGrant) -> ConsentGrant {
        var grant = stored.grant
        if let id = grant.guardianshipID {
            grant.guardianshipActive = guardianshipRows.contains { $0.guardianship.id == id && !$0.removed && $0.guardianship.isConfirmed }
        }
        return grant
    }

    public func grant(tokenHashes: [[UInt8]]) async throws -> ConsentGrant? {
        grantRows.values.first { tokenHashes.contains($0.tokenHash) }.map(current)
    }

    public func grant(id: UUID) async throws -> ConsentGrant? {
        grantRows[id].map(current)
    }

    public func grants(ofSubject subject: SubjectKey, limit: Int) async throws -> [ConsentGrant] {
        let now = clock()
        func acts(_ grant: ConsentGrant) -> Int {
            grant.withdrawnAt == nil && grant.uses < grant.maxUses && grant.validUntil > now && grant.failedTries < ConsentGrant.failedTryLimit
                ? 1 : 0
        }
        let mine = grantRows.values.filter { subject.matches($0.grant.subjectKey) }.map(current)
        return Array(
            mine.sorted { (acts($0), $0.validFrom, $0.id.uuidString) > (acts($1), $1.validFrom, $1.id.uuidString) }.prefix(max(0, limit)))
    }

    public func checkConsent(
        tokenHashes: [[UInt8]], subject: SubjectKey, requester: SubjectKey, window: Date, grantLimit: Int, requesterLimit: Int
    ) async throws -> ConsentCheck {
        let failures = consentFailures[requester].flatMap { $0.window == window ? $0.failures : nil } ?? 0
        if failures >= requesterLimit { return .requesterLocked }
        let grant = grantRows.values.first { tokenHashes.contains($0.tokenHash) }?.grant
        if let grant, subject.matches(grant.subjectKey), grant.failedTries < grantLimit, grant.granteeKey.map(requester.matches) ?? true {
            return .fits(grantID: grant.id)
        }
        return .unfit(grantID: grant?.id, requesterFailures: try await countConsentFailure(requester: requester, window: window, grantID: grant?.id))
    }

    public func countConsentFailure(requester: SubjectKey, window: Date, grantID: UUID?) async throws -> Int {
        if let grantID { grantRows[grantID]?.grant.failedTries += 1 }
        let failures = (consentFailures[requester].flatMap { $0.window == window ? $0.failures : nil } ?? 0) + 1
        consentFailures[requester] = (window, failures)
        return failures
    }

    public func withdrawGrant(id: UUID, ledger: LedgerRecord) async throws -> ConsentGrant? {
        guard let stored = grantRows[id] else { return nil }
        let before = current(stored)
        if stored.grant.withdrawnAt == nil {
            grantRows[id]?.grant.withdrawnAt = clock()
            append(ledger)
        }
        return before
    }

    public func attestedGrants(by requester: SubjectKey, since: Date) async throws -> Int {
        grantRows.values.filter { $0.grant.method == .attestedVerbal && requester.matches($0.grant.grantorKey) && $0.createdAt >= since }.count
    }

    // MARK: Lookups

    public func consume(
        grantID: UUID, subject: SubjectKey, requester: SubjectKey, at now: Date, ledger: LedgerRecord,
        idempotency: (clientID: UUID, key: String, answer: IdempotentAnswer)?, issueLimit: IssueLimit?
    ) async throws -> ConsentRefusal? {
        var window: (start: Date, hits: Int)?
        if let issueLimit {
            window = issueWindows[issueLimit.key].flatMap { now.timeIntervalSince($0.start) < issueLimit.window ? $0 : nil } ?? (now, 0)
            if let window, window.hits >= issueLimit.limit {
                throw IssueLimitReached(windowStart: window.start.timeIntervalSince1970, window: issueLimit.window, now: now.timeIntervalSince1970)
            }
        }
        guard let stored = grantRows[grantID] else { return .invalid }
        let grant = current(stored)
        if let refusal = grant.refusal(subject: subject, requester: requester, at: now) { return refusal }
        if let idempotency {
            let key = AnswerKey(clientID: idempotency.clientID, key: idempotency.key)
            if answers[key] != nil { throw IdempotencyKeyTaken() }
            answers[key] = StoredAnswer(answer: idempotency.answer, createdAt: clock())
        }
        grantRows[grantID]?.grant.uses += 1
        append(ledger)
        if let issueLimit, let window { issueWindows[issueLimit.key] = (window.start, window.hits + 1) }
        return nil
    }

    // MARK: Assertion bindings

    public func bindAssertion(_ hashes: [[UInt8]], version: Int16, to clientID: UUID, until expiresAt: Date) async throws -> UUID {
        if let bound = hashes.lazy.compactMap({ self.assertionBindings[$0] }).first { return bound.clientID }
        assertionBindings[hashes[0]] = (clientID, expiresAt)
        return clientID
    }

    public func deleteAssertionBindings(expiredBefore cutoff: Date) async throws {
        assertionBindings = assertionBindings.filter { $0.value.expiresAt >= cutoff }
    }

    public func idempotentAnswer(clientID: UUID, key: String, notBefore: Date) async throws -> IdempotentAnswer? {
        guard let stored = answers[AnswerKey(clientID: clientID, key: key)], stored.createdAt >= notBefore else { return nil }
        return stored.answer
    }

    public func ledger(after seq: Int64, limit: Int) async throws -> [StoredLedgerRecord] {
        Array(entries.filter { $0.seq > seq }.prefix(limit))
    }

    public func purge(before cutoff: Date) async throws -> PurgeCounts {
        var counts = PurgeCounts()
        for index in entries.indices where entries[index].at < cutoff && audited[index].personal != nil {
            entries[index].record.requesterKey = nil
            entries[index].record.requesterMasked = nil
            entries[index].record.subjectKey = nil
            entries[index].record.subjectMasked = nil
            audited[index].personal = nil
            counts["entries"] += 1
        }
        // Only what has ended by now goes, whatever the cutoff (as `passby_purge` does).
        let horizon = min(cutoff, clock())
        let grants = grantRows.filter { _, row in row.grant.validUntil < horizon || row.grant.withdrawnAt.map { $0 < horizon } == true }
        for key in grants.keys { grantRows[key] = nil }
        counts["grants"] = grants.count
        let named = Set(grantRows.values.compactMap(\.grant.guardianshipID))
        let before = guardianshipRows.count
        guardianshipRows.removeAll { row in
            let lapsed = !row.guardianship.isConfirmed && !row.guardianship.codeSaved && row.guardianship.createdAt < horizon
            let ended = row.removedAt.map { $0 < horizon } ?? lapsed
            return ended && !named.contains(row.guardianship.id)
        }
        counts["guardianships"] = before - guardianshipRows.count
        if let codes = offlineCodes as? InMemoryOfflineCodeStore { counts["offline_codes"] = await codes.purge(before: horizon) }
        let answers = answers.filter { $0.value.createdAt < horizon }
        for key in answers.keys { self.answers[key] = nil }
        counts["idempotent_answers"] = answers.count
        let bindings = assertionBindings.filter { $0.value.expiresAt < horizon }
        for key in bindings.keys { assertionBindings[key] = nil }
        counts["assertion_bindings"] = bindings.count
        let failures = consentFailures.filter { $0.value.window < min(cutoff, clock().addingTimeInterval(-3600)) }
        for key in failures.keys { consentFailures[key] = nil }
        counts["consent_failures"] = failures.count
        append(LedgerRecord(kind: .purge, result: counts.summary(before: cutoff)))
        return counts
    }
}
