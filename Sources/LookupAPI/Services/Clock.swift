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
