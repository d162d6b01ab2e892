import ArgumentParser
import Consent
import Crypto
import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// `passby ledger seal|verify|export-heads`.
struct LedgerCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Seal, verify and publish the consent ledger.",
        subcommands: [Seal.self, Verify.self, ExportHeads.self, Purge.self])

    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal the ledger now, every entry not sealed yet, a batch at a time (the server seals every few seconds).")
        @OptionGroup var data: DataOptions

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let logger = Logger(label: "passby.ledger")
            let (head, elapsed) = try await withDatabase(data, logger: logger) { postgres in
                let key = try await LedgerKey.load(from: data.vault(postgres, logger: logger), dataDirectory: data.dataDirectory)
                let tree = PostgresLedgerTreeStore(client: postgres, logger: logger)
                let start = ContinuousClock.now
                var size = try await tree.latestHead()?.size ?? 0
                var newest: TreeHead?
                // A full batch may have left more behind; a short one emptied the queue.
                while let head = try await LedgerSealer.seal(tree: tree, key: key) {
                    newest = head
                    defer { size = head.size }
                    if head.size - size < PostgresLedgerTreeStore.sealBatch { break }
                }
                return (newest, ContinuousClock.now - start)
            }
            let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            print(head.map { "sealed: size \($0.size) in \(String(format: "%.1f", milliseconds)) ms" } ?? "nothing new to seal")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Recompute every leaf, tree node, root and head signature, a batch at a time in bounded memory; name each \
                mismatch; exit 1 if any.
                """)
        @OptionGroup var data: DataOptions
        @Option(help: "Start from the signed head of this size (verified before), and check only what came after it.")
        var from: Int?
        @Flag(help: "Show progress on standard error even when it is not a terminal.")
        var progress = false

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let logger = Logger(label: "passby.ledger")
            let meter = ProgressLine(enabled: progress || isatty(STDERR_FILENO) == 1)
            let from = from
            let report: LedgerAudit.Report
            do {
                report = try await withDatabase(data, logger: logger) { postgres in
                    let key = try await LedgerKey.load(from: data.vault(postgres, logger: logger), dataDirectory: data.dataDirectory)
                    return try await LedgerAudit.verify(
                        PostgresLedgerTreeStore(client: postgres, logger: logger), ledgerKey: key.key.publicKey, from: from,
                        progress: meter.show)
                }
            } catch let error as LedgerAudit.UnknownHead {
                throw ValidationError(error.description)
            }
            meter.end()
            if let first = report.unsealedFirst, let last = report.unsealedLast {
                print(
                    "\(report.unsealedCount) entries are not sealed yet (seq \(first)\(first == last ? "" : " to \(last)")); passby ledger seal seals them"
                )
            }
            guard report.problemCount == 0 else {
                for problem in report.problems { print(problem) }
                if report.problemCount > report.problems.count { print("… and \(report.problemCount - report.problems.count) more problems") }
                throw ExitCode(1)
            }
            let start = report.startSize == 0 ? "" : " after head \(report.startSize)"
            print("the ledger verifies: \(report.leaves) sealed entries\(start), \(report.headsChecked) heads")
            if let head = report.lastHeadSize, head > report.startSize {
                print("to check only what comes later: passby ledger verify --from \(head)")
            }
        }

        static func audit(_ database: TimedPostgres, logger: Logger, key: LedgerKey) async throws -> [String] {
            try await LedgerAudit.verify(PostgresLedgerTreeStore(client: database, logger: logger), ledgerKey: key.key.publicKey).problems
        }
    }

    /// One line on standard error, rewritten at most once a second: leaves verified, the rate, the time left.
    final class ProgressLine: Sendable {
        let enabled: Bool
        private let state = Mutex<(began: ContinuousClock.Instant, shown: ContinuousClock.Instant?, wrote: Bool)>((.now, nil, false))

        init(enabled: Bool) { self.enabled = enabled }

        @Sendable func show(_ progress: LedgerAudit.Progress) {
            guard enabled else { return }
            let now = ContinuousClock.now
            let line: String? = state.withLock { state in
                if let shown = state.shown, now - shown < .seconds(1), progress.leaves < progress.total { return nil }
                state.shown = now
                state.wrote = true
                let elapsed = Self.seconds(now - state.began)
                let rate = elapsed > 0 ? Double(progress.leaves) / elapsed : 0
                let left = rate > 0 ? Double(progress.total - progress.leaves) / rate : 0
                return
                    "\rverified \(progress.leaves) of \(progress.total) sealed entries, \(Int(rate)) a second, about \(Int(left.rounded(.up))) s left   "
            }
            if let line { FileHandle.standardError.write(Data(line.utf8)) }
        }

        func end() {
            if state.withLock({ $0.wrote }) { FileHandle.standardError.write(Data("\n".utf8)) }
        }

        static func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
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
