import Foundation

/// Where services read the time. Each request reads it once, so that every check of one request
/// (a grant's validity, its use, the code's times) sees the same instant.
protocol PassbyClock: Sendable {
    func now() -> Date
}

/// The system's clock.
struct SystemClock: PassbyClock {
    func now() -> Date { Date() }
}

/// The clock hour a moment falls in: failed consent tries are counted per requester and hour.
struct ClockHour: Sendable {
    /// The hour's first second.
    let start: Date
    /// Seconds until the next hour, at least 1: the `Retry-After` of a lock that lasts the hour.
    let secondsLeft: Int

    init(_ now: Date) {
        let start = (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600
        self.start = Date(timeIntervalSince1970: start)
        self.secondsLeft = max(1, Int((start + 3600 - now.timeIntervalSince1970).rounded(.up)))
    }
}
