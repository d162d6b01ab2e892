import Consent
import Foundation
import Testing

/// The retention purge's contract, on the in-memory twin and PostgreSQL alike (issue 13,
/// finding 10): one purge covers every table that holds personal data, erases what ended before
/// the cutoff, and keeps what still lives.
@Suite("Retention", .timeLimit(.minutes(5)))
struct RetentionContractTests {
    static let requester = personKey(0xA1)

    func grant(_ subject: SubjectKey, until: Date, guardianship: UUID? = nil) -> ConsentGrant {
        ConsentGrant(
            id: UUID(), subjectKey: subject, grantorKey: personKey(0xB2), relation: guardianship == nil ? .selfGranted : .guardian,
            guardianshipID: guardianship, granteeKey: nil, legalBasis: .consent, method: .guardianApp, validFrom: Date().addingTimeInterval(-600),
            validUntil: until, maxUses: 5)
    }

    func create(_ grant: ConsentGrant, _ stores: ConsentStores, token: UInt8) async throws {
        try await stores.consents.createGrant(
            grant, tokenHash: Array(repeating: token, count: 32), statement: "said so at the desk",
            ledger: LedgerRecord(kind: .grantCreated, grantID: grant.id, result: "ok"))
    }

    func registration(_ guardian: UInt8, _ subject: SubjectKey) -> Guardianship {
        Guardianship(
            id: UUID(), guardianKey: personKey(guardian), guardianMaskedID: "4403**********0514", subjectKey: subject,
            subjectMaskedID: "1101**********002X", subjectMaskedName: "王*英", relationship: "child", createdAt: Date())
    }

    @Test("one purge erases what ended in every table with personal data, and keeps what lives", arguments: StoreKind.allCases)
    func purgeCoversEveryTable(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let now = Date()
            let subject = try await stores.subject("11010519491231002X").key
            let ended = grant(subject, until: now.addingTimeInterval(-60))
            let withdrawn = grant(subject, until: now.addingTimeInterval(3600))
            let live = grant(subject, until: now.addingTimeInterval(3600))
            try await create(ended, stores, token: 1)
            try await create(withdrawn, stores, token: 2)
            try await create(live, stores, token: 3)
            _ = try await stores.consents.withdrawGrant(id: withdrawn.id, ledger: LedgerRecord(kind: .grantWithdrawn, result: "ok"))

            let added = LedgerRecord(kind: .familyMemberAdded, result: "pending")
            let confirmed = LedgerRecord(kind: .familyMemberConfirmed, result: "confirmed")
            _ = try await stores.consents.addGuardianship(registration(1, subject), quotas: GuardianQuotas(), ledger: added).get()
            let removed = try await stores.consents.confirmGuardianship(
                registration(2, subject), by: .gateway, quotas: GuardianQuotas(), ledger: confirmed
            )
            .get()
            _ = try await stores.consents.removeGuardianship(
                id: removed.id, ledger: LedgerRecord(kind: .familyMemberRemoved, result: "ok"), retired: LedgerRecord(kind: .offlineCodeRetired))
            let kept = try await stores.consents.confirmGuardianship(
                registration(3, subject), by: .gateway, quotas: GuardianQuotas(), ledger: confirmed
            )
            .get()

            for mode in [OfflineIssue.currentOrNew, .replace] {
                _ = try await stores.offlineCodes.issue(
                    subject: subject, subjectReference: ConsentStores.personalData.subjectReference(subject), mode: mode, at: now,
                    ledger: LedgerRecord(kind: .offlineCodeIssued, subjectKey: subject, result: "ok"), guardianship: nil,
                    claims: { generation, id in (Array("\(generation):\(id)".utf8), now, now.addingTimeInterval(86_400 * 365)) })
            }
            let card = try #require(try await stores.offlineCodes.currentCode(subject: subject))

            _ = try await stores.consents.bindAssertion(Array(repeating: 7, count: 32), to: UUID(), until: now.addingTimeInterval(-1))
            _ = try await stores.consents.bindAssertion(Array(repeating: 8, count: 32), to: UUID(), until: now.addingTimeInterval(3600))
            // An hour that is over, and the current one, whose count still locks.
            _ = try await stores.consents.countConsentFailure(requester: Self.requester, window: now.addingTimeInterval(-7200), grantID: nil)
            _ = try await stores.consents.countConsentFailure(requester: personKey(0xA2), window: now.addingTimeInterval(-60), grantID: nil)
            _ = try await stores.consents.consume(
                grantID: live.id, subject: subject, requester: Self.requester, at: now,
                ledger: LedgerRecord(kind: .lookupIssued, requesterKey: Self.requester, subjectKey: subject, grantID: live.id, result: "ok"),
                idempotency: (UUID(), "key-1", IdempotentAnswer(requestHash: Array(repeating: 1, count: 32), claims: [1, 2, 3])))
            let entries = try await stores.consents.ledger(after: 0, limit: 1000).count

            // A cutoff just after everything above was written, however long that took.
            let cutoff = Date().addingTimeInterval(1)
            try await Task.sleep(for: .milliseconds(1100))
            let counts = try await stores.consents.purge(before: cutoff)
            #expect(counts.ledgerEntries == entries)
            #expect(counts["grants"] == 2, "the ended and the withdrawn grant")
            #expect(counts["guardianships"] == 2, "the removed and the never-confirmed registration")
            #expect(counts["offline_codes"] == 1, "the replaced card")
            #expect(counts["assertion_bindings"] == 1)
            #expect(counts["consent_failures"] == 1)
            #expect(counts["idempotent_answers"] == 1)

            #expect(try await stores.consents.grant(id: ended.id) == nil)
            #expect(try await stores.consents.grant(id: withdrawn.id) == nil)
            #expect(try await stores.consents.grant(id: live.id)?.uses == 1, "a live grant stays")
            #expect(try await stores.consents.guardianships(ofSubject: subject).map(\.id) == [kept.id])
            #expect(try await stores.offlineCodes.currentCode(subject: subject) == card, "the card in use stays")
            let record = try #require(try await stores.consents.ledger(after: 0, limit: 1000).last)
            #expect(record.record.kind == .purge && record.record.result.contains("grants=2 guardianships=2"), "\(record.record.result)")

            let again = try await stores.consents.purge(before: cutoff)
            #expect(PurgeCounts.items.dropFirst().allSatisfy { again[$0] == 0 }, "nothing is erased twice: \(again)")
        }
    }

    @Test("what ended after the cutoff stays, and so does a removed registration a grant still names", arguments: StoreKind.allCases)
    func keepsWhatEndedLater(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let now = Date()
            let subject = try await stores.subject("11010519491231002X").key
            let long = grant(subject, until: now.addingTimeInterval(-600))
            let recent = grant(subject, until: now.addingTimeInterval(-10))
            try await create(long, stores, token: 1)
            try await create(recent, stores, token: 2)
            let confirmed = LedgerRecord(kind: .familyMemberConfirmed, result: "confirmed")
            let removed = try await stores.consents.confirmGuardianship(
                registration(2, subject), by: .gateway, quotas: GuardianQuotas(), ledger: confirmed
            )
            .get()
            let throughIt = grant(subject, until: now.addingTimeInterval(3600), guardianship: removed.id)
            try await create(throughIt, stores, token: 3)
            _ = try await stores.consents.removeGuardianship(
                id: removed.id, ledger: LedgerRecord(kind: .familyMemberRemoved, result: "ok"), retired: LedgerRecord(kind: .offlineCodeRetired))
            // A pending registration whose guardian may hold a card (as migrated ones may): only a removal retires that card.
            let holder = try await stores.consents.addGuardianship(
                registration(4, subject), quotas: GuardianQuotas(), ledger: LedgerRecord(kind: .familyMemberAdded, result: "pending")
            ).get()
            try await stores.consents.markCodeSaved(guardianshipID: holder.id)
            _ = try await stores.consents.bindAssertion(Array(repeating: 9, count: 32), to: UUID(), until: now.addingTimeInterval(3600))

            let counts = try await stores.consents.purge(before: now.addingTimeInterval(-300))
            #expect(counts["grants"] == 1, "only the grant that ended before the cutoff")
            #expect(try await stores.consents.grant(id: long.id) == nil)
            #expect(try await stores.consents.grant(id: recent.id) != nil)
            #expect(counts["guardianships"] == 0, "the removed one is named by a grant; the pending one may hold a card")

            // Even a cutoff in the future spares what still lives.
            let future = try await stores.consents.purge(before: now.addingTimeInterval(86_400 * 30))
            #expect(future["assertion_bindings"] == 0 && future["grants"] == 1, "\(future)")
            #expect(try await stores.consents.grant(id: throughIt.id) != nil, "a grant valid for another hour stays")
            #expect(try await stores.consents.guardianships(ofSubject: subject).map(\.id) == [holder.id])
        }
    }

    @Test("each entry's personal part has its own salt, and the purge erases it", arguments: StoreKind.allCases)
    func saltedDigest(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            try await stores.consents.record(
                LedgerRecord(kind: .lookupRefused, requesterKey: Self.requester, requesterMasked: "4403**********0514", result: "r"))
            try await stores.consents.record(
                LedgerRecord(kind: .lookupRefused, requesterKey: Self.requester, requesterMasked: "4403**********0514", result: "r"))
            let entries = try await stores.tree.unsealedEntries(after: 0, limit: 10)
            let salts = entries.compactMap { $0.personal?.first { $0.0 == "salt" }?.1 }
            #expect(salts.count == 2 && Set(salts).count == 2 && salts.allSatisfy { $0.count == 32 }, "\(salts)")
            #expect(entries[0].personalDigest != entries[1].personalDigest, "the same people, different digests")
            _ = try await stores.consents.purge(before: Date().addingTimeInterval(1))
            let purged = try await stores.tree.unsealedEntries(after: 0, limit: 10)
            #expect(purged.count >= 2 && purged.prefix(2).allSatisfy { $0.personal == nil }, "the purge's own entry may follow")
        }
    }
}
