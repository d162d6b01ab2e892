import Foundation
import Synchronization

/// Fixed-window counters in this process: enough to slow a misbehaving requester or client.
/// Limits are per instance; behind a load balancer each instance counts its own share.
final class RateLimiter: Sendable {
    /// A hit over the limit.
    struct Limited: Sendable, Equatable {
        /// Seconds until the window resets.
        var retryAfter: Int
        /// True for the window's first hit over the limit: the one worth recording.
        var first: Bool
    }

    private let windows = Mutex<[String: (start: Double, count: Int)]>([:])

    /// Counts one hit on `key`. Returns nil when within `limit` per `window` seconds.
    func hit(_ key: String, limit: Int, window: Double = 60, now: Double = Date().timeIntervalSince1970) -> Limited? {
        windows.withLock { windows in
            var entry = Self.current(&windows, key, window: window, now: now)
            entry.count += 1
            windows[key] = entry
            guard entry.count > limit else { return nil }
            return Limited(retryAfter: max(1, Int((entry.start + window - now).rounded(.up))), first: entry.count == limit + 1)
        }
    }

    /// Whether `key` has had its `limit` this window, without counting a hit: for limits that
    /// count only what succeeded.
    func exhausted(_ key: String, limit: Int, window: Double = 60, now: Double = Date().timeIntervalSince1970) -> Limited? {
        windows.withLock { windows in
            let entry = Self.current(&windows, key, window: window, now: now)
            guard entry.count >= limit else { return nil }
            return Limited(retryAfter: max(1, Int((entry.start + window - now).rounded(.up))), first: false)
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
