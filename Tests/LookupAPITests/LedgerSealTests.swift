import Consent
import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Testing
import ThrowawayPostgres

@testable import LookupAPI

@Suite("The sealed ledger: heads, proofs and verification", .timeLimit(.minutes(5)))
struct LedgerSealTests {
    func hex(_ text: String) -> [UInt8] { stride(from: 0, to: text.count, by: 2).map { UInt8(text.dropFirst($0).prefix(2), radix: 16)! } }

    func seal(_ scenario: Scenario) async throws -> TreeHead? {
        try await LedgerSealer.seal(tree: scenario.components.ledgerTree, key: scenario.components.ledgerKey)
    }

    func audit(_ scenario: Scenario) async throws -> [String] {
        try await LedgerCommands.Verify.audit(scenario.postgres.timed, logger: Logger(label: "test"), key: scenario.components.ledgerKey)
    }

    @Test("every entry's inclusion proof verifies against the signed head, and heads are consistent")
    func proofs() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 3])
            _ = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            let first = try #require(try await seal(scenario))
            #expect(try await seal(scenario) == nil)  // nothing new
            let entries = try await scenario.ledger()
            #expect(first.size == entries.count)

            let headResponse = try await scenario.client.send(.get, "/v1/ledger/head", key: scenario.keys[.reviewer])
            let head = try json(headResponse.body)
            #expect(head["size"] as? Int == first.size)
            #expect(LedgerKey.verify(first, with: TestApp.ledgerKey.key.publicKey))

            for entry in entries {
                let proof = try json(
                    try await scenario.client.send(
                        .get, "/v1/records/\(entry.seq)/proof?size=\(first.size)", key: scenario.keys[.reviewer]
                    ).body)
                let path = try #require(proof["path"] as? [String]).map(hex)
                let leaf = hex(try #require(proof["leaf_hash"] as? String))
                let index = try #require(proof["leaf_index"] as? Int)
                #expect(MerkleTree.verifyInclusion(leaf: leaf, index: index, size: first.size, proof: path, root: first.root))
            }

            _ = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            _ = try await scenario.lookup(People.otherElder.idNumber, token: grant.token)
            let second = try #require(try await seal(scenario))
            #expect(second.size == first.size + 2)
            let consistency = try json(
                try await scenario.client.send(
                    .get, "/v1/ledger/consistency?from=\(first.size)&to=\(second.size)", key: scenario.keys[.reviewer]
                ).body)
            let path = try #require(consistency["path"] as? [String]).map(hex)
            #expect(MerkleTree.verifyConsistency(oldSize: first.size, newSize: second.size, oldRoot: first.root, newRoot: second.root, proof: path))
            #expect(try await audit(scenario) == [])

            try expectProblem(try await scenario.client.send(.get, "/v1/ledger/head", key: scenario.keys[.helper]), .forbidden, "wrong-role")
            try expectProblem(
                try await scenario.client.send(.get, "/v1/ledger/consistency?from=5&to=2", key: scenario.keys[.reviewer]),
                .badRequest, "malformed-request")
            try expectProblem(
                try await scenario.client.send(.get, "/v1/records/999999/proof", key: scenario.keys[.reviewer]), .notFound, "not-sealed")
        }
    }

    @Test("ledger verify names an edited entry, a deleted entry and a rewritten head")
    func tampering() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            _ = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            _ = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            let head = try #require(try await seal(scenario))
            #expect(try await audit(scenario) == [])
            let logger = Logger(label: "test")
            let entries = try await scenario.ledger()
            let edited = entries[2].seq
            let deleted = entries[3].seq
            // A superuser who turns the guards off and edits, deletes and rewrites.
            try await scenario.postgres.query("ALTER TABLE ledger DISABLE TRIGGER ledger_no_update", logger: logger)
            try await scenario.postgres.query("ALTER TABLE ledger DISABLE TRIGGER ledger_no_delete", logger: logger)
            try await scenario.postgres.query("UPDATE ledger SET result = 'forged' WHERE seq = \(edited)", logger: logger)
            try await scenario.postgres.query("ALTER TABLE ledger_tree DROP CONSTRAINT ledger_tree_seq_fkey", logger: logger)
            try await scenario.postgres.query("DELETE FROM ledger WHERE seq = \(deleted)", logger: logger)
            try await scenario.postgres.query(
                "UPDATE ledger_heads SET root = \(ByteBuffer(bytes: Array(repeating: UInt8(0), count: 32))) WHERE size = \(Int64(head.size))",
                logger: logger)
            try await scenario.postgres.query(
                "UPDATE ledger_nodes SET hash = \(ByteBuffer(bytes: Array(repeating: UInt8(1), count: 32))) WHERE level = 1 AND idx = 0",
                logger: logger)
            let problems = try await audit(scenario)
            #expect(problems.contains("tree node (level 1, index 0) does not match the entries"))
            #expect(problems.contains("entry \(edited): its contents do not match its leaf hash"))
            #expect(problems.contains { $0.hasPrefix("entry \(deleted): sealed at leaf") })
            #expect(problems.contains("head \(head.size): the signature does not verify"))
        }
    }

    @Test("verification starts from a head only when its stored frontier folds to its signed root")
    func startingHead() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            let head = try #require(try await seal(scenario))
            _ = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            _ = try #require(try await seal(scenario))
            let store = PostgresLedgerTreeStore(client: scenario.postgres.timed, logger: Logger(label: "test"))
            let key = scenario.components.ledgerKey.key.publicKey
            let resumed = try await LedgerAudit.verify(store, ledgerKey: key, from: head.size)
            #expect(resumed.problems == [] && resumed.startSize == head.size && resumed.leaves > 0)
            // A superuser who rewrites the frontier, to hide what came after it: nodes of the right
            // shape that do not fold to the signed root, then a single node (the root itself, which
            // always folds) where the size needs another shape.
            let forged = [ByteBuffer](repeating: ByteBuffer(bytes: Array(repeating: UInt8(7), count: 32)), count: head.size.nonzeroBitCount)
            try await scenario.postgres.query(
                "UPDATE ledger_heads SET frontier = \(forged) WHERE size = \(Int64(head.size))", logger: Logger(label: "test"))
            let refused = try await LedgerAudit.verify(store, ledgerKey: key, from: head.size)
            #expect(
                refused.problems == ["head \(head.size): its stored frontier does not fold to its signed root, so verification cannot start from it"])
            #expect(
                try await LedgerAudit.verify(store, ledgerKey: key).problems == [
                    "head \(head.size): its stored frontier does not match the sealed entries"
                ])
            if head.size.nonzeroBitCount != 1 {
                try await scenario.postgres.query(
                    "UPDATE ledger_heads SET frontier = ARRAY[\(ByteBuffer(bytes: head.root))] WHERE size = \(Int64(head.size))",
                    logger: Logger(label: "test"))
                #expect(
                    try await LedgerAudit.verify(store, ledgerKey: key, from: head.size).problems == [
                        "head \(head.size): its stored frontier is not one a tree of its size has, so verification cannot start from it"
                    ])
            }
            // A head removed: its leaves are sealed by no head.
            let newest = try #require(try await store.latestHead())
            try await scenario.postgres.query("DELETE FROM ledger_heads WHERE size = \(Int64(newest.size))", logger: Logger(label: "test"))
            let headless = try await LedgerAudit.verify(store, ledgerKey: key)
            #expect(headless.problems.contains("tree: leaves \(head.size + 1) to \(newest.size) are sealed by no head"), "\(headless.problems)")
            // A start past the tree's end.
            try await scenario.postgres.query("DELETE FROM ledger_tree WHERE leaf_index >= \(Int64(head.size - 1))", logger: Logger(label: "test"))
            try await scenario.postgres.query(
                "UPDATE ledger_heads SET frontier = \(head.frontier.map { ByteBuffer(bytes: $0) }) WHERE size = \(Int64(head.size))",
                logger: Logger(label: "test"))
            let short = try await LedgerAudit.verify(store, ledgerKey: key, from: head.size)
            #expect(short.problems.contains("tree: \(head.size - 1) leaves, fewer than head \(head.size) seals"), "\(short.problems)")
        }
    }

    @Test("a purge erases personal fields but keeps leaves: proofs and ledger verify still pass")
    func purge() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            let earlier = try #require(try await seal(scenario))
            _ = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            let head = try #require(try await seal(scenario))
            let logger = Logger(label: "test")
            let store = PostgresConsentStore(client: scenario.postgres.timed, logger: logger)
            let purged = try await store.purge(before: Date().addingTimeInterval(3600))
            #expect(purged.ledgerEntries == head.size)
            let consistency = try json(
                try await scenario.client.send(
                    .get, "/v1/ledger/consistency?from=\(earlier.size)&to=\(head.size)", key: scenario.keys[.reviewer]
                ).body)
            #expect(
                MerkleTree.verifyConsistency(
                    oldSize: earlier.size, newSize: head.size, oldRoot: earlier.root, newRoot: head.root,
                    proof: try #require(consistency["path"] as? [String]).map(hex)))
            #expect(try await audit(scenario) == [])
            let entries = try await scenario.ledger()
            #expect(entries.filter { $0.record.kind != .purge }.allSatisfy { $0.record.subjectKey == nil && $0.record.requesterMasked == nil })
            #expect(entries.last?.record.kind == .purge)
            for entry in entries.prefix(head.size) {
                let proof = try json(
                    try await scenario.client.send(
                        .get, "/v1/records/\(entry.seq)/proof?size=\(head.size)", key: scenario.keys[.reviewer]
                    ).body)
                let path = try #require(proof["path"] as? [String]).map(hex)
                #expect(
                    MerkleTree.verifyInclusion(
                        leaf: hex(try #require(proof["leaf_hash"] as? String)), index: try #require(proof["leaf_index"] as? Int),
                        size: head.size, proof: path, root: head.root))
            }
            // The purge switch allows erasing personal fields only.
            try await scenario.postgres.withTransaction(logger: logger) { connection in
                try await connection.query("SET LOCAL passby.purge = 'on'", logger: logger)
                await #expect(throws: (any Error).self) {
                    try await connection.query("UPDATE ledger SET result = 'forged' WHERE seq = \(entries[0].seq)", logger: logger)
                }
            }
        }
    }

    @Test("ledger verify names an entry whose personal fields were changed")
    func personalTampering() async throws {
        try await Scenario.run { scenario in
            _ = try await scenario.guardianGrant(for: People.elder)
            _ = try #require(try await seal(scenario))
            let logger = Logger(label: "test")
            let first = try #require(try await scenario.ledger().first)
            try await scenario.postgres.query("ALTER TABLE ledger DISABLE TRIGGER ledger_no_update", logger: logger)
            try await scenario.postgres.query("UPDATE ledger SET subject_masked = '9999**********9999' WHERE seq = \(first.seq)", logger: logger)
            #expect(try await audit(scenario) == ["entry \(first.seq): its personal fields do not match their digest"])
        }
    }
}
