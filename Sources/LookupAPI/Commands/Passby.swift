import ArgumentParser
import Database
import Display
import Foundation
import Logging
import PostgresNIO

/// The `passby` command line.
@main
struct Passby: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passby",
        abstract: "Show the health code of a person without a smartphone, with their consent.",
        subcommands: [
            Serve.self, Migrate.self, Clients.self, StaffCommands.self, Keys.self, SecretCommands.self, LedgerCommands.self, IDCommands.self,
            Conformance.self,
            Dev.self,
        ])
}

/// Options every command that touches the database shares.
struct DataOptions: ParsableArguments {
    @Option(help: "Data directory: embedded PostgreSQL, server secret, keys (env PASSBY_DATA_DIR).")
    var dataDir: String = ProcessInfo.processInfo.environment["PASSBY_DATA_DIR"] ?? ".passby"

    var dataDirectory: URL { URL(fileURLWithPath: dataDir).standardizedFileURL }

    /// Code-signing keys: `PASSBY_KEYS_DIR`, else `<data-dir>/keys`.
    var keyStore: KeyStore {
        if let explicit = ProcessInfo.processInfo.environment["PASSBY_KEYS_DIR"], !explicit.isEmpty {
            return KeyStore(directory: URL(fileURLWithPath: explicit))
        }
        return KeyStore(directory: dataDirectory.appendingPathComponent("keys"))
    }
}

/// Logging on standard error, so standard output stays parseable. `LOG_LEVEL` overrides the command's level.
enum CommandLogging {
    static func bootstrap(level: Logger.Level) {
        let chosen = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = chosen
            return handler
        }
    }
}

/// Runs `body` with Passby's database (as its owner, with no deadline: an operator's command may
/// read the whole ledger), starting the embedded cluster for the command if no server is running,
/// and stopping it again afterwards.
func withDatabase<T: Sendable>(
    _ options: DataOptions, logger: Logger, _ body: @Sendable (TimedPostgres) async throws -> T
) async throws -> T {
    let handle = try await DatabaseHandle.open(.resolve(dataDirectory: options.dataDirectory), logger: logger)
    do {
        let result = try await PostgresAdmin.withClient(handle.configuration, logger: logger) { try await body(TimedPostgres(client: $0)) }
        try await handle.close(logger: logger)
        return result
    } catch {
        try? await handle.close(logger: logger)
        throw error
    }
}
