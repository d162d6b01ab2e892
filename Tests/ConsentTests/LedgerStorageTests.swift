import Consent
import Crypto
import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Testing
import ThrowawayPostgres

@Suite("The ledger in PostgreSQL", .timeLimit(.minutes(5)))
struct LedgerStorageTests {
    let logger = Logger(label: "test")

    func record(_ client: PostgresClient, _ result: String = "ok") async throws {
        try await PostgresConsentStore(client: client.timed, logger: logger).record(
            LedgerRecord(
                kind: .lookupRefused, clientID: UUID(), requesterKey: SubjectKey(bytes: Array(repeating: 1, count: 32)),
                requesterMasked: "4403**********0514", subjectKey: SubjectKey(bytes: Array(repeating: 2, count: 32)),
                subjectMasked: "1101**********002X", result: result, codeID: Array(repeating: 3, count: 16), codeExpiry: Date()))
    }

    @Test("UPDATE, DELETE and TRUNCATE are refused, even for a superuser in replica mode")
    func appendOnly() async throws {
        try await withThrowawayClient { client in
            try await record(client)
            for statement: PostgresQuery in ["UPDATE ledger SET result = 'forged'", "DELETE FROM ledger", "TRUNCATE ledger"] {
                await #expect(throws: (any Error).self) { try await client.query(statement, logger: logger) }
            }
            try await client.withConnection { connection in
                try await connection.query("SET session_replication_role = replica", logger: logger)
                await #expect(throws: (any Error).self) { try await connection.query("UPDATE ledger SET result = 'forged'", logger: logger) }
                await #expect(throws: (any Error).self) { try await connection.query("DELETE FROM ledger", logger: logger) }
                try await connection.query("SET session_replication_role = origin", logger: logger)
            }
            let rows = try await client.query("SELECT result FROM ledger", logger: logger)
            var results: [String] = []
            for try await result in rows.decode(String.self) { results.append(result) }
            #expect(results == ["ok"])
        }
    }

    @Test("the application role may add and read entries and nothing more")
    func applicationRole() async throws {
        try await withThrowawayClient { client in
            try await record(client)
            try await client.withConnection { connection in
                try await connection.query("SET ROLE passby_app", logger: logger)
                try await connection.query(
                    "INSERT INTO ledger (kind, result) VALUES ('verification', 'valid')", logger: logger)
                _ = try await connection.query("SELECT count(*) FROM ledger", logger: logger).collect()
                // Nor may it keep an entry from being sealed, or purge.
                for statement: PostgresQuery in [
                    "UPDATE ledger SET result = 'x'", "DELETE FROM ledger", "TRUNCATE ledger", "DELETE FROM ledger_unsealed",
                    "INSERT INTO ledger_unsealed (seq) VALUES (999999)", "SELECT ledger_queue(999999)", "SELECT * FROM passby_purge(now())",
                ] {
                    // Read to the end: a SELECT's error may come after its row description.
                    await #expect(throws: PSQLError.self, "\(statement.sql)") { try await connection.query(statement, logger: logger).collect() }
                }
                #expect(try await connection.query("SELECT count(*) FROM ledger_unsealed", logger: logger).collect().count == 1)
                try await connection.query("RESET ROLE", logger: logger)
            }
        }
    }

    @Test("the insert trigger sets seq and at itself: the application role can neither pick a number nor backdate")
    func sequenceAndTimeAreTheLedgers() async throws {
        try await withThrowawayClient { client in
            try await record(client)
            try await client.withConnection { connection in
                try await connection.query("SET ROLE passby_app", logger: logger)
                try await connection.query(
                    "INSERT INTO ledger (seq, at, kind, result) VALUES (999999, '2000-01-01T00:00:00Z', 'verification', 'backdated')",
                    logger: logger)
                try await connection.query("RESET ROLE", logger: logger)
            }
            let rows = try await client.query(
                "SELECT seq, at > now() - interval '1 minute' FROM ledger WHERE result = 'backdated'", logger: logger)
            var found: [(Int64, Bool)] = []
            for try await row in rows.decode((Int64, Bool).self) { found.append(row) }
            #expect(found.count == 1 && found[0].0 == 2 && found[0].1, "\(found)")
        }
    }

    @Test("an entry whose transaction commits long after higher-numbered ones were sealed is still sealed")
    func lateCommitIsSealed() async throws {
        try await withThrowawayClient { client in
            let store = PostgresLedgerTreeStore(client: client.timed, logger: logger)
            let key = LedgerKey(key: Curve25519.Signing.PrivateKey())
            func seal() async throws -> TreeHead? {
                try await store.seal(waitForLock: true) { size, root, at in (key.kid, try key.sign(size: size, root: root, sealedAt: at)) }
            }
            let (inserted, insertedSignal) = AsyncStream<Void>.makeStream()
            let (release, releaseSignal) = AsyncStream<Void>.makeStream()
            // A transaction that takes its number first and commits after 10,001 others were sealed
            // (the old sealer looked back 10,000 numbers).
            let held = Task {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.query("INSERT INTO ledger (kind, result) VALUES ('verification', 'late')", logger: logger)
                    insertedSignal.yield()
                    for await _ in release { break }
                }
            }
            for await _ in inserted { break }
            try await client.query(
                "INSERT INTO ledger (kind, result) SELECT 'verification', 'valid' FROM generate_series(1, 10001)", logger: logger)
            _ = try #require(try await seal())
            releaseSignal.yield()
            try await held.value
            let head = try #require(try await seal(), "the late entry is sealed by the next seal")
            #expect(head.size == 10_002)
            let report = try await LedgerAudit.verify(store, ledgerKey: key.key.publicKey, batchSize: 1000)
            #expect(report.unsealed == [] && report.unsealedCount == 0)
            #expect(report.problems == [] && report.leaves == 10_002)
        }
    }

    @Test("each entry's leaf hash is SHA-256(0x00 || its documented canonical text)")
    func leafHash() async throws {
        try await withThrowawayClient { client in
            try await record(client, "consent-used")
            let rows = try await client.query(
                """
                SELECT seq, kind, ledger_time(at), client_id::text, encode(requester_key, 'hex'), requester_masked,
                       encode(subject_key, 'hex'), subject_masked, result, encode(code_cti, 'hex'), ledger_time(code_exp), leaf_hash,
                       encode(personal_salt, 'hex')
                FROM ledger
                """, logger: logger)
            for try await (seq, kind, at, clientID, requester, requesterMasked, subject, subjectMasked, result, cti, exp, leaf, salt)
                in rows.decode((Int64, String, String, String, String, String, String, String, String, String, String, ByteBuffer, String).self)
            {
                #expect(salt.count == 32, "16 random bytes of salt")
                let personal = [
                    "salt=\(salt)", "requester=\(requester)", "requester_masked=\(requesterMasked)", "subject=\(subject)",
                    "subject_masked=\(subjectMasked)",
                ].map { $0 + "\n" }.joined()
                let digest = SHA256.hash(data: Array(personal.utf8)).map { String(format: "%02x", $0) }.joined()
                let text = [
                    "passby-ledger-v1", "seq=\(seq)", "kind=\(kind)", "at=\(at)", "client=\(clientID)", "staff=",
                    "personal=\(digest)", "grant=", "method=", "basis=", "result=\(result)", "cti=\(cti)", "exp=\(exp)",
                ].map { $0 + "\n" }.joined()
                #expect(Array(buffer: leaf) == MerkleTree.leafHash(Array(text.utf8)))
                #expect(requester == String(repeating: "01", count: 32))
                #expect(at.hasSuffix("Z") && at.count == 27)
            }
        }
    }
}
