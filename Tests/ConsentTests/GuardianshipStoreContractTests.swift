import Consent
import Foundation
import Testing

/// `GuardianshipStore`'s contract, on the in-memory twin and PostgreSQL alike: registrations are
/// pending until confirmed, only confirmed ones act, and the subject's quota counts confirmed
/// guardians only (issue 13, finding 4).
@Suite("Guardianship storage", .timeLimit(.minutes(5)))
struct GuardianshipStoreContractTests {
    static let added = LedgerRecord(kind: .familyMemberAdded, result: "pending")
    static let confirmed = LedgerRecord(kind: .familyMemberConfirmed, result: "confirmed-by-gateway")
    static let removed = LedgerRecord(kind: .familyMemberRemoved, result: "ok")
    static let retired = LedgerRecord(kind: .offlineCodeRetired)

    func registration(_ guardian: UInt8, _ subject: SubjectKey, confirmation: GuardianshipConfirmation? = nil) -> Guardianship {
        Guardianship(
            id: UUID(), guardianKey: personKey(guardian), guardianMaskedID: "4403**********0514", subjectKey: subject,
            subjectMaskedID: "1101**********002X", subjectMaskedName: "王*英", relationship: "child", createdAt: Date(),
            confirmation: confirmation)
    }

    @Test("a registration is pending and does not act; a confirmation makes it act, once", arguments: StoreKind.allCases)
    func pendingUntilConfirmed(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            let pending = try await stores.consents.addGuardianship(registration(1, subject), quotas: GuardianQuotas(), ledger: Self.added).get()
            #expect(!pending.isConfirmed && pending.confirmedAt == nil)
            #expect(try await stores.consents.confirmedGuardianship(guardian: personKey(1), subject: subject) == nil)
            #expect(try await stores.consents.guardianships(of: personKey(1)).map(\.id) == [pending.id])
            #expect(try await stores.consents.guardianship(id: pending.id)?.isConfirmed == false)

            let first = try await stores.consents.confirmGuardianship(pending, by: .gateway, quotas: GuardianQuotas(), ledger: Self.confirmed).get()
            #expect(first.id == pending.id && first.confirmation == .gateway && first.confirmedAt != nil)
            let again = try await stores.consents.confirmGuardianship(pending, by: .terminal, quotas: GuardianQuotas(), ledger: Self.confirmed).get()
            #expect(again.confirmation == .gateway, "a second confirmation changes nothing")
            #expect(try await stores.consents.confirmedGuardianship(guardian: personKey(1), subject: subject)?.id == pending.id)
            #expect(try await stores.ledgerKinds() == [.familyMemberAdded, .familyMemberConfirmed])
        }
    }

    @Test("a gateway's confirmation without a registration registers the pair confirmed", arguments: StoreKind.allCases)
    func confirmationRegisters(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            let made = try await stores.consents.confirmGuardianship(
                registration(1, subject), by: .gateway, quotas: GuardianQuotas(), ledger: Self.confirmed
            ).get()
            #expect(try await stores.consents.confirmedGuardianship(guardian: personKey(1), subject: subject)?.id == made.id)
            #expect(try await stores.consents.guardianships(ofSubject: subject).count == 1)
        }
    }

    @Test("the guardian's quota counts pending ones; the subject's counts confirmed ones only", arguments: StoreKind.allCases)
    func quotas(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            let other = try await stores.subject("350203195510101235", name: "陈建国").key
            var quotas = GuardianQuotas()
            quotas.familyMembersPerGuardian = 1
            quotas.guardiansPerSubject = 2
            #expect(
                try await stores.consents.addGuardianship(registration(1, subject), quotas: quotas, ledger: Self.added).get().isConfirmed == false)
            #expect(
                try await stores.consents.addGuardianship(registration(1, subject), quotas: quotas, ledger: Self.added)
                    == .failure(.alreadyRegistered))
            #expect(try await stores.consents.addGuardianship(registration(1, other), quotas: quotas, ledger: Self.added) == .failure(.guardianQuota))
            // Strangers declaring themselves take no place: five pending registrations, then two confirmations.
            var pending: [Guardianship] = []
            for guardian in UInt8(2)...6 {
                pending.append(try await stores.consents.addGuardianship(registration(guardian, subject), quotas: quotas, ledger: Self.added).get())
            }
            _ = try await stores.consents.confirmGuardianship(pending[0], by: .gateway, quotas: quotas, ledger: Self.confirmed).get()
            _ = try await stores.consents.confirmGuardianship(pending[1], by: .terminal, quotas: quotas, ledger: Self.confirmed).get()
            #expect(
                try await stores.consents.confirmGuardianship(pending[2], by: .gateway, quotas: quotas, ledger: Self.confirmed)
                    == .failure(.subjectQuota))
            #expect(
                try await stores.consents.addGuardianship(registration(7, subject, confirmation: .assertion), quotas: quotas, ledger: Self.added)
                    == .failure(.subjectQuota))
            #expect(try await stores.consents.guardianships(ofSubject: subject).filter(\.isConfirmed).count == 2)
        }
    }

    @Test("removal returns the registration as it was, with whether it saved a code; a second removal finds nothing", arguments: StoreKind.allCases)
    func removal(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            let added = try await stores.consents.addGuardianship(
                registration(1, subject, confirmation: .assertion), quotas: GuardianQuotas(), ledger: Self.added
            ).get()
            #expect(added.isConfirmed)
            try await stores.consents.markCodeSaved(guardianshipID: added.id)
            #expect(try await stores.consents.guardianship(id: added.id)?.codeSaved == true)
            let gone = try await stores.consents.removeGuardianship(id: added.id, ledger: Self.removed, retired: Self.retired)
            #expect(gone?.id == added.id && gone?.codeSaved == true)
            #expect(try await stores.consents.removeGuardianship(id: added.id, ledger: Self.removed, retired: Self.retired) == nil)
            #expect(try await stores.consents.guardianship(id: added.id) == nil)
            #expect(try await stores.consents.confirmedGuardianship(guardian: personKey(1), subject: subject) == nil)
            let entries = try await stores.consents.ledger(after: 0, limit: 10)
            #expect(entries.map(\.record.kind) == [.familyMemberAdded, .familyMemberRemoved])
            #expect(entries.last?.record.subjectKey == subject)
        }
    }

    @Test("a code issued for a guardian needs the registration to stand, confirmed, inside the issue", arguments: StoreKind.allCases)
    func issueNeedsTheRegistration(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            let reference = ConsentStores.personalData.subjectReference(subject)
            func issue(for guardianship: UUID) async throws -> OfflineIssueOutcome {
                try await stores.offlineCodes.issue(
                    subject: subject, subjectReference: reference, mode: .currentOrNew, at: Date(),
                    ledger: LedgerRecord(kind: .offlineCodeIssued, subjectKey: subject), guardianship: guardianship
                ) { _, _ in ([1], Date(), Date().addingTimeInterval(3600)) }
            }
            let pending = try await stores.consents.addGuardianship(registration(1, subject), quotas: GuardianQuotas(), ledger: Self.added).get()
            await #expect(throws: GuardianshipGone.self) { _ = try await issue(for: pending.id) }
            _ = try await stores.consents.confirmGuardianship(pending, by: .gateway, quotas: GuardianQuotas(), ledger: Self.confirmed).get()
            #expect(try await issue(for: pending.id).code.generation == 1)
            try await stores.consents.markCodeSaved(guardianshipID: pending.id)
            _ = try await stores.consents.removeGuardianship(id: pending.id, ledger: Self.removed, retired: Self.retired)
            await #expect(throws: GuardianshipGone.self) { _ = try await issue(for: pending.id) }
            #expect(try await stores.offlineCodes.currentGeneration(subjectReference: reference)?.generation == 2, "the removal retired it")
            #expect(try await stores.ledgerKinds().suffix(2) == [.familyMemberRemoved, .offlineCodeRetired])
        }
    }

    @Test("a registration may name someone Passby does not know yet", arguments: StoreKind.allCases)
    func unknownSubject(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let stranger = personKey(0x77)
            let added = try await stores.consents.addGuardianship(registration(1, stranger), quotas: GuardianQuotas(), ledger: Self.added).get()
            #expect(try await stores.consents.guardianships(of: personKey(1)).map(\.id) == [added.id])
            #expect(try await stores.consents.guardianships(of: personKey(1)).first?.subjectMaskedName == "王*英")
        }
    }
}

/// `OfflineCodeStore.retire`: a generation ends without a new code.
@Suite("Retiring an offline-code generation", .timeLimit(.minutes(5)))
struct OfflineCodeRetireTests {
    @Test("retire moves the generation on and leaves no current code; a subject without codes has nothing to retire", arguments: StoreKind.allCases)
    func retire(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            let reference = ConsentStores.personalData.subjectReference(subject)
            #expect(try await stores.offlineCodes.retire(subject: subject, ledger: LedgerRecord(kind: .offlineCodeRetired)) == nil)
            let issued = try await stores.offlineCodes.issue(
                subject: subject, subjectReference: reference, mode: .currentOrNew, at: Date(),
                ledger: LedgerRecord(kind: .offlineCodeIssued, subjectKey: subject), guardianship: nil
            ) { _, _ in ([1], Date(), Date().addingTimeInterval(3600)) }
            #expect(issued.code.generation == 1)
            #expect(try await stores.offlineCodes.retire(subject: subject, ledger: LedgerRecord(kind: .offlineCodeRetired, subjectKey: subject)) == 2)
            #expect(try await stores.offlineCodes.currentCode(subject: subject) == nil)
            #expect(try await stores.offlineCodes.currentGeneration(subjectReference: reference)?.generation == 2)
            let kinds = try await stores.ledgerKinds()
            #expect(kinds == [.offlineCodeIssued, .offlineCodeRetired])
            #expect(try await stores.consents.ledger(after: 0, limit: 10).last?.record.result == "generation=2")
        }
    }
}
