import Foundation
import Logging
import PostgresNIO
import Testing
import ThrowawayPostgres

@testable import LookupAPI

/// `StaffRepository`'s contract, held by the in-memory twin and by PostgreSQL alike.
@Suite("Staff storage", .timeLimit(.minutes(5)))
struct StaffRepositoryContractTests {
    enum Kind: String, CaseIterable, Sendable { case memory, postgres }

    func withRepository(_ kind: Kind, _ body: (any StaffRepository) async throws -> Void) async throws {
        switch kind {
        case .memory:
            try await body(InMemoryStaffRepository())
        case .postgres:
            let client = PostgresClient(configuration: try await ThrowawayDatabase.create(), backgroundLogger: Logger(label: "test"))
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                try await body(PostgresStaffRepository(client: client.timed, logger: Logger(label: "test")))
            }
        }
    }

    @Test("a username is taken once; accounts list by name", arguments: Kind.allCases)
    func accounts(_ kind: Kind) async throws {
        try await withRepository(kind) { staff in
            let li = try #require(try await staff.add(username: "li", passwordHash: "hash-li"))
            #expect(try await staff.add(username: "li", passwordHash: "other") == nil)
            _ = try #require(try await staff.add(username: "chen", passwordHash: "hash-chen"))
            #expect(try await staff.list().map(\.username) == ["chen", "li"])
            let credentials = try #require(try await staff.credentials(username: "li"))
            #expect(credentials.account.id == li.id && credentials.passwordHash == "hash-li" && credentials.lockedUntil == nil)
            #expect(try await staff.credentials(username: "nobody") == nil)
        }
    }

    @Test("each attempt is counted before the password is checked; the one past the limit locks; a success clears them", arguments: Kind.allCases)
    func lockout(_ kind: Kind) async throws {
        try await withRepository(kind) { staff in
            let account = try #require(try await staff.add(username: "li", passwordHash: "hash"))
            let now = Date()
            for _ in 0..<3 { #expect(try await staff.reserveAttempt(id: account.id, limit: 3, lockSeconds: 900, at: now) == nil) }
            let locked = try #require(try await staff.reserveAttempt(id: account.id, limit: 3, lockSeconds: 900, at: now))
            #expect(abs(locked.timeIntervalSince(now) - 900) < 1)
            #expect(try await staff.credentials(username: "li")?.lockedUntil != nil)
            #expect(try await staff.reserveAttempt(id: account.id, limit: 3, lockSeconds: 900, at: now.addingTimeInterval(10)) != nil)
            try await staff.recordSuccess(id: account.id)
            #expect(try await staff.credentials(username: "li")?.lockedUntil == nil)
            // The count starts again from nothing.
            #expect(try await staff.reserveAttempt(id: account.id, limit: 1, lockSeconds: 900, at: now) == nil)
        }
    }

    @Test("20 attempts at once: exactly the limit go on, the rest are locked out", arguments: Kind.allCases)
    func concurrentAttempts(_ kind: Kind) async throws {
        try await withRepository(kind) { staff in
            let account = try #require(try await staff.add(username: "li", passwordHash: "hash"))
            let now = Date()
            let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 { group.addTask { try await staff.reserveAttempt(id: account.id, limit: 5, lockSeconds: 900, at: now) == nil } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(allowed == 5)
        }
    }

    @Test("failures decay: one try every lock length never locks the account", arguments: Kind.allCases)
    func failuresDecay(_ kind: Kind) async throws {
        try await withRepository(kind) { staff in
            let account = try #require(try await staff.add(username: "li", passwordHash: "hash"))
            let start = Date()
            for step in 0..<10 {
                let at = start.addingTimeInterval(TimeInterval(step * 901))
                #expect(try await staff.reserveAttempt(id: account.id, limit: 2, lockSeconds: 900, at: at) == nil, "try \(step)")
            }
            // Three within the window do.
            let later = start.addingTimeInterval(20_000)
            for _ in 0..<2 { #expect(try await staff.reserveAttempt(id: account.id, limit: 2, lockSeconds: 900, at: later) == nil) }
            #expect(try await staff.reserveAttempt(id: account.id, limit: 2, lockSeconds: 900, at: later.addingTimeInterval(5)) != nil)
        }
    }

    @Test("a session names its account until it expires, goes idle, ends or the account is disabled", arguments: Kind.allCases)
    func sessions(_ kind: Kind) async throws {
        try await withRepository(kind) { staff in
            let account = try #require(try await staff.add(username: "li", passwordHash: "hash"))
            let token = Array(repeating: UInt8(5), count: 32)
            let now = Date()
            let expiry = now.addingTimeInterval(3600)
            try await staff.createSession(tokenHash: token, staffID: account.id, expiresAt: expiry, at: now)
            #expect(try await staff.account(sessionHash: token, idleSeconds: 900, at: now)?.id == account.id)
            // Used at +800 s, so still live at +1600 s; idle from then, gone at +2600 s.
            #expect(try await staff.account(sessionHash: token, idleSeconds: 900, at: now.addingTimeInterval(800)) != nil)
            #expect(try await staff.account(sessionHash: token, idleSeconds: 900, at: now.addingTimeInterval(1600)) != nil)
            #expect(try await staff.account(sessionHash: token, idleSeconds: 900, at: now.addingTimeInterval(2600)) == nil)
            #expect(try await staff.account(sessionHash: token, idleSeconds: 100_000, at: expiry) == nil)
            #expect(try await staff.account(sessionHash: Array(repeating: 6, count: 32), idleSeconds: 900, at: now) == nil)

            let other = Array(repeating: UInt8(7), count: 32)
            try await staff.createSession(tokenHash: other, staffID: account.id, expiresAt: expiry, at: now)
            #expect(try await staff.endSession(sessionHash: other))
            #expect(try await !staff.endSession(sessionHash: other))
            #expect(try await staff.account(sessionHash: other, idleSeconds: 900, at: now) == nil)

            try await staff.createSession(tokenHash: other, staffID: account.id, expiresAt: expiry, at: now)
            #expect(try await staff.disable(username: "li"))
            #expect(try await !staff.disable(username: "li"))
            #expect(try await !staff.disable(username: "nobody"))
            #expect(try await staff.account(sessionHash: other, idleSeconds: 900, at: now) == nil)
            #expect(try await staff.list().first?.disabledAt != nil)
        }
    }
}
