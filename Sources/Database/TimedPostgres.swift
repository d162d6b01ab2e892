import Logging
import PostgresNIO

/// PostgreSQL as every store reaches it: one pool, and one deadline on every call.
///
/// This is the one place where the database timeout is applied. A call that does not answer
/// within `timeout` throws `DatabaseTimeout` (a 503 for a request), whatever the pool or the
/// server is doing; the server ends the statement itself through `statement_timeout`. Operator
/// commands, which may read a whole ledger, use no deadline.
public struct TimedPostgres: Sendable {
    public let client: PostgresClient
    public let timeout: Duration?

    public init(client: PostgresClient, timeout: Duration? = nil) {
        self.client = client
        self.timeout = timeout
    }

    func timed<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let timeout else { return try await operation() }
        return try await withDeadline(timeout, operation)
    }

    /// One statement; the deadline covers it until its first answer.
    @discardableResult
    public func query(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        try await timed { try await client.query(query, logger: logger) }
    }

    /// A transaction; the deadline covers all of it. When `body` throws and the rollback
    /// succeeds, its own error is rethrown, so callers see the refusal they threw.
    public func withTransaction<T: Sendable>(
        logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        do {
            return try await timed { try await client.withTransaction(logger: logger) { try await body($0) } }
        } catch let error as PostgresTransactionError {
            if let thrown = error.closureError, error.rollbackError == nil { throw thrown }
            throw error
        }
    }

    /// One pooled connection for several statements; the deadline covers all of them.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await timed { try await client.withConnection { try await body($0) } }
    }
}
