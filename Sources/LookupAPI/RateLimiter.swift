import Foundation
import Synchronization

/// Fixed-window counters in this process: enough to slow a misbehaving requester or client.
/// Limits are per instance; behind a load balancer each instance counts its own share.
final class RateLimiter: Sendable {
    private let windows = Mutex<[String: (start: Double, count: Int)]>([:])

    /// Counts one hit on `key`. Returns nil when within `limit` per `window` seconds, else the
    /// seconds until the window resets.
    func hit(_ key: String, limit: Int, window: Double = 60, now: Double = Date().timeIntervalSince1970) -> Int? {
        windows.withLock { windows in
            if windows.count > 100_000 { windows = windows.filter { now - $0.value.start < window } }
            var entry = windows[key] ?? (now, 0)
            if now - entry.start >= window { entry = (now, 0) }
            entry.count += 1
            windows[key] = entry
            return entry.count > limit ? max(1, Int((entry.start + window - now).rounded(.up))) : nil
        }
    }
}
