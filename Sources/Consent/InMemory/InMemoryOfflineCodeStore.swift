import Foundation

/// `OfflineCodeStore` in memory, held to the same contract as `PostgresOfflineCodeStore`. Its
/// ledger records go to `ledger`, as the PostgreSQL store writes them in the same transaction.
public actor InMemoryOfflineCodeStore: OfflineCodeStore {
    struct Generation {
        var reference: [UInt8]
        var number: Int64
    }

    var generations: [SubjectKey: Generation] = [:]
    var codes: [UUID: OfflineCodeRecord] = [:]
    let ledger: any LedgerRecorder & GuardianshipStore

    /// `ledger` also answers whether a guardian's registration still stands when a code is issued for them.
    public init(ledger: any LedgerRecorder & GuardianshipStore) {
        self.ledger = ledger
    }

    public func issue(
        subject: SubjectKey, subjectReference: [UInt8], mode: OfflineIssue, at now: Date, ledger record: LedgerRecord, guardianship: UUID?,
        claims: @escaping @Sendable (Int64, UUID) throws -> (claims: [UInt8], issuedAt: Date, expiresAt: Date)
    ) async throws -> OfflineIssueOutcome {
        if let guardianship, try await ledger.guardianship(id: guardianship)?.isConfirmed != true { throw GuardianshipGone() }
        let current = generations[subject]
        if mode == .currentOrNew, let current,
            let existing = codes.values.first(where: { $0.subjectKey == subject && $0.generation == current.number && $0.expiresAt > now })
        {
            return OfflineIssueOutcome(code: existing, isNew: false)
        }
        let next = (current?.number ?? 0) + 1
        let id = UUID()
        // Built before anything changes: a throwing builder leaves the store as it was, like a rollback.
        let built = try claims(next, id)
        let code = OfflineCodeRecord(
            id: id, subjectKey: subject, generation: next, claims: built.claims, issuedAt: built.issuedAt, expiresAt: built.expiresAt)
        // A new generation carries the reference its code was built with (the secret may have moved on).
        generations[subject] = Generation(reference: subjectReference, number: next)
        codes[id] = code
        try await ledger.record([record])
        return OfflineIssueOutcome(code: code, isNew: true)
    }

    public func retire(subject: SubjectKey, ledger record: LedgerRecord) async throws -> Int64? {
        guard var generation = generations[subject] else { return nil }
        generation.number += 1
        generations[subject] = generation
        var record = record
        record.result = "generation=\(generation.number)"
        try await ledger.record([record])
        return generation.number
    }

    public func currentCode(subject: SubjectKey) async throws -> OfflineCodeRecord? {
        guard let generation = generations[subject] else { return nil }
        return codes.values.first { $0.subjectKey == subject && $0.generation == generation.number }
    }

    public func code(id: UUID) async throws -> OfflineCodeRecord? { codes[id] }

    /// The retention purge's share: codes expired, or replaced by a later generation, before `cutoff`.
    func purge(before cutoff: Date) -> Int {
        let gone = codes.values.filter { code in
            code.expiresAt < cutoff || (code.issuedAt < cutoff && code.generation < (generations[code.subjectKey]?.number ?? 0))
        }
        for code in gone { codes[code.id] = nil }
        return gone.count
    }

    public func currentGeneration(subjectReference: [UInt8]) async throws -> (subject: SubjectKey, generation: Int64)? {
        generations.first { $0.value.reference == subjectReference }.map { ($0.key, $0.value.number) }
    }
}
