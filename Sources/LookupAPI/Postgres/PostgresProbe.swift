import Database
import Logging
import PostgresNIO

/// Answers whether the database is reachable now.
protocol DatabaseProbe: Sendable {
    func ping() async throws
}

/// `SELECT 1` within the database deadline, so a database that hangs reads as unavailable.
struct PostgresProbe: DatabaseProbe {
    let database: TimedPostgres
    let logger: Logger

    func ping() async throws {
        try await database.query("SELECT 1", logger: logger)
    }
}
