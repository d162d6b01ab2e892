import Foundation
import Logging
import PostgresNIO

/// Short-lived connections for administrative work: creating and dropping databases, running a block with a client.
public enum PostgresAdmin {
    /// Runs `body` with a client whose connection pool runs for exactly that long.
    public static func withClient<Result: Sendable>(
        _ configuration: PostgresClient.Configuration, logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        // The pool warns when a query races its start-up, which is harmless here: keep it quiet.
        var backgroundLogger = logger
        backgroundLogger.logLevel = .error
        let client = PostgresClient(configuration: configuration, backgroundLogger: backgroundLogger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// Creates `name` in the cluster unless it exists. `name` must be a plain identifier.
    public static func createDatabaseIfMissing(
        _ name: String, cluster: EmbeddedCluster, template: String? = nil, logger: Logger
    ) async throws {
        precondition(name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "database names are plain identifiers")
        let admin = try DatabaseSettings.clientConfiguration(cluster: cluster, database: "postgres")
        _ = try await withClient(admin, logger: logger) { client in
            let rows = try await client.query("SELECT 1 FROM pg_database WHERE datname = \(name)", logger: logger)
            for try await _ in rows { return }
            let templateClause = template.map { " TEMPLATE \"\($0)\"" } ?? ""
            do {
                try await client.query("CREATE DATABASE \"\(unescaped: name)\"\(unescaped: templateClause)", logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P04" {
                // Created concurrently by another process: that is what we wanted.
            }
        }
    }

    /// Gives the application role the embedded cluster's password for it. The role is cluster-wide
    /// and made by the migrations; this runs after them, as its owner.
    public static func setApplicationPassword(cluster: EmbeddedCluster, logger: Logger) async throws {
        let password = try cluster.applicationPassword()
        let admin = try DatabaseSettings.clientConfiguration(cluster: cluster, database: "postgres")
        _ = try await withClient(admin, logger: logger) { client in
            // A utility statement takes no parameters; the password is hex, so it needs no quoting.
            try await client.query(
                "ALTER ROLE \"\(unescaped: DatabaseHandle.applicationRole)\" PASSWORD '\(unescaped: password)'", logger: logger)
        }
    }
}
