import Foundation
import Logging
import PostgresNIO

/// Applies the numbered SQL files of `sql/` in order, each once and in its own transaction,
/// and records each in `schema_migrations`.
public struct Migrator: Sendable {
    /// One numbered file, `0001_name.sql`.
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    public enum MigrationError: Error, CustomStringConvertible {
        case badFileName(String)
        case duplicateVersion(Int)
        case failed(file: String, reason: String)
        case noDirectory(String)

        public var description: String {
            switch self {
            case .badFileName(let name): "migration file \(name) is not named NNNN_name.sql"
            case .duplicateVersion(let version): "two migration files share the number \(version)"
            case .failed(let file, let reason): "migration \(file) failed and was rolled back: \(reason)"
            case .noDirectory(let path): "no migrations at \(path): set PASSBY_SQL_DIR to the sql directory of this release"
            }
        }
    }

    public let directory: URL
    /// One advisory lock ("pass") for every migrator of a database.
    static let lockKey = Int64(0x7061_7373)

    public init(directory: URL) { self.directory = directory }

    /// `PASSBY_SQL_DIR`, else the `sql/` of the source tree this binary was built from. A binary
    /// copied elsewhere needs `PASSBY_SQL_DIR`; without it `migrations()` says so.
    public static var defaultDirectory: URL {
        if let explicit = ProcessInfo.processInfo.environment["PASSBY_SQL_DIR"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        // Never `./sql` of whatever directory the server was started in: a stray directory there
        // would be run as migrations by the database owner.
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("sql")
    }

    /// The migrations in the directory, ordered by number.
    public func migrations() throws -> [Migration] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw MigrationError.noDirectory(directory.path)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        var seen = Set<Int>()
        return try names.map { name in
            guard let prefix = name.split(separator: "_").first, prefix.count == 4, let version = Int(prefix) else {
                throw MigrationError.badFileName(name)
            }
            guard seen.insert(version).inserted else { throw MigrationError.duplicateVersion(version) }
            let sql = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            return Migration(version: version, name: name, sql: sql)
        }.sorted { $0.version < $1.version }
    }

    /// Applies every migration not yet recorded. Returns the names of those applied now.
    @discardableResult
    public func migrate(configuration: PostgresClient.Configuration, logger: Logger) async throws -> [String] {
        let pending = try migrations()
        return try await PostgresAdmin.withClient(configuration, logger: logger) { client in
            // Under the lock: two migrators creating the table at once would collide.
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                    """,
                    logger: logger)
            }
            var applied: [String] = []
            for migration in pending {
                if try await apply(migration, client: client, logger: logger) { applied.append(migration.name) }
            }
            return applied
        }
    }

    /// Applies one migration unless it is recorded; concurrent migrators wait on an advisory lock.
    func apply(_ migration: Migration, client: PostgresClient, logger: Logger) async throws -> Bool {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
                let done = try await connection.query(
                    "SELECT 1 FROM schema_migrations WHERE version = \(migration.version)", logger: logger)
                for try await _ in done { return false }
                for statement in SQLScript.statements(in: migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
                logger.info("applied migration", metadata: ["file": "\(migration.name)"])
                return true
            }
        } catch {
            throw MigrationError.failed(file: migration.name, reason: Self.reason(error))
        }
    }

    static func reason(_ error: any Error) -> String {
        let underlying = (error as? PostgresTransactionError)?.closureError ?? (error as? PostgresTransactionError)?.beginError ?? error
        if let psql = underlying as? PSQLError, let message = psql.serverInfo?[.message] {
            return message
        }
        return String(reflecting: underlying)
    }
}
