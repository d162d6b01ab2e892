import ArgumentParser
import Consent
import Crypto
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// `passby ledger seal|verify|export-heads`.
struct LedgerCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Seal, verify and publish the consent ledger.",
        subcommands: [Seal.self, Verify.self, ExportHeads.self, Purge.self])

    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Seal the ledger now (the server does so every few seconds).")
        @OptionGroup var data: DataOptions

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let logger = Logger(label: "passby.ledger")
            let key = try LedgerKey(dataDirectory: data.dataDirectory)
            let (head, elapsed) = try await withDatabase(data, logger: logger) { postgres in
                let start = ContinuousClock.now
                let head = try await LedgerSealer.seal(tree: PostgresLedgerTreeStore(client: postgres, logger: logger), key: key)
                return (head, ContinuousClock.now - start)
            }
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            print(head.map { "sealed: size \($0.size) in \(String(format: "%.1f", milliseconds)) ms" } ?? "nothing new to seal")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every leaf, root and head signature; name each mismatch; exit 1 if any.")
        @OptionGroup var data: DataOptions

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let logger = Logger(label: "passby.ledger")
            let key = try LedgerKey(dataDirectory: data.dataDirectory)
            let problems = try await withDatabase(data, logger: logger) { postgres in
                try await Self.audit(postgres, logger: logger, key: key)
            }
            guard problems.isEmpty else {
                for problem in problems { print(problem) }
                throw ExitCode(1)
            }
            print("the ledger verifies")
        }

        /// Reads the raw rows (formatting times in the query, not through functions stored in the database).
        ///
        /// The server may append and seal meanwhile, so the reads go from the sealed to the raw:
        /// heads, then the tree, then its nodes, then the entries. Each later read then holds at
        /// least what the earlier ones refer to, and the audit needs no lock on a live ledger.
        static func audit(_ postgres: PostgresClient, logger: Logger, key: LedgerKey) async throws -> [String] {
            let heads = try await PostgresLedgerTreeStore(client: postgres, logger: logger).heads()
            var order: [(index: Int64, seq: Int64)] = []
            for try await (index, seq) in try await postgres.query("SELECT leaf_index, seq FROM ledger_tree ORDER BY leaf_index", logger: logger)
                .decode((Int64, Int64).self) {
                order.append((index, seq))
            }
            var nodes: [MerkleNodeRef: MerkleTree.Hash] = [:]
            for try await (level, index, hash) in try await postgres.query("SELECT level, idx, hash FROM ledger_nodes", logger: logger)
                .decode((Int, Int64, ByteBuffer).self) {
                nodes[MerkleNodeRef(level: level, index: index)] = Array(buffer: hash)
            }
            let time = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"
            let rows = try await postgres.query(
                """
                SELECT seq, kind, to_char(at AT TIME ZONE 'UTC', \(unescaped: time)), coalesce(client_id::text, ''),
                       coalesce(staff_id::text, ''), coalesce(encode(requester_key, 'hex'), ''), coalesce(requester_masked, ''),
                       coalesce(encode(subject_key, 'hex'), ''), coalesce(subject_masked, ''), coalesce(grant_id::text, ''),
                       coalesce(method, ''), coalesce(legal_basis, ''), result, coalesce(encode(code_cti, 'hex'), ''),
                       coalesce(to_char(code_exp AT TIME ZONE 'UTC', \(unescaped: time)), ''), leaf_hash, personal_digest,
                       purged_at IS NOT NULL
                FROM ledger ORDER BY seq
                """, logger: logger)
            var entries: [LedgerAudit.EntryFields] = []
            for try await row in rows {
                let c = try row.decode((Int64, String, String, String, String, String, String, String, String, String, String, String, String,
                                         String, String, ByteBuffer, ByteBuffer, Bool).self)
                let digest = Array(buffer: c.16)
                let personal = [("requester", c.5), ("requester_masked", c.6), ("subject", c.7), ("subject_masked", c.8)]
                entries.append(LedgerAudit.EntryFields(seq: c.0, fields: [
                    ("seq", "\(c.0)"), ("kind", c.1), ("at", c.2), ("client", c.3), ("staff", c.4),
                    ("personal", digest.map { String(format: "%02x", $0) }.joined()), ("grant", c.9), ("method", c.10),
                    ("basis", c.11), ("result", c.12), ("cti", c.13), ("exp", c.14),
                ], personal: c.17 ? nil : personal, personalDigest: digest, leafHash: Array(buffer: c.15)))
            }
            return LedgerAudit.problems(entries: entries, treeOrder: order, heads: heads, nodes: nodes, ledgerKey: key.key.publicKey)
        }
    }

    struct ExportHeads: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every signed head as JSON lines, to publish elsewhere.")
        @OptionGroup var data: DataOptions

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let logger = Logger(label: "passby.ledger")
            let heads = try await withDatabase(data, logger: logger) { postgres in
                try await PostgresLedgerTreeStore(client: postgres, logger: logger).heads()
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            for head in heads { print(String(decoding: try encoder.encode(LedgerController.HeadBody(head)), as: UTF8.self)) }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase the personal fields of entries before DATE; leaf hashes stay, so proofs still verify. The purge is recorded.")
        @OptionGroup var data: DataOptions
        @Option(help: "Entries before this day (YYYY-MM-DD, UTC) are purged.") var before: String

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            guard let day = CivilDate(iso: before) else { throw ValidationError("--before must be a date as YYYY-MM-DD") }
            let cutoff = DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"),
                                        year: day.year, month: day.month, day: day.day).date!
            let logger = Logger(label: "passby.ledger")
            let count = try await withDatabase(data, logger: logger) { postgres in
                try await PostgresConsentStore(client: postgres, logger: logger).purge(before: cutoff)
            }
            print("purged the personal fields of \(count) entries before \(before)")
        }
    }
}
