import Foundation
import Synchronization

/// A hit over a rate limit.
struct RateLimited: Sendable, Equatable {
    /// Seconds until the window resets.
    var retryAfter: Int
    /// True for the window's first hit over the limit: the one worth recording.
    var first: Bool
}

/// Fixed-window rate-limit counters. Behind a load balancer every instance must count in one
/// place (`PostgresRateLimitCounter`), or each would allow the whole limit again.
protocol RateLimitCounter: Sendable {
    /// Counts one hit on each key in order, stopping at the first over its limit (later keys,
    /// such as a whole client's, are not charged for a refused request); nil when every key is
    /// within its limit per `window` seconds, else that key's refusal.
    func hit(_ keys: [(key: String, limit: Int)], window: Double, now: Double) async throws -> RateLimited?
}

extension RateLimitCounter {
    /// Counts one hit on `key`.
    func hit(_ key: String, limit: Int, window: Double = 60, now: Double) async throws -> RateLimited? {
        try await hit([(key, limit)], window: window, now: now)
    }

    /// What a window that began at `start` and now holds `hits` says for `limit`.
    static func verdict(start: Double, hits: Int, limit: Int, window: Double, now: Double) -> RateLimited? {
        guard hits > limit else { return nil }
        return RateLimited(retryAfter: max(1, Int((start + window - now).rounded(.up))), first: hits == limit + 1)
    }
}

/// `RateLimitCounter` in this process's memory: for tests, and for one instance alone.
final class InMemoryRateLimitCounter: RateLimitCounter {
    private let windows = Mutex<[String: (start: Double, count: Int)]>([:])

    func hit(_ keys: [(key: String, limit: Int)], window: Double, now: Double) async throws -> RateLimited? {
        windows.withLock { windows in
            for (key, limit) in keys {
                var entry = Self.current(&windows, key, window: window, now: now)
                entry.count += 1
                windows[key] = entry
                if let refusal = Self.verdict(start: entry.start, hits: entry.count, limit: limit, window: window, now: now) {
                    return refusal
                }
            }
            return nil
        }
    }

    private static func current(_ windows: inout [String: (start: Double, count: Int)], _ key: String, window: Double, now: Double) -> (
        start: Double, count: Int
    ) {
        if windows.count > 100_000 { windows = windows.filter { now - $0.value.start < window } }
        let entry = windows[key] ?? (now, 0)
        return now - entry.start >= window ? (now, 0) : entry
    }
}
