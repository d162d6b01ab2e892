import Consent
import Foundation
import Testing

/// `OfflineCodeStore`'s contract, held by the in-memory twin and by PostgreSQL alike.
@Suite("Offline code storage", .timeLimit(.minutes(5)))
struct OfflineCodeStoreContractTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)

    func issue(_ stores: ConsentStores, _ subject: SubjectKey, _ mode: OfflineIssue, at now: Date = now, lifetime: TimeInterval = 86_400)
        async throws -> OfflineIssueOutcome
    {
        try await stores.offlineCodes.issue(
            subject: subject, subjectReference: ConsentStores.personalData.subjectReference(subject), mode: mode, at: now,
            ledger: LedgerRecord(kind: mode == .replace ? .offlineCodeReplaced : .offlineCodeIssued, subjectKey: subject, result: "ok"),
            guardianship: nil, claims: { generation, id in (Array("\(generation):\(id)".utf8), now, now.addingTimeInterval(lifetime)) })
    }

    @Test("apply returns the current valid code; replace starts a new generation that becomes current", arguments: StoreKind.allCases)
    func generations(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            #expect(try await stores.offlineCodes.currentCode(subject: subject) == nil)
            let first = try await issue(stores, subject, .currentOrNew)
            #expect(first.isNew && first.code.generation == 1)
            #expect(first.code.claims == Array("1:\(first.code.id)".utf8))
            let again = try await issue(stores, subject, .currentOrNew)
            #expect(!again.isNew && again.code == first.code)
            let replaced = try await issue(stores, subject, .replace)
            #expect(replaced.isNew && replaced.code.generation == 2)
            #expect(try await stores.offlineCodes.currentCode(subject: subject) == replaced.code)
            #expect(try await stores.offlineCodes.code(id: first.code.id) == first.code)
            #expect(try await stores.offlineCodes.code(id: UUID()) == nil)
            let reference = ConsentStores.personalData.subjectReference(subject)
            let current = try await stores.offlineCodes.currentGeneration(subjectReference: reference)
            #expect(current?.subject == subject && current?.generation == 2)
            #expect(try await stores.offlineCodes.currentGeneration(subjectReference: Array(repeating: 0, count: 8)) == nil)
            #expect(try await stores.ledgerKinds() == [.offlineCodeIssued, .offlineCodeReplaced])
        }
    }

    @Test("apply after the current code expired starts a new generation", arguments: StoreKind.allCases)
    func expiredIsRenewed(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            let first = try await issue(stores, subject, .currentOrNew, lifetime: 10)
            let later = try await issue(stores, subject, .currentOrNew, at: Self.now.addingTimeInterval(10))
            #expect(later.isNew && later.code.generation == first.code.generation + 1)
        }
    }

    @Test("a claims builder that throws leaves the store as it was", arguments: StoreKind.allCases)
    func failedBuildChangesNothing(_ kind: StoreKind) async throws {
        struct BuildFailed: Error {}
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            let first = try await issue(stores, subject, .currentOrNew)
            await #expect(throws: BuildFailed.self) {
                _ = try await stores.offlineCodes.issue(
                    subject: subject, subjectReference: ConsentStores.personalData.subjectReference(subject), mode: .replace, at: Self.now,
                    ledger: LedgerRecord(kind: .offlineCodeReplaced, result: "ok"), guardianship: nil, claims: { _, _ in throw BuildFailed() })
            }
            #expect(try await stores.offlineCodes.currentCode(subject: subject) == first.code)
            #expect(try await stores.ledgerKinds() == [.offlineCodeIssued])
        }
    }
}
