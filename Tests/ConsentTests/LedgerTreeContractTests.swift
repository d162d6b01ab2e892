import Consent
import Crypto
import Foundation
import Testing

/// `LedgerTreeStore` and `LedgerReviewStore`'s contract, held by the in-memory twin and by
/// PostgreSQL alike: what is sealed, what heads say, what proofs and reviews are built from.
@Suite("Ledger tree storage", .timeLimit(.minutes(5)))
struct LedgerTreeContractTests {
    static let key = LedgerKey(key: try! Curve25519.Signing.PrivateKey(rawRepresentation: Array(repeating: UInt8(3), count: 32)))

    func seal(_ stores: ConsentStores) async throws -> TreeHead? {
        try await stores.tree.seal(waitForLock: false) { size, root, at in
            (Self.key.kid, try Self.key.sign(size: size, root: root, sealedAt: at))
        }
    }

    func records(_ count: Int, kind: LedgerRecord.Kind = .lookupRefused, subject: UInt8 = 9) -> [LedgerRecord] {
        (0..<count).map { index in
            LedgerRecord(
                kind: kind, clientID: UUID(), requesterKey: personKey(UInt8(index + 1)), requesterMasked: "4403**********0514",
                subjectKey: personKey(subject), subjectMasked: "1101**********002X", result: "r\(index)",
                codeID: Array(repeating: 4, count: 16), codeExpiry: Date(timeIntervalSince1970: 1_795_000_000.5))
        }
    }

    @Test("a seal covers every new entry once, signs its head, and stores what proofs need", arguments: StoreKind.allCases)
    func sealing(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            #expect(try await seal(stores) == nil)
            try await stores.consents.record(records(5))
            let first = try #require(try await seal(stores))
            #expect(first.size == 5 && LedgerKey.verify(first, with: Self.key.key.publicKey))
            #expect(try await seal(stores) == nil)
            try await stores.consents.record(records(2))
            let second = try #require(try await seal(stores))
            #expect(second.size == 7)
            #expect(try await stores.tree.latestHead() == second)
            #expect(try await stores.tree.head(size: 5) == first)
            #expect(try await stores.tree.heads().map(\.size) == [5, 7])

            let entries = try await stores.consents.ledger(after: 0, limit: 100)
            let report = try await LedgerAudit.verify(stores.tree, ledgerKey: Self.key.key.publicKey)
            #expect(report.problems == [] && report.leaves == 7 && report.headsChecked == 2)
            let leaves = try await stores.tree.sealedLeaves(0..<7).compactMap { $0.entry?.leafHash }
            for (position, entry) in entries.enumerated() {
                let index = try #require(try await stores.tree.leafIndex(seq: entry.seq))
                #expect(index == position)
                let elements = MerkleTree.inclusionProofNodes(index: index, size: second.size)
                let nodes = try await stores.tree.nodes(Set(elements.joined()))
                let proof = try #require(MerkleTree.resolve(elements, nodes: nodes))
                #expect(MerkleTree.verifyInclusion(leaf: leaves[position], index: index, size: second.size, proof: proof, root: second.root))
            }
            #expect(try await stores.tree.leafIndex(seq: 999) == nil)

            #expect(report.unsealed == [])
            try await stores.consents.record(records(2))
            let later = try await stores.consents.ledger(after: 0, limit: 100).suffix(2).map(\.seq)
            let unsealed = try await LedgerAudit.verify(stores.tree, ledgerKey: Self.key.key.publicKey)
            #expect(unsealed.unsealed == Array(later) && unsealed.problems == [], "the entries after the last seal are named")
        }
    }

    @Test("ledger verify goes a batch at a time, and can start from a signed head", arguments: StoreKind.allCases)
    func streamingVerify(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            for count in [4, 3, 3] {
                try await stores.consents.record(records(count))
                _ = try #require(try await seal(stores))
            }
            try await stores.consents.record(records(1))
            var seen: [Int] = []
            let whole = try await LedgerAudit.verify(stores.tree, ledgerKey: Self.key.key.publicKey, batchSize: 3) { seen.append($0.leaves) }
            #expect(whole.problems == [] && whole.leaves == 10 && whole.headsChecked == 3 && whole.entriesChecked == 11)
            #expect(seen == [3, 6, 9, 10], "progress after every batch")
            #expect(whole.unsealedCount == 1 && whole.lastHeadSize == 10)
            let later = try await LedgerAudit.verify(stores.tree, ledgerKey: Self.key.key.publicKey, from: 7, batchSize: 2)
            #expect(later.problems == [] && later.startSize == 7 && later.leaves == 3 && later.headsChecked == 1 && later.lastHeadSize == 10)
            await #expect(throws: LedgerAudit.UnknownHead.self) {
                try await LedgerAudit.verify(stores.tree, ledgerKey: Self.key.key.publicKey, from: 5)
            }
            let otherKey = LedgerKey(key: try .init(rawRepresentation: Array(repeating: UInt8(0x55), count: 32)))
            let forged = try await LedgerAudit.verify(stores.tree, ledgerKey: otherKey.key.publicKey, from: 7)
            #expect(forged.problems == ["head 7: the signature does not verify, so verification cannot start from it"], "\(forged.problems)")
            #expect(forged.leaves == 0)
        }
    }

    @Test("the purge keeps every leaf and head verifiable", arguments: StoreKind.allCases)
    func purgeKeepsProofs(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            try await stores.consents.record(records(3))
            _ = try #require(try await seal(stores))
            #expect(try await stores.consents.purge(before: Date().addingTimeInterval(60)).ledgerEntries == 3)
            _ = try #require(try await seal(stores))
            #expect(try await LedgerAudit.verify(stores.tree, ledgerKey: Self.key.key.publicKey).problems == [])
            #expect(try await stores.tree.sealedLeaves(0..<3).allSatisfy { $0.entry != nil && $0.entry?.personal == nil })
        }
    }

    @Test("reviews page through sealed entries by leaf and filter by subject, kind and result", arguments: StoreKind.allCases)
    func reviews(_ kind: StoreKind) async throws {
        try await ConsentStores.with(kind) { stores in
            try await stores.consents.record(records(3) + records(2, kind: .lookupIssued, subject: 8))
            _ = try #require(try await seal(stores))
            try await stores.consents.record(records(1))
            let all = try await stores.tree.entries(matching: LedgerFilter(), afterLeaf: -1, beforeLeaf: .max, limit: 100)
            #expect(all.map(\.leafIndex) == [0, 1, 2, 3, 4])
            #expect(all.first?.subjectMasked == "1101**********002X")
            #expect(all.first?.codeExpiry == "2026-11-18T11:06:40.500000Z")
            let page = try await stores.tree.entries(matching: LedgerFilter(), afterLeaf: 1, beforeLeaf: .max, limit: 2)
            #expect(page.map(\.leafIndex) == [2, 3])
            let bySubject = try await stores.tree.entries(
                matching: LedgerFilter(subjectKey: personKey(8)), afterLeaf: -1, beforeLeaf: .max, limit: 100)
            #expect(bySubject.map(\.kind) == ["lookup-issued", "lookup-issued"])
            let byResult = try await stores.tree.entries(
                matching: LedgerFilter(kind: "lookup-refused", result: "r1"), afterLeaf: -1, beforeLeaf: 4, limit: 100)
            #expect(byResult.map(\.leafIndex) == [1])
            let later = try await stores.tree.entries(
                matching: LedgerFilter(from: Date().addingTimeInterval(60)), afterLeaf: -1, beforeLeaf: .max, limit: 100)
            #expect(later.isEmpty)
        }
    }
}
