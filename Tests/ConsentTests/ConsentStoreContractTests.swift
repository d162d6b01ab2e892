import Consent
import Foundation
import Testing

/// `ConsentStore`'s contract, held by the in-memory twin and by PostgreSQL alike. `consume` is
/// tested directly: the lookup service checks a grant first, so only these tests notice when the
/// store's own checks go missing.
@Suite("Consent storage", .timeLimit(.minutes(5)))
struct ConsentStoreContractTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)
    static let requester = personKey(0xA1)
    static let grantor = personKey(0xB2)

    func grant(
        subject: SubjectKey, guardianship: UUID? = nil, grantee: SubjectKey? = nil, from: Date = now.addingTimeInterval(-60),
        until: Date = now.addingTimeInterval(3600), maxUses: Int = 1
    ) -> ConsentGrant {
        ConsentGrant(
            id: UUID(), subjectKey: subject, grantorKey: Self.grantor, relation: guardianship == nil ? .selfGranted : .guardian,
            guardianshipID: guardianship, granteeKey: grantee, legalBasis: .consent, method: .guardianApp, validFrom: from,
            validUntil: until, maxUses: maxUses)
    }

    func issued(_ grant: ConsentGrant) -> LedgerRecord {
        LedgerRecord(kind: .lookupIssued, requesterKey: Self.requester, subjectKey: grant.subjectKey, grantID: grant.id, result: "ok")
    }

    func create(_ grant: ConsentGrant, in stores: ConsentStores, token: UInt8 = 1) async throws {
        try await stores.consents.createGrant(
            grant, tokenHash: Array(repeating: token, count: 32), statement: nil,
            ledger: LedgerRecord(kind: .grantCreated, grantID: grant.id, result: "ok"))
    }

    /// The elder as a stored subject, and a stored self-granted grant for them.
    func storedGrant(in stores: ConsentStores, maxUses: Int = 1) async throws -> (subject: SubjectKey, grant: ConsentGrant) {
        let subject = try await stores.subject("11010519491231002X").key
        let grant = grant(subject: subject, maxUses: maxUses)
        try await create(grant, in: stores)
        return (subject, grant)
    }

    func guardianship(_ guardian: SubjectKey, _ subject: SubjectKey) -> Guardianship {
        Guardianship(
            id: UUID(), guardianKey: guardian, guardianMaskedID: "4403**********0514", subjectKey: subject,
            subjectMaskedID: "1101**********002X", subjectMaskedName: "王*英", relationship: "child", createdAt: Self.now)
    }

    @Test("consume takes one use and writes the issued record; a spent grant is refused and writes nothing", arguments: StoreKind.allCases)
    func consumeOnce(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let (subject, grant) = try await storedGrant(in: stores, maxUses: 2)
            for _ in 0..<2 {
                #expect(
                    try await stores.consents.consume(
                        grantID: grant.id, subject: subject, requester: Self.requester, at: Self.now, ledger: issued(grant), idempotency: nil) == nil)
            }
            #expect(
                try await stores.consents.consume(
                    grantID: grant.id, subject: subject, requester: Self.requester, at: Self.now, ledger: issued(grant), idempotency: nil) == .used)
            #expect(try await stores.consents.grant(id: grant.id)?.uses == 2)
            #expect(try await stores.ledgerKinds() == [.grantCreated, .lookupIssued, .lookupIssued])
        }
    }

    @Test("an issue limit: uses taken count in its window, refusals do not; a full window takes nothing until it ends", arguments: StoreKind.allCases)
    func issueLimit(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let (subject, grant) = try await storedGrant(in: stores, maxUses: 10)
            let limit = IssueLimit(key: "subject:issue-limit-test", limit: 2, window: 60)
            func consume(_ id: UUID, at offset: TimeInterval, limit: IssueLimit = limit) async throws -> ConsentRefusal? {
                try await stores.consents.consume(
                    grantID: id, subject: subject, requester: Self.requester, at: Self.now.addingTimeInterval(offset), ledger: issued(grant),
                    idempotency: nil, issueLimit: limit)
            }
            #expect(try await consume(UUID(), at: 0) == .invalid, "a refused use is not counted")
            #expect(try await consume(grant.id, at: 0) == nil)
            #expect(try await consume(grant.id, at: 1) == nil)
            await #expect(throws: IssueLimitReached(retryAfter: 50)) { _ = try await consume(grant.id, at: 10) }
            #expect(try await stores.consents.grant(id: grant.id)?.uses == 2, "a full window takes nothing")
            #expect(try await consume(grant.id, at: 10, limit: IssueLimit(key: "subject:another", limit: 2, window: 60)) == nil)
            #expect(try await consume(grant.id, at: 60) == nil, "the window began at 0 and has ended")
            #expect(try await stores.ledgerKinds().filter { $0 == .lookupIssued }.count == 4)
        }
    }

    @Test("an issue limit holds under concurrent uses: each sees the ones committed before it", arguments: StoreKind.allCases)
    func issueLimitConcurrent(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let (subject, grant) = try await storedGrant(in: stores, maxUses: 100)
            let limit = IssueLimit(key: "subject:issue-limit-race", limit: 3, window: 60)
            let ledger = issued(grant)
            @Sendable func consume() async throws -> Bool {
                do {
                    return try await stores.consents.consume(
                        grantID: grant.id, subject: subject, requester: Self.requester, at: Self.now, ledger: ledger, idempotency: nil,
                        issueLimit: limit) == nil
                } catch is IssueLimitReached {
                    return false
                }
            }
            #expect(try await consume())
            let taken = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 { group.addTask { try await consume() } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(taken == 2)
            #expect(try await stores.consents.grant(id: grant.id)?.uses == 3)
        }
    }

    /// Each way a stored grant can no longer serve, with the refusal `consume` must give.
    enum Spoiled: String, CaseIterable, Sendable {
        case withdrawn, expired, notYetValid, wrongGrantee, wrongSubject, locked, guardianshipRemoved, guardianshipPending, unknown
    }

    @Test(
        "consume refuses, uses nothing and records nothing when the grant cannot serve",
        arguments: StoreKind.allCases, Spoiled.allCases)
    func consumeRefuses(_ kind: StoreKind, _ spoiled: Spoiled) async throws {
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            let other = try await stores.subject("350203195510101235", name: "陈建国").key
            var guardianshipID: UUID?
            if spoiled == .guardianshipRemoved || spoiled == .guardianshipPending {
                var registration = guardianship(Self.grantor, subject)
                if spoiled == .guardianshipRemoved { registration.confirmation = .gateway }
                let registered = try await stores.consents.addGuardianship(
                    registration, quotas: GuardianQuotas(), ledger: LedgerRecord(kind: .familyMemberAdded, result: "ok")
                ).get()
                guardianshipID = registered.id
            }
            var grant = grant(subject: subject, guardianship: guardianshipID, grantee: spoiled == .wrongGrantee ? personKey(0xC3) : nil)
            switch spoiled {
            case .expired: grant.validUntil = Self.now
            case .notYetValid: grant.validFrom = Self.now.addingTimeInterval(1)
            default: break
            }
            try await create(grant, in: stores)
            if spoiled == .withdrawn {
                _ = try await stores.consents.withdrawGrant(id: grant.id, ledger: LedgerRecord(kind: .grantWithdrawn, result: "ok"))
            }
            if spoiled == .locked {
                for _ in 0..<ConsentGrant.failedTryLimit {
                    _ = try await stores.consents.countConsentFailure(requester: Self.grantor, window: Self.now, grantID: grant.id)
                }
            }
            if let guardianshipID, spoiled == .guardianshipRemoved {
                let removed = try await stores.consents.removeGuardianship(
                    id: guardianshipID, ledger: LedgerRecord(kind: .familyMemberRemoved, result: "ok"),
                    retired: LedgerRecord(kind: .offlineCodeRetired))
                #expect(removed?.id == guardianshipID)
            }
            let before = try await stores.ledgerKinds()
            let expected: [Spoiled: ConsentRefusal] = [
                .withdrawn: .withdrawn, .expired: .expired, .notYetValid: .expired, .wrongGrantee: .invalid,
                .wrongSubject: .invalid, .locked: .invalid, .guardianshipRemoved: .withdrawn, .guardianshipPending: .withdrawn, .unknown: .invalid,
            ]
            let refusal = try await stores.consents.consume(
                grantID: spoiled == .unknown ? UUID() : grant.id, subject: spoiled == .wrongSubject ? other : subject,
                requester: Self.requester, at: Self.now, ledger: issued(grant), idempotency: nil)
            #expect(refusal == expected[spoiled])
            #expect(try await stores.consents.grant(id: grant.id)?.uses == 0)
            #expect(try await stores.ledgerKinds() == before)
        }
    }

    @Test("an idempotency key is stored with the use; a second use of the key is refused and takes nothing", arguments: StoreKind.allCases)
    func idempotency(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let (subject, grant) = try await storedGrant(in: stores, maxUses: 5)
            let client = UUID()
            let answer = IdempotentAnswer(requestHash: Array(repeating: 9, count: 32), claims: [1, 2, 3])
            #expect(
                try await stores.consents.consume(
                    grantID: grant.id, subject: subject, requester: Self.requester, at: Self.now, ledger: issued(grant),
                    idempotency: (client, "retry-1", answer)) == nil)
            await #expect(throws: IdempotencyKeyTaken.self) {
                _ = try await stores.consents.consume(
                    grantID: grant.id, subject: subject, requester: Self.requester, at: Self.now, ledger: issued(grant),
                    idempotency: (client, "retry-1", answer))
            }
            #expect(try await stores.consents.grant(id: grant.id)?.uses == 1)
            #expect(try await stores.consents.idempotentAnswer(clientID: client, key: "retry-1", notBefore: .distantPast) == answer)
            #expect(try await stores.consents.idempotentAnswer(clientID: UUID(), key: "retry-1", notBefore: .distantPast) == nil)
            #expect(
                try await stores.consents.idempotentAnswer(
                    clientID: client, key: "retry-1", notBefore: Date().addingTimeInterval(3600)) == nil)
        }
    }

    @Test("a withdrawal during lookups: no use is taken once the withdrawal has answered", arguments: StoreKind.allCases)
    func withdrawalRace(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let (subject, grant) = try await storedGrant(in: stores, maxUses: 10_000)
            let withdrawn = WithdrawalFlag()
            let lookup: @Sendable () async throws -> (startedAfterWithdrawal: Bool, refusal: ConsentRefusal?) = {
                let after = await withdrawn.isSet
                let refusal = try await stores.consents.consume(
                    grantID: grant.id, subject: subject, requester: Self.requester, at: Self.now, ledger: self.issued(grant), idempotency: nil)
                return (after, refusal)
            }
            let outcomes = try await withThrowingTaskGroup(of: [(startedAfterWithdrawal: Bool, refusal: ConsentRefusal?)].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var outcomes: [(startedAfterWithdrawal: Bool, refusal: ConsentRefusal?)] = []
                        for _ in 0..<25 { outcomes.append(try await lookup()) }
                        return outcomes
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(20))
                    _ = try await stores.consents.withdrawGrant(id: grant.id, ledger: LedgerRecord(kind: .grantWithdrawn, result: "ok"))
                    await withdrawn.set()
                    var outcomes: [(startedAfterWithdrawal: Bool, refusal: ConsentRefusal?)] = []
                    for _ in 0..<5 { outcomes.append(try await lookup()) }
                    return outcomes
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let late = outcomes.filter(\.startedAfterWithdrawal)
            #expect(late.count >= 5)
            #expect(late.allSatisfy { $0.refusal == .withdrawn })
            let entries = try await stores.consents.ledger(after: 0, limit: 10_000)
            let issuedCount = entries.filter { $0.record.kind == .lookupIssued }.count
            #expect(issuedCount == outcomes.filter { $0.refusal == nil }.count)
            let withdrawal = try #require(entries.firstIndex { $0.record.kind == .grantWithdrawn })
            // No use is recorded after the withdrawal's own record, and each issued record is one use.
            #expect(entries[withdrawal...].allSatisfy { $0.record.kind != .lookupIssued })
            #expect(try await stores.consents.grant(id: grant.id)?.uses == issuedCount)
        }
    }

    @Test(
        "the consent check: a fitting token, then unfit ones counted on the grant and the requester, a new hour afresh", arguments: StoreKind.allCases
    )
    func consentCheck(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let (subject, grant) = try await storedGrant(in: stores)
            let token = Array(repeating: UInt8(1), count: 32)
            let hour = Self.now
            func check(_ hash: [UInt8], _ person: SubjectKey, by requester: SubjectKey = Self.requester, at window: Date = Self.now, limit: Int = 100)
                async throws -> ConsentCheck
            {
                try await stores.consents.checkConsent(
                    tokenHash: hash, subject: person, requester: requester, window: window, grantLimit: 5, requesterLimit: limit)
            }
            #expect(try await check(token, subject) == .fits(grantID: grant.id))
            #expect(try await check(token, personKey(0x55)) == .unfit(grantID: grant.id, requesterFailures: 1))
            #expect(try await check(Array(repeating: 2, count: 32), subject) == .unfit(grantID: nil, requesterFailures: 2))
            #expect(try await check([], subject) == .unfit(grantID: nil, requesterFailures: 3))
            #expect(try await stores.consents.grant(id: grant.id)?.failedTries == 1)
            #expect(try await check(token, subject, limit: 3) == .requesterLocked)
            #expect(try await check(token, subject, by: Self.grantor, limit: 3) == .fits(grantID: grant.id), "counted per requester")
            #expect(try await check(token, subject, at: hour.addingTimeInterval(3600), limit: 3) == .fits(grantID: grant.id), "a new hour")
            #expect(try await stores.ledgerKinds() == [.grantCreated], "checks are counted, not recorded here")
        }
    }

    @Test("20 unfit checks at once all count; after them the token is locked even for its subject", arguments: StoreKind.allCases)
    func concurrentChecks(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let (subject, grant) = try await storedGrant(in: stores)
            let token = Array(repeating: UInt8(1), count: 32)
            let outcomes = try await withThrowingTaskGroup(of: ConsentCheck.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await stores.consents.checkConsent(
                            tokenHash: token, subject: personKey(UInt8(0x60 + index)), requester: personKey(UInt8(0x20 + index)),
                            window: Self.now, grantLimit: 5, requesterLimit: 100)
                    }
                }
                return try await group.reduce(into: [ConsentCheck]()) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0 == .unfit(grantID: grant.id, requesterFailures: 1) })
            #expect(try await stores.consents.grant(id: grant.id)?.failedTries == 20)
            let own = try await stores.consents.checkConsent(
                tokenHash: token, subject: subject, requester: Self.requester, window: Self.now, grantLimit: 5, requesterLimit: 100)
            #expect(own == .unfit(grantID: grant.id, requesterFailures: 1))
        }
    }

    @Test("one requester's 10 unfit checks at once with a limit of 3: 3 are counted, 7 are locked out", arguments: StoreKind.allCases)
    func concurrentRequester(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let outcomes = try await withThrowingTaskGroup(of: ConsentCheck.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        try await stores.consents.checkConsent(
                            tokenHash: Array(repeating: UInt8(index), count: 32), subject: personKey(0x51), requester: Self.requester,
                            window: Self.now, grantLimit: 5, requesterLimit: 3)
                    }
                }
                return try await group.reduce(into: [ConsentCheck]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .requesterLocked }.count == 7)
            #expect(
                Set(outcomes.filter { $0 != .requesterLocked }) == [
                    .unfit(grantID: nil, requesterFailures: 1), .unfit(grantID: nil, requesterFailures: 2),
                    .unfit(grantID: nil, requesterFailures: 3),
                ])
        }
    }

    @Test("withdrawing returns the grant as it was and records once", arguments: StoreKind.allCases)
    func withdraw(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let (_, grant) = try await storedGrant(in: stores)
            let first = try await stores.consents.withdrawGrant(id: grant.id, ledger: LedgerRecord(kind: .grantWithdrawn, result: "ok"))
            #expect(first?.withdrawnAt == nil)
            let second = try await stores.consents.withdrawGrant(id: grant.id, ledger: LedgerRecord(kind: .grantWithdrawn, result: "ok"))
            #expect(second?.withdrawnAt != nil)
            #expect(try await stores.consents.withdrawGrant(id: UUID(), ledger: LedgerRecord(kind: .grantWithdrawn, result: "ok")) == nil)
            #expect(try await stores.ledgerKinds() == [.grantCreated, .grantWithdrawn])
            #expect(try await stores.consents.grant(tokenHash: Array(repeating: 1, count: 32))?.id == grant.id)
            #expect(try await stores.consents.grant(tokenHash: Array(repeating: 2, count: 32)) == nil)
        }
    }

    @Test("attested grants are counted per requester since a time", arguments: StoreKind.allCases)
    func attestedCount(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let subject = try await stores.subject("11010519491231002X").key
            for token in UInt8(1)...3 {
                var attested = grant(subject: subject)
                attested.method = .attestedVerbal
                attested.relation = .attested
                attested.grantorKey = token == 3 ? personKey(0xDD) : Self.requester
                try await create(attested, in: stores, token: token)
            }
            try await create(grant(subject: subject), in: stores, token: 4)
            #expect(try await stores.consents.attestedGrants(by: Self.requester, since: Date().addingTimeInterval(-600)) == 2)
            #expect(try await stores.consents.attestedGrants(by: Self.requester, since: Date().addingTimeInterval(600)) == 0)
        }
    }

    @Test("a batch of records is written in order; the purge erases personal fields and records itself", arguments: StoreKind.allCases)
    func recordsAndPurge(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            let records = (0..<3).map { index in
                LedgerRecord(
                    kind: .lookupRefused, requesterKey: personKey(UInt8(index + 1)), requesterMasked: "4403**********0514",
                    subjectKey: personKey(9), subjectMasked: "1101**********002X", result: "r\(index)")
            }
            try await stores.consents.record(records)
            try await stores.consents.record([])
            let stored = try await stores.consents.ledger(after: 0, limit: 10)
            #expect(stored.map(\.record.result) == ["r0", "r1", "r2"])
            #expect(stored.map(\.seq) == stored.map(\.seq).sorted())
            #expect(try await stores.consents.ledger(after: stored[0].seq, limit: 1).map(\.record.result) == ["r1"])
            #expect(try await stores.consents.purge(before: Date().addingTimeInterval(60)).ledgerEntries == 3)
            let purged = try await stores.consents.ledger(after: 0, limit: 10)
            #expect(purged.prefix(3).allSatisfy { $0.record.requesterKey == nil && $0.record.subjectMasked == nil })
            #expect(purged.last?.record.kind == .purge)
            // Only the first purge's own record is left to purge; nothing is purged twice.
            #expect(try await stores.consents.purge(before: Date().addingTimeInterval(60)).ledgerEntries == 1)
            #expect(try await stores.consents.purge(before: .distantPast).ledgerEntries == 0)
        }
    }
}

actor WithdrawalFlag {
    private(set) var isSet = false
    func set() { isSet = true }
}
