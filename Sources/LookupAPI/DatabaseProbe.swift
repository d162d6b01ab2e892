import Logging
import PostgresNIO

/// Answers whether the database is reachable now.
protocol DatabaseProbe: Sendable {
    func ping() async throws
}

/// `SELECT 1` with a deadline, so a database that hangs reads as unavailable.
struct PostgresProbe: DatabaseProbe {
    let client: PostgresClient
    let timeout: Duration
    let logger: Logger

    func ping() async throws {
        try await withDeadline(timeout) {
            try await client.query("SELECT 1", logger: logger)
        }
    }
}

/// Runs `operation`, or throws `DatabaseTimeout` once `duration` has passed.
func withDeadline<T: Sendable>(_ duration: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: duration)
            throw DatabaseTimeout()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
