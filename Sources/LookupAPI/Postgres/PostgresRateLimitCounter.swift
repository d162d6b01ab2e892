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
        let at = Date(timeIntervalSince1970: now)
        let expired = Date(timeIntervalSince1970: now - window)
        // Sorted, so that concurrent requests lock shared keys (a client's) in one order.
        let names = Array(Set(keys.map(\.key))).sorted()
        let rows = try await client.query(
            """
            INSERT INTO rate_windows AS w (key, window_start, hits)
            SELECT k, \(at), 1 FROM unnest(\(names)::text[]) AS k ORDER BY k
            ON CONFLICT (key) DO UPDATE SET
                window_start = CASE WHEN w.window_start <= \(expired) THEN excluded.window_start ELSE w.window_start END,
                hits = CASE WHEN w.window_start <= \(expired) THEN 1 ELSE w.hits + 1 END
            RETURNING key, window_start, hits
            """, logger: logger)
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
