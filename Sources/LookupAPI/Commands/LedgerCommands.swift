import ArgumentParser
import Consent
import Crypto
import Database
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
            let (head, elapsed) = try await withDatabase(data, logger: logger) { postgres in
                let key = try await LedgerKey.load(from: data.vault(postgres, logger: logger), dataDirectory: data.dataDirectory)
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
            let (problems, unsealed) = try await withDatabase(data, logger: logger) { postgres in
                let key = try await LedgerKey.load(from: data.vault(postgres, logger: logger), dataDirectory: data.dataDirectory)
                let snapshot = try await PostgresLedgerTreeStore(client: postgres, logger: logger).auditSnapshot()
                return (LedgerAudit.problems(snapshot, ledgerKey: key.key.publicKey), LedgerAudit.unsealed(snapshot))
            }
            if let first = unsealed.first, let last = unsealed.last {
                print(
                    "\(unsealed.count) entries are not sealed yet (seq \(first)\(first == last ? "" : " to \(last)")); passby ledger seal seals them")
            }
            guard problems.isEmpty else {
                for problem in problems { print(problem) }
                throw ExitCode(1)
            }
            print("the ledger verifies")
        }

        static func audit(_ database: TimedPostgres, logger: Logger, key: LedgerKey) async throws -> [String] {
            LedgerAudit.problems(try await PostgresLedgerTreeStore(client: database, logger: logger).auditSnapshot(), ledgerKey: key.key.publicKey)
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
            let encoder = PassbyJSON.encoder()
            encoder.outputFormatting = [.sortedKeys]
            for head in heads { print(String(decoding: try encoder.encode(TreeHeadBody(head)), as: UTF8.self)) }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Erase the personal data that ended before DATE, in every table: the personal fields of ledger entries (leaf hashes \
                stay, so proofs still verify), and ended grants, guardianships, offline codes, sessions and counters. The purge is recorded.
                """)
        @OptionGroup var data: DataOptions
        @Option(help: "Entries before this day (YYYY-MM-DD, UTC) are purged.") var before: String

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            guard let day = CivilDate(iso: before) else { throw ValidationError("--before must be a date as YYYY-MM-DD") }
            let cutoff = DateComponents(
                calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"),
                year: day.year, month: day.month, day: day.day
            ).date!
            // A day still running, or one to come, would reach into data that has not ended yet.
            guard cutoff <= Date().addingTimeInterval(-86_400) else { throw ValidationError("--before must be yesterday or earlier") }
            let logger = Logger(label: "passby.ledger")
            let counts = try await withDatabase(data, logger: logger) { postgres in
                try await PostgresConsentStore(client: postgres, logger: logger).purge(before: cutoff)
            }
            print("purged the personal fields of \(counts.ledgerEntries) entries before \(before)")
            for item in PurgeCounts.items.dropFirst() { print("  \(item.replacingOccurrences(of: "_", with: " ")): \(counts[item]) deleted") }
        }
    }
}
