import Database
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Rate-limit windows in PostgreSQL (`rate_windows`, `sql/0018`), so that a limit holds across
/// every instance behind a load balancer: one statement (`rate_hit`, `sql/0020`) counts all of a
/// request's keys in order, each only while every key before it is within its limit, so a
/// requester over their limit does not use up their client's window for everyone else. Shared
/// keys (a client's) come after personal ones, so locks are taken in one order.
struct PostgresRateLimitCounter: RateLimitCounter {
    let client: TimedPostgres
    let logger: Logger

    func hit(_ keys: [(key: String, limit: Int)], window: Double, now: Double) async throws -> RateLimited? {
        let at = Date(timeIntervalSince1970: now)
        var binds = PostgresBindings()
        binds.append(keys.map(\.key))
        binds.append(keys.map(\.limit))
        binds.append(at)
        binds.append(at.addingTimeInterval(-window))
        var counted: [String: (start: Date, hits: Int)] = [:]
        for row in try await client.execute(Hit(bindings: binds), logger: logger) {
            let (key, start, hits) = try row.decode((String, Date, Int).self)
            counted[key] = (start, hits)
        }
        for (key, limit) in keys {
            guard let current = counted[key] else { continue }
            if let refusal = Self.verdict(
                start: current.start.timeIntervalSince1970, hits: current.hits, limit: limit, window: window, now: now)
            {
                return refusal
            }
        }
        return nil
    }

    /// Counts hits (`rate_hit`, sql/0020); prepared, as every lookup runs it.
    struct Hit: HotStatement {
        static let name = "passby_rate_hit"
        static let sql = "SELECT key, window_start, hits FROM rate_hit($1::text[], $2::integer[], $3, $4)"
        static let bindingDataTypes: [PostgresDataType] = [.textArray, .int8Array, .timestamptz, .timestamptz]
        var bindings: PostgresBindings
    }

    /// Removes windows that ended long ago; `RateWindowSweeper` calls it every minute. Rows a
    /// lookup holds are skipped (the next sweep takes them): locking them in the table's order
    /// could deadlock with a `rate_hit` that locks a requester's window and then its client's.
    func sweep(before: Date) async throws {
        try await client.query(
            """
            DELETE FROM rate_windows WHERE key IN (
              SELECT key FROM rate_windows WHERE window_start < \(before) FOR UPDATE SKIP LOCKED)
            """, logger: logger)
    }
}

/// Empties `rate_windows` of windows that ended more than ten minutes ago, once a minute.
struct RateWindowSweeper: Service {
    let counter: PostgresRateLimitCounter
    let clock: any PassbyClock

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(60))
                try? await counter.sweep(before: clock.now().addingTimeInterval(-600))
            }
        }
    }
}
