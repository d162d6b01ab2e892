import Logging
import PostgresNIO

/// A statement that runs on every request of a hot path, so it is parsed and planned once per
/// connection (a named prepared statement) instead of on every call. Its SQL is fixed, with
/// `$n` placeholders; each run brings only its values.
///
/// Conformers name themselves (`name`), give `sql` and declare `bindingDataTypes`, the types the
/// statement is prepared with; every run must bind values of those types, in that order.
public protocol HotStatement: PostgresPreparedStatement where Row == PostgresRow {
    /// The values for `$1…$n`, in order.
    var bindings: PostgresBindings { get }
}

extension HotStatement {
    public func makeBindings() -> PostgresBindings { bindings }
    public func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

extension TimedPostgres {
    /// Runs a prepared statement (preparing it first on a connection that has not seen it) and
    /// returns its rows; the deadline covers the whole call. For statements of a few rows.
    public func execute<Query: HotStatement>(_ query: Query, logger: Logger) async throws -> [PostgresRow] {
        try await timed {
            var rows: [PostgresRow] = []
            for try await row in try await client.execute(query, logger: logger) { rows.append(row) }
            return rows
        }
    }
}
