import Foundation
import Logging
import PostgresNIO
import Testing
import ThrowawayPostgres

@testable import LookupAPI

/// `passby serve` refuses a database role that could rewrite the ledger or mint credentials
/// (issue 13, finding 8), and `passby_app` has none of those powers.
@Suite("The service's database role", .timeLimit(.minutes(5)))
struct ApplicationRoleTests {
    let logger = Logger(label: "test")

    func withConnection(_ body: @Sendable (PostgresConnection) async throws -> Void) async throws {
        let client = PostgresClient(configuration: try await ThrowawayDatabase.create(), backgroundLogger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.withConnection { try await body($0) }
        }
    }

    @Test("the owner (a superuser here) is refused, each power named; passby_app may serve")
    func ownerRefused() async throws {
        try await withConnection { connection in
            let logger = Logger(label: "test")
            let owner = try await ApplicationRole.excessPowers(on: connection, logger: logger)
            #expect(owner.reasons.contains("is a superuser"))
            #expect(owner.reasons.contains { $0.hasPrefix("owns the ledger") })
            #expect(owner.reasons.contains("may create API clients") && owner.reasons.contains("may create staff accounts"))
            #expect(owner.reasons.contains("may change the key material every instance trusts"))
            await #expect(throws: ApplicationRole.TooPowerful.self) { try await ApplicationRole.check(on: connection, logger: logger) }
            try await connection.query("SET ROLE passby_app", logger: logger)
            let app = try await ApplicationRole.excessPowers(on: connection, logger: logger)
            #expect(app.role == "passby_app" && app.reasons == [], "\(app.reasons)")
            try await ApplicationRole.check(on: connection, logger: logger)
            try await connection.query("RESET ROLE", logger: logger)
            // A role given a write on the key material could plant a key for every instance.
            try await connection.query("CREATE ROLE passby_keys_writer IN ROLE passby_app", logger: logger)
            try await connection.query("GRANT UPDATE ON key_material TO passby_keys_writer", logger: logger)
            try await connection.query("SET ROLE passby_keys_writer", logger: logger)
            let writer = try await ApplicationRole.excessPowers(on: connection, logger: logger)
            #expect(writer.reasons == ["may change the key material every instance trusts"])
            try await connection.query("RESET ROLE", logger: logger)
            try await connection.query("DROP OWNED BY passby_keys_writer", logger: logger)
            try await connection.query("DROP ROLE passby_keys_writer", logger: logger)
        }
    }

    @Test("passby_app creates no clients or staff and changes only a staff row's login counters")
    func leastPrivilege() async throws {
        try await withConnection { connection in
            let logger = Logger(label: "test")
            try await connection.query(
                "INSERT INTO staff (id, username, password_hash) VALUES ('00000000-0000-4000-8000-000000000001', 'li', 'hash')", logger: logger)
            try await connection.query("SET ROLE passby_app", logger: logger)
            for statement: PostgresQuery in [
                "INSERT INTO api_clients (id, name, role, key_hash) VALUES (gen_random_uuid(), 'x', 'helper', '\\x00')",
                "UPDATE api_clients SET revoked_at = NULL", "DELETE FROM api_clients",
                "INSERT INTO staff (id, username, password_hash) VALUES (gen_random_uuid(), 'mallory', 'hash')",
                "UPDATE staff SET password_hash = 'mine'", "UPDATE staff SET disabled_at = NULL",
            ] {
                await #expect(throws: PSQLError.self) { try await connection.query(statement, logger: logger) }
            }
            try await connection.query("UPDATE staff SET failed_attempts = 1, failures_since = now(), locked_until = NULL", logger: logger)
            try await connection.query("RESET ROLE", logger: logger)
        }
    }
}
