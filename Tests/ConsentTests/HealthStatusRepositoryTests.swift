import Consent
import Crypto
import Database
import Foundation
import Logging
import PostgresNIO
import Testing
import ThrowawayPostgres

/// The same behaviour checked on the in-memory repository and on PostgreSQL.
@Suite("Health status storage", .timeLimit(.minutes(5)))
struct HealthStatusRepositoryTests {
    enum Store: String, CaseIterable, Sendable { case memory, postgres }

    static let personalData = PersonalData(secret: SymmetricKey(data: Array(repeating: UInt8(1), count: 32)))
    static let today = CivilDate(year: 2026, month: 11, day: 29)!

    func update(_ number: String, _ status: StatusColour, at seconds: TimeInterval, name: String = "王秀英") throws -> HealthStatusUpdate {
        HealthStatusUpdate(
            id: try IdentityNumber(parsing: number, today: Self.today), name: name, status: status,
            asOf: Date(timeIntervalSince1970: seconds), personalData: Self.personalData)
    }

    func withRepository(_ store: Store, _ body: (any HealthStatusRepository) async throws -> Void) async throws {
        switch store {
        case .memory:
            try await body(InMemoryHealthStatusRepository())
        case .postgres:
            try await withThrowawayClient { client in
                try await body(PostgresHealthStatusRepository(client: client.timed, logger: Logger(label: "test")))
            }
        }
    }

    @Test("a newer status replaces an older one; an older or equal one is ignored", arguments: Store.allCases)
    func newerWins(_ store: Store) async throws {
        try await withRepository(store) { repository in
            let key = Self.personalData.subjectKey(try IdentityNumber(parsing: "11010519491231002X", today: Self.today))
            #expect(try await repository.upsert([try update("11010519491231002X", .green, at: 1000)]) == [.accepted])
            #expect(try await repository.upsert([try update("11010519491231002X", .red, at: 500)]) == [.ignoredOlder])
            #expect(try await repository.upsert([try update("11010519491231002X", .red, at: 1000)]) == [.ignoredOlder])
            #expect(try await repository.record(for: key)?.status == .green)
            #expect(try await repository.upsert([try update("11010519491231002X", .yellow, at: 2000)]) == [.accepted])
            let record = try await repository.record(for: key)
            #expect(record?.status == .yellow)
            #expect(record?.asOf == Date(timeIntervalSince1970: 2000))
            #expect(record?.maskedID == "1101**********002X")
            #expect(record?.maskedName == "王*英")
            #expect(record?.nameHash == Self.personalData.nameHash("王秀英"))
        }
    }

    @Test("within one batch the newest item per subject wins, in any order", arguments: Store.allCases)
    func batchDuplicates(_ store: Store) async throws {
        try await withRepository(store) { repository in
            let outcomes = try await repository.upsert([
                try update("11010519491231002X", .green, at: 100),
                try update("11010519491231002X", .red, at: 300),
                try update("350203195510101235", .yellow, at: 100),
                try update("11010519491231002X", .yellow, at: 200),
            ])
            #expect(outcomes == [.ignoredOlder, .accepted, .accepted, .ignoredOlder])
            let key = Self.personalData.subjectKey(try IdentityNumber(parsing: "11010519491231002X", today: Self.today))
            #expect(try await repository.record(for: key)?.status == .red)
        }
    }

    @Test("an unknown subject has no record", arguments: Store.allCases)
    func unknownSubject(_ store: Store) async throws {
        try await withRepository(store) { repository in
            let key = Self.personalData.subjectKey(try IdentityNumber(parsing: "350203195510101235", today: Self.today))
            #expect(try await repository.record(for: key) == nil)
            #expect(try await repository.upsert([]) == [])
        }
    }

    @Test("the subjects table holds no plain-text ID number or name")
    func noPlainText() async throws {
        try await withThrowawayClient { client in
            let repository = PostgresHealthStatusRepository(client: client.timed, logger: Logger(label: "test"))
            _ = try await repository.upsert([try update("11010519491231002X", .green, at: 100, name: "王秀英")])
            let rows = try await client.query("SELECT row_to_json(s)::text FROM subjects s", logger: Logger(label: "test"))
            var dumped = ""
            for try await text in rows.decode(String.self) { dumped += text }
            #expect(dumped.contains("1101**********002X"))
            #expect(!dumped.contains("11010519491231002X"))
            #expect(!dumped.contains("19491231"))
            #expect(!dumped.contains("王秀英"))
        }
    }
}

/// Runs `body` with a client to a fresh, migrated throwaway database.
func withThrowawayClient(_ body: (PostgresClient) async throws -> Void) async throws {
    let configuration = try await ThrowawayDatabase.create()
    let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test"))
    try await withThrowingDiscardingTaskGroup { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        try await body(client)
    }
}
