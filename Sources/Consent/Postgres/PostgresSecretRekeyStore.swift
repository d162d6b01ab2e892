import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// `SecretRekeyStore` in PostgreSQL, run by the owner (`passby secret rekey`). Each batch is one
/// transaction; a subject's new key reaches its grants and offline codes by ON UPDATE CASCADE.
public struct PostgresSecretRekeyStore: SecretRekeyStore {
    let client: TimedPostgres
    let logger: Logger

    /// Held exclusively while subjects move, and shared by a gateway's status upsert, which must
    /// not miss a row moved under it.
    public static let subjectMoveLock: Int64 = 0x7061_7373_6279_5356

    /// The tables with a `secret_version` column.
    static let tables = ["subjects", "guardianships", "consent_grants", "consent_failures", "assertion_bindings"]

    public init(client: TimedPostgres, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func versionCounts() async throws -> SecretVersionCounts {
        let union = Self.tables.map { "SELECT '\($0)' AS t, secret_version, count(*)::int FROM \($0) GROUP BY secret_version" }
            .joined(separator: " UNION ALL ")
        var counts = SecretVersionCounts()
        for try await (table, version, rows) in try await client.query(PostgresQuery(unsafeSQL: union), logger: logger)
            .decode((String, Int16, Int).self)
        {
            counts.rows[table, default: [:]][version] = rows
        }
        return counts
    }

    public func moveBatch(from version: Int16, limit: Int, step: @escaping @Sendable ([UInt8]) -> [UInt8]) async throws -> Int {
        let next = version + 1
        return try await client.withTransaction(logger: logger) { connection in
            var taken = 0
            taken += try await moveSubjects(version, next, limit, step, connection)
            taken += try await moveGuardianships(version, next, limit, step, connection)
            taken += try await moveGrants(version, next, limit, step, connection)
            for (table, column) in [("consent_failures", "requester_key"), ("assertion_bindings", "assertion_hash")] {
                taken += try await moveShortLived(table, column, version, next, limit, step, connection)
            }
            return taken
        }
    }

    static func buffers(_ hashes: [[UInt8]]) -> [ByteBuffer] { hashes.map { ByteBuffer(bytes: $0) } }

    private func moveSubjects(
        _ version: Int16, _ next: Int16, _ limit: Int, _ step: ([UInt8]) -> [UInt8], _ connection: PostgresConnection
    ) async throws -> Int {
        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.subjectMoveLock))", logger: logger)
        var keys: [[UInt8]] = []
        var names: [[UInt8]] = []
        let rows = try await connection.query(
            """
            SELECT subject_key, name_hash FROM subjects WHERE secret_version = \(version)
            ORDER BY subject_key LIMIT \(limit) FOR UPDATE
            """, logger: logger)
        for try await (key, name) in rows.decode((ByteBuffer, ByteBuffer).self) {
            keys.append(Array(buffer: key))
            names.append(Array(buffer: name))
        }
        guard !keys.isEmpty else { return 0 }
        // The family registrations that name a known subject follow its key, as its grants and card
        // generations do by ON UPDATE CASCADE (a registration may name someone not known yet, so
        // it has no foreign key).
        try await connection.query(
            """
            WITH m AS (
              SELECT * FROM unnest(\(Self.buffers(keys))::bytea[], \(Self.buffers(keys.map(step)))::bytea[], \(Self.buffers(names.map(step)))::bytea[])
                AS m(old_key, new_key, new_name)
            ), followed AS (
              UPDATE guardianships g SET subject_key = m.new_key FROM m WHERE g.subject_key = m.old_key
            )
            UPDATE subjects s SET subject_key = m.new_key, name_hash = m.new_name, secret_version = \(next)
            FROM m WHERE s.subject_key = m.old_key
            """, logger: logger)
        return keys.count
    }

    private func moveGuardianships(
        _ version: Int16, _ next: Int16, _ limit: Int, _ step: ([UInt8]) -> [UInt8], _ connection: PostgresConnection
    ) async throws -> Int {
        var ids: [UUID] = []
        var guardians: [[UInt8]] = []
        var subjects: [[UInt8]] = []
        // A subject key that names a known subject follows that subject's row; only one that
        // names nobody known is the registration's own hash, and steps with it.
        let rows = try await connection.query(
            """
            SELECT g.id, g.guardian_key, g.subject_key, EXISTS (SELECT 1 FROM subjects s WHERE s.subject_key = g.subject_key)
            FROM guardianships g WHERE g.secret_version = \(version) ORDER BY g.id LIMIT \(limit) FOR UPDATE OF g
            """, logger: logger)
        for try await (id, guardian, subject, known) in rows.decode((UUID, ByteBuffer, ByteBuffer, Bool).self) {
            ids.append(id)
            guardians.append(step(Array(buffer: guardian)))
            subjects.append(known ? Array(buffer: subject) : step(Array(buffer: subject)))
        }
        guard !ids.isEmpty else { return 0 }
        try await connection.query(
            """
            UPDATE guardianships g SET guardian_key = m.guardian_key, subject_key = m.subject_key, secret_version = \(next)
            FROM unnest(\(ids)::uuid[], \(Self.buffers(guardians))::bytea[], \(Self.buffers(subjects))::bytea[])
              AS m(id, guardian_key, subject_key)
            WHERE g.id = m.id
            """, logger: logger)
        return ids.count
    }

    /// A grant's own hashes: its token, grantor and grantee. Its subject key follows the subject.
    private func moveGrants(
        _ version: Int16, _ next: Int16, _ limit: Int, _ step: ([UInt8]) -> [UInt8], _ connection: PostgresConnection
    ) async throws -> Int {
        var ids: [UUID] = []
        var tokens: [[UInt8]] = []
        var grantors: [[UInt8]] = []
        var grantees: [[UInt8]] = []
        let rows = try await connection.query(
            """
            SELECT id, token_hash, grantor_key, grantee_key FROM consent_grants WHERE secret_version = \(version)
            ORDER BY id LIMIT \(limit) FOR UPDATE
            """, logger: logger)
        for try await (id, token, grantor, grantee) in rows.decode((UUID, ByteBuffer, ByteBuffer, ByteBuffer?).self) {
            ids.append(id)
            tokens.append(step(Array(buffer: token)))
            grantors.append(step(Array(buffer: grantor)))
            // No grantee is an empty value here, NULL again below.
            grantees.append(grantee.map { step(Array(buffer: $0)) } ?? [])
        }
        guard !ids.isEmpty else { return 0 }
        try await connection.query(
            """
            UPDATE consent_grants g SET token_hash = m.token_hash, grantor_key = m.grantor_key,
                grantee_key = NULLIF(m.grantee_key, ''::bytea), secret_version = \(next)
            FROM unnest(\(ids)::uuid[], \(Self.buffers(tokens))::bytea[], \(Self.buffers(grantors))::bytea[], \(Self.buffers(grantees))::bytea[])
              AS m(id, token_hash, grantor_key, grantee_key)
            WHERE g.id = m.id
            """, logger: logger)
        return ids.count
    }

    /// A failed-try count or an assertion binding: moved, or, where one was made under the new
    /// version meanwhile, merged into it (a count of the same hour adds up; a binding keeps the
    /// newer row, which a bind made only after looking the older one up).
    private func moveShortLived(
        _ table: String, _ column: String, _ version: Int16, _ next: Int16, _ limit: Int, _ step: ([UInt8]) -> [UInt8],
        _ connection: PostgresConnection
    ) async throws -> Int {
        var old: [[UInt8]] = []
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: "SELECT \(column) FROM \(table) WHERE secret_version = $1 ORDER BY \(column) LIMIT $2 FOR UPDATE",
                binds: try Self.binds(version, limit)), logger: logger)
        for try await key in rows.decode(ByteBuffer.self) { old.append(Array(buffer: key)) }
        guard !old.isEmpty else { return 0 }
        var binds = PostgresBindings()
        try binds.append(Self.buffers(old))
        try binds.append(Self.buffers(old.map(step)))
        try binds.append(next)
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    WITH m AS (SELECT * FROM unnest($1::bytea[], $2::bytea[]) AS m(old_key, new_key)),
                    \(table == "consent_failures" ? Self.mergeCounts : "")
                    dropped AS (
                      DELETE FROM \(table) t USING m
                      WHERE t.\(column) = m.old_key AND EXISTS (SELECT 1 FROM \(table) x WHERE x.\(column) = m.new_key)
                      RETURNING t.\(column)
                    )
                    UPDATE \(table) t SET \(column) = m.new_key, secret_version = $3 FROM m
                    WHERE t.\(column) = m.old_key AND NOT EXISTS (SELECT 1 FROM dropped d WHERE d.\(column) = m.old_key)
                      AND NOT EXISTS (SELECT 1 FROM \(table) x WHERE x.\(column) = m.new_key)
                    """, binds: binds), logger: logger)
        return old.count
    }

    /// For `consent_failures`: adds an old count of the same hour to the new row before the old goes.
    static let mergeCounts = """
        merged AS (
          UPDATE consent_failures n SET failures = n.failures + o.failures
          FROM m JOIN consent_failures o ON o.requester_key = m.old_key
          WHERE n.requester_key = m.new_key AND n.window_start = o.window_start
        ),
        """

    static func binds(_ version: Int16, _ limit: Int) throws -> PostgresBindings {
        var binds = PostgresBindings()
        try binds.append(version)
        try binds.append(limit)
        return binds
    }
}
