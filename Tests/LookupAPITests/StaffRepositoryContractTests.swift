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

    @Test("failures lock the account at the limit; a success clears them", arguments: Kind.allCases)
    func lockout(_ kind: Kind) async throws {
        try await withRepository(kind) { staff in
            let account = try #require(try await staff.add(username: "li", passwordHash: "hash"))
            try await staff.recordFailure(id: account.id, limit: 3, lockSeconds: 900)
            try await staff.recordFailure(id: account.id, limit: 3, lockSeconds: 900)
            #expect(try await staff.credentials(username: "li")?.lockedUntil == nil)
            try await staff.recordFailure(id: account.id, limit: 3, lockSeconds: 900)
            let locked = try #require(try await staff.credentials(username: "li")?.lockedUntil)
            #expect(abs(locked.timeIntervalSinceNow - 900) < 60)
            try await staff.recordSuccess(id: account.id)
            #expect(try await staff.credentials(username: "li")?.lockedUntil == nil)
            // The count starts again from nothing.
            try await staff.recordFailure(id: account.id, limit: 2, lockSeconds: 900)
            #expect(try await staff.credentials(username: "li")?.lockedUntil == nil)
        }
    }

    @Test("a session names its account until it expires or the account is disabled", arguments: Kind.allCases)
    func sessions(_ kind: Kind) async throws {
        try await withRepository(kind) { staff in
            let account = try #require(try await staff.add(username: "li", passwordHash: "hash"))
            let token = Array(repeating: UInt8(5), count: 32)
            let expiry = Date().addingTimeInterval(3600)
            try await staff.createSession(tokenHash: token, staffID: account.id, expiresAt: expiry)
            #expect(try await staff.account(sessionHash: token, at: Date())?.id == account.id)
            #expect(try await staff.account(sessionHash: token, at: expiry) == nil)
            #expect(try await staff.account(sessionHash: Array(repeating: 6, count: 32), at: Date()) == nil)
            #expect(try await staff.disable(username: "li"))
            #expect(try await !staff.disable(username: "li"))
            #expect(try await !staff.disable(username: "nobody"))
            #expect(try await staff.account(sessionHash: token, at: Date()) == nil)
            #expect(try await staff.list().first?.disabledAt != nil)
        }
    }
}
