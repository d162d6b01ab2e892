import Database
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Rate-limit windows in PostgreSQL (`rate_windows`, `sql/0018`), so that a limit holds across
/// every instance behind a load balancer: one statement counts all of a request's keys.
struct PostgresRateLimitCounter: RateLimitCounter {
    let client: TimedPostgres
    let logger: Logger

    func hit(_ keys: [(key: String, limit: Int)], window: Double, now: Double) async throws -> RateLimited? {
        let rows = try await client.query(Self.chainedHits(keys, at: Date(timeIntervalSince1970: now), window: window), logger: logger)
        var counted: [String: (start: Date, hits: Int)] = [:]
        for try await (key, start, hits) in rows.decode((String, Date, Int).self) { counted[key] = (start, hits) }
        for (key, limit) in keys {
            guard let current = counted[key] else { continue }
            if let refusal = Self.verdict(
                start: current.start.timeIntervalSince1970, hits: current.hits, limit: limit, window: window, now: now, counted: true)
            {
                return refusal
            }
        }
        return nil
    }

    /// One statement that counts the keys in order, each only while every key before it is within
    /// its limit: a requester over their limit does not use up their client's window for everyone
    /// else. Shared keys (a client's) come after personal ones, so locks are taken in one order.
    static func chainedHits(_ keys: [(key: String, limit: Int)], at: Date, window: Double) -> PostgresQuery {
        var bindings = PostgresBindings()
        bindings.append(at)
        bindings.append(Date(timeIntervalSince1970: at.timeIntervalSince1970 - window))
        var steps: [String] = []
        for (index, (key, _)) in keys.enumerated() {
            bindings.append(key)
            let within = (0..<index).map { "(SELECT hits FROM k\($0)) <= $\(3 + keys.count + $0)" }
            steps.append(
                """
                k\(index) AS (INSERT INTO rate_windows AS w (key, window_start, hits) SELECT $\(3 + index), $1, 1 \
                \(within.isEmpty ? "" : "WHERE " + within.joined(separator: " AND ")) \
                ON CONFLICT (key) DO UPDATE SET window_start = CASE WHEN w.window_start <= $2 THEN excluded.window_start ELSE w.window_start END, \
                hits = CASE WHEN w.window_start <= $2 THEN 1 ELSE w.hits + 1 END RETURNING key, window_start, hits)
                """)
        }
        for (_, limit) in keys { bindings.append(limit) }
        let union = keys.indices.map { "SELECT key, window_start, hits FROM k\($0)" }.joined(separator: " UNION ALL ")
        return PostgresQuery(unsafeSQL: "WITH " + steps.joined(separator: ", ") + " " + union, binds: bindings)
    }

    func exhausted(_ key: String, limit: Int, window: Double, now: Double) async throws -> RateLimited? {
        let rows = try await client.query("SELECT window_start, hits FROM rate_windows WHERE key = \(key)", logger: logger)
        for try await (start, hits) in rows.decode((Date, Int).self) where now - start.timeIntervalSince1970 < window {
            return Self.verdict(start: start.timeIntervalSince1970, hits: hits, limit: limit, window: window, now: now, counted: false)
        }
        return nil
    }

    /// Removes windows that ended long ago; `RateWindowSweeper` calls it every minute.
    func sweep(before: Date) async throws {
        try await client.query("DELETE FROM rate_windows WHERE window_start < \(before)", logger: logger)
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
