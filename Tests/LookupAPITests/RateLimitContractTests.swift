import Foundation
import Logging
import PostgresNIO
import Testing
import ThrowawayPostgres

@testable import LookupAPI

/// `RateLimitCounter`'s contract, in memory and in PostgreSQL alike; in PostgreSQL two counters
/// stand for two instances on one database, and must count as one (issue 16).
@Suite("Rate-limit counters", .timeLimit(.minutes(5)))
struct RateLimitContractTests {
    enum Kind: String, CaseIterable, Sendable { case memory, postgres }

    /// Runs `body` with two counters over one store: the same object in memory, two clients' worth in PostgreSQL.
    func withCounters(_ kind: Kind, _ body: (any RateLimitCounter, any RateLimitCounter) async throws -> Void) async throws {
        switch kind {
        case .memory:
            let counter = InMemoryRateLimitCounter()
            try await body(counter, counter)
        case .postgres:
            let configuration = try await ThrowawayDatabase.create().asApplicationRole()
            let first = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test"))
            let second = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test"))
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await first.run() }
                group.addTask { await second.run() }
                defer { group.cancelAll() }
                try await body(
                    PostgresRateLimitCounter(client: first.timed, logger: Logger(label: "test")),
                    PostgresRateLimitCounter(client: second.timed, logger: Logger(label: "test")))
            }
        }
    }

    @Test("hits within the limit pass; the one past it is refused with the seconds left, marked first once", arguments: Kind.allCases)
    func window(_ kind: Kind) async throws {
        try await withCounters(kind) { one, other in
            let now = 1_000_000.0
            for index in 0..<3 {
                let counter = index.isMultiple(of: 2) ? one : other
                expectVerdict(try await counter.hit("requester:a", limit: 3, now: now + Double(index)), nil)
            }
            expectVerdict(try await one.hit("requester:a", limit: 3, now: now + 20), RateLimited(retryAfter: 40, first: true))
            expectVerdict(try await other.hit("requester:a", limit: 3, now: now + 30), RateLimited(retryAfter: 30, first: false))
            expectVerdict(try await one.hit("requester:b", limit: 3, now: now + 30), nil, "another key counts apart")
            // A new window begins a minute after the first hit.
            expectVerdict(try await other.hit("requester:a", limit: 3, now: now + 60), nil)
        }
    }

    @Test("keys are counted in order, up to the first over its limit: a refused requester does not use up the client", arguments: Kind.allCases)
    func severalKeys(_ kind: Kind) async throws {
        try await withCounters(kind) { one, other in
            let now = 3_000_000.0
            expectVerdict(try await one.hit([("requester:a", 1), ("client:c", 5)], window: 60, now: now), nil)
            expectVerdict(try await other.hit([("requester:b", 1), ("client:c", 5)], window: 60, now: now), nil)
            // Requester a is over: refused, and however often it tries, the client is not charged.
            for _ in 0..<10 {
                expectVerdict(try await one.hit([("requester:a", 1), ("client:c", 5)], window: 60, now: now)?.retryAfter, 60)
            }
            // So the client has three more before its sixth is refused.
            for requester in ["d", "e", "f"] {
                expectVerdict(try await other.hit([("requester:\(requester)", 9), ("client:c", 5)], window: 60, now: now), nil)
            }
            expectVerdict(try await one.hit([("requester:g", 9), ("client:c", 5)], window: 60, now: now), RateLimited(retryAfter: 60, first: true))
        }
    }

    @Test("40 hits at once over two instances with a limit of 10: exactly 10 pass", arguments: Kind.allCases)
    func concurrent(_ kind: Kind) async throws {
        try await withCounters(kind) { one, other in
            let now = 4_000_000.0
            let passed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<40 {
                    let counter = index.isMultiple(of: 2) ? one : other
                    group.addTask { try await counter.hit([("requester:x", 10), ("client:y", 1000)], window: 60, now: now) == nil }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(passed == 10)
        }
    }

    @Test("the sweep removes only windows that ended long ago")
    func sweep() async throws {
        let client = PostgresClient(configuration: try await ThrowawayDatabase.create().asApplicationRole(), backgroundLogger: Logger(label: "test"))
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let counter = PostgresRateLimitCounter(client: client.timed, logger: Logger(label: "test"))
            _ = try await counter.hit("old", limit: 1, now: 5_000_000)
            _ = try await counter.hit("new", limit: 1, now: 5_001_000)
            try await counter.sweep(before: Date(timeIntervalSince1970: 5_000_500))
            let rows = try await client.query("SELECT key FROM rate_windows ORDER BY key", logger: Logger(label: "test"))
            var kept: [String] = []
            for try await key in rows.decode(String.self) { kept.append(key) }
            #expect(kept == ["new"])
        }
    }

    func expectVerdict(_ retryAfter: Int?, _ expected: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(retryAfter == expected, sourceLocation: sourceLocation)
    }

    /// One verdict, where `#expect` would have to expand a throwing call on an existential.
    func expectVerdict(
        _ verdict: RateLimited?, _ expected: RateLimited?, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(verdict == expected, comment, sourceLocation: sourceLocation)
    }
}
