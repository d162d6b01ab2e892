import ArgumentParser
import Consent
import Database
import Foundation
import Logging

/// `passby secret status|rotate|rekey`: the server secret behind every keyed hash, in versions.
/// A rotation announces the next version; once every instance holds it, it takes over, and
/// `rekey` moves every stored hash to it without the plain ID numbers (see `PersonalData`).
struct SecretCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret", abstract: "Rotate the server secret behind the keyed hashes of ID numbers and names.",
        subcommands: [Status.self, Rotate.self, Rekey.self])

    /// Runs `body` with the database's versions and a rekeying store, as the owner. Each command
    /// bootstraps logging once, first.
    static func withSecret<T: Sendable>(
        _ data: DataOptions, _ body: @escaping @Sendable (KeyVault, [ServerSecretVersion], PostgresSecretRekeyStore) async throws -> T
    ) async throws -> T {
        let logger = Logger(label: "passby.secret")
        return try await withDatabase(data, logger: logger) { postgres in
            let vault = try data.vault(postgres, logger: logger)
            let versions = try await ServerSecret.versions(from: vault, dataDirectory: data.dataDirectory)
            return try await body(vault, versions, PostgresSecretRekeyStore(client: postgres, logger: logger))
        }
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    static func describe(_ versions: [ServerSecretVersion], counts: SecretVersionCounts) -> String {
        let current = ServerSecretRing(versions).snapshot().current.number
        var lines: [String] = []
        for version in versions {
            let state =
                version.number == current
                ? "current" : version.number > current ? "announced, in force \(Keys.List.date(version.activatesAt))" : "earlier"
            let rows = counts.rows.keys.sorted().compactMap { table in counts.rows[table]?[version.number].map { "\(table) \($0)" } }
            lines.append("v\(version.number)  \(state)  rows: \(rows.isEmpty ? "none" : rows.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the versions and the rows stored under each.")
        @OptionGroup var data: DataOptions

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            print(
                try await SecretCommands.withSecret(data) { _, versions, store in
                    SecretCommands.describe(versions, counts: try await store.versionCounts())
                })
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Announce a new version; it takes over after --delay seconds (every running instance learns it within 5), \
                and the rows are then moved to it as `rekey` does.
                """)
        @OptionGroup var data: DataOptions
        @Option(help: "Seconds until the new version is in force (at least 10).") var delay: Int64 = 15

        func validate() throws {
            guard delay >= 10 else { throw ValidationError("--delay must be at least 10 seconds, so that every instance learns the version first") }
        }

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            let delay = delay
            let added = try await SecretCommands.withSecret(data) { vault, versions, store in
                let counts = try await store.versionCounts()
                if let refusal = SecretRekeying.refusalToRotate(versions: versions, counts: counts, now: SecretCommands.now) {
                    throw ValidationError(refusal)
                }
                try await ServerSecret.addVersion(to: vault, after: versions, now: SecretCommands.now, delay: delay)
                return try await ServerSecret.versions(from: vault, after: ServerSecretRing(versions)).last!
            }
            print("v\(added.number) announced; in force \(Keys.List.date(added.activatesAt))")
            let wait = added.activatesAt - SecretCommands.now + 1
            if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
            try await Rekey.move(data)
        }
    }

    struct Rekey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move every row's keyed hashes to the current version (safe to run again; the ledger is never moved).")
        @OptionGroup var data: DataOptions

        func run() async throws {
            CommandLogging.bootstrap(level: .error)
            try await Self.move(data)
        }

        static func move(_ data: DataOptions) async throws {
            let summary = try await SecretCommands.withSecret(data) { _, versions, store in
                let current = ServerSecretRing(versions).snapshot().current.number
                let moved = try await SecretRekeying(store: store, versions: versions).run(to: current)
                return "\(moved) rows moved to v\(current)\n" + SecretCommands.describe(versions, counts: try await store.versionCounts())
            }
            print(summary)
        }
    }
}
