import Database
import Foundation
import Logging
import PostgresNIO
import Testing
import ThrowawayPostgres

@Suite("Migrations", .timeLimit(.minutes(5)))
struct MigratorTests {
    let logger = Logger(label: "test")

    func directory(_ files: [String: String]) throws -> URL {
        let url = TestDirectory.path("sql")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, sql) in files { try sql.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return url
    }

    func scalar(_ configuration: PostgresClient.Configuration, _ query: PostgresQuery) async throws -> Int {
        try await PostgresAdmin.withClient(configuration, logger: logger) { client in
            let rows = try await client.query(query, logger: logger)
            for try await value in rows.decode(Int.self) { return value }
            return -1
        }
    }

    @Test("the project's migrations apply in order, each exactly once")
    func projectMigrations() async throws {
        let database = try await ThrowawayDatabase.create(migrated: false)
        let migrator = Migrator(directory: Migrator.defaultDirectory)
        let names = try migrator.migrations().map(\.name)
        #expect(names.first == "0001_subjects.sql")
        #expect(names == names.sorted())
        #expect(try await migrator.migrate(configuration: database, logger: logger) == names)
        #expect(try await migrator.migrate(configuration: database, logger: logger) == [])
        #expect(try await scalar(database, "SELECT count(*)::int FROM schema_migrations") == names.count)
    }

    @Test("concurrent migrators apply each file once")
    func concurrent() async throws {
        let database = try await ThrowawayDatabase.create(migrated: false)
        let migrator = Migrator(directory: Migrator.defaultDirectory)
        let applied = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<3 { group.addTask { try await migrator.migrate(configuration: database, logger: logger) } }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(applied.sorted() == (try migrator.migrations().map(\.name)).sorted())
    }

    @Test("a failing migration leaves the database as it was and names the file")
    func failingMigration() async throws {
        let database = try await ThrowawayDatabase.create(migrated: false)
        let sql = try directory([
            "0001_first.sql": "CREATE TABLE first (x int);",
            "0002_broken.sql": "CREATE TABLE second (x int);\nINSERT INTO second VALUES ('not a number');",
        ])
        defer { try? FileManager.default.removeItem(at: sql) }
        let migrator = Migrator(directory: sql)
        await #expect {
            try await migrator.migrate(configuration: database, logger: logger)
        } throws: { error in
            "\(error)".contains("0002_broken.sql") && "\(error)".contains("invalid input syntax")
        }
        #expect(try await scalar(database, "SELECT count(*)::int FROM schema_migrations") == 1)
        #expect(try await scalar(database, "SELECT count(*)::int FROM pg_tables WHERE tablename = 'second'") == 0)
        #expect(try await scalar(database, "SELECT count(*)::int FROM pg_tables WHERE tablename = 'first'") == 1)

        // Once fixed, it applies and the first is not applied again.
        try "CREATE TABLE second (x int);".write(to: sql.appendingPathComponent("0002_broken.sql"), atomically: true, encoding: .utf8)
        #expect(try await migrator.migrate(configuration: database, logger: logger) == ["0002_broken.sql"])
    }

    @Test("a missing directory is a clear error naming PASSBY_SQL_DIR, never a fall-back to ./sql")
    func missingDirectory() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-sql-\(UUID().uuidString)")
        let error = #expect(throws: Migrator.MigrationError.self) { try Migrator(directory: missing).migrations() }
        #expect(error?.description.contains("PASSBY_SQL_DIR") == true)
    }

    @Test("badly named and duplicate files are refused before anything runs")
    func badNames() throws {
        let badName = try directory(["first.sql": "SELECT 1;"])
        defer { try? FileManager.default.removeItem(at: badName) }
        #expect(throws: Migrator.MigrationError.self) { try Migrator(directory: badName).migrations() }
        let duplicate = try directory(["0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;"])
        defer { try? FileManager.default.removeItem(at: duplicate) }
        #expect(throws: Migrator.MigrationError.self) { try Migrator(directory: duplicate).migrations() }
    }
}
