import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Generations and offline codes in PostgreSQL.
public struct PostgresOfflineCodeStore: OfflineCodeStore {
    let client: TimedPostgres
    let logger: Logger

    public init(client: TimedPostgres, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func issue(
        subject: SubjectKey, subjectReference: [UInt8], mode: OfflineIssue, at now: Date, ledger: LedgerRecord, guardianship: UUID?,
        claims: @escaping @Sendable (Int64, UUID) throws -> (claims: [UInt8], issuedAt: Date, expiresAt: Date)
    ) async throws -> OfflineIssueOutcome {
        return try await client.withTransaction(logger: logger) { connection in
            let key = try await PostgresConsentStore.storedSubjectKey(subject, on: connection, logger: logger)
            // The registration first, then the generation: the order a removal takes them in.
            if let guardianship {
                let standing = try await connection.query(
                    """
                    SELECT 1 FROM guardianships WHERE id = \(guardianship) AND removed_at IS NULL AND confirmed_at IS NOT NULL FOR SHARE
                    """, logger: logger)
                var found = false
                for try await _ in standing.decode(Int.self) { found = true }
                guard found else { throw GuardianshipGone() }
            }
            // The row lock orders concurrent applies and replaces of one subject.
            let current = try await connection.query(
                "SELECT generation FROM subject_generations WHERE subject_key = \(key) FOR UPDATE", logger: logger)
            var generation: Int64?
            for try await value in current.decode(Int64.self) { generation = value }
            if mode == .currentOrNew, let generation,
                let existing = try await Self.codes(
                    connection.query(
                        """
                        SELECT id, subject_key, generation, claims, issued_at, expires_at FROM offline_codes
                        WHERE subject_key = \(key) AND generation = \(generation) AND expires_at > \(now)
                        """,
                        logger: logger)
                ).first
            {
                return OfflineIssueOutcome(code: existing, isNew: false)
            }
            let bumped = try await connection.query(
                """
                INSERT INTO subject_generations (subject_key, subject_ref, generation) VALUES (\(key), \(ByteBuffer(bytes: subjectReference)), 1)
                ON CONFLICT (subject_key) DO UPDATE
                  SET generation = subject_generations.generation + 1, subject_ref = EXCLUDED.subject_ref, updated_at = now()
                RETURNING generation
                """, logger: logger)
            var next: Int64 = 1
            for try await value in bumped.decode(Int64.self) { next = value }
            let id = UUID()
            let built = try claims(next, id)
            try await connection.query(
                """
                INSERT INTO offline_codes (id, subject_key, generation, claims, issued_at, expires_at)
                VALUES (\(id), \(key), \(next), \(ByteBuffer(bytes: built.claims)), \(built.issuedAt), \(built.expiresAt))
                """, logger: logger)
            try await PostgresConsentStore.insert(ledger, on: connection, logger: logger)
            return OfflineIssueOutcome(
                code: OfflineCodeRecord(
                    id: id, subjectKey: subject, generation: next, claims: built.claims,
                    issuedAt: built.issuedAt, expiresAt: built.expiresAt),
                isNew: true)
        }
    }

    public func retire(subject: SubjectKey, ledger: LedgerRecord) async throws -> Int64? {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE subject_generations SET generation = generation + 1, updated_at = now()
                WHERE subject_key = ANY(\(PostgresConsentStore.lookup(subject))) RETURNING generation
                """, logger: logger)
            var generation: Int64?
            for try await value in rows.decode(Int64.self) { generation = value }
            guard let generation else { return nil }
            var record = ledger
            record.result = "generation=\(generation)"
            try await PostgresConsentStore.insert(record, on: connection, logger: logger)
            return generation
        }
    }

    static func codes(_ rows: PostgresRowSequence) async throws -> [OfflineCodeRecord] {
        var result: [OfflineCodeRecord] = []
        for try await (id, subject, generation, claims, issued, expires) in rows.decode((UUID, ByteBuffer, Int64, ByteBuffer, Date, Date).self) {
            result.append(
                OfflineCodeRecord(
                    id: id, subjectKey: SubjectKey(bytes: Array(buffer: subject)), generation: generation, claims: Array(buffer: claims),
                    issuedAt: issued, expiresAt: expires))
        }
        return result
    }

    public func currentCode(subject: SubjectKey) async throws -> OfflineCodeRecord? {
        try await Self.codes(
            client.query(
                """
                SELECT c.id, c.subject_key, c.generation, c.claims, c.issued_at, c.expires_at
                FROM offline_codes c JOIN subject_generations g ON g.subject_key = c.subject_key AND g.generation = c.generation
                WHERE c.subject_key = ANY(\(PostgresConsentStore.lookup(subject)))
                """, logger: logger)
        ).first
    }

    public func code(id: UUID) async throws -> OfflineCodeRecord? {
        try await Self.codes(
            client.query(
                "SELECT id, subject_key, generation, claims, issued_at, expires_at FROM offline_codes WHERE id = \(id)", logger: logger)
        ).first
    }

    public func currentGeneration(subjectReference: [UInt8]) async throws -> (subject: SubjectKey, generation: Int64)? {
        let rows = try await client.query(
            "SELECT subject_key, generation FROM subject_generations WHERE subject_ref = \(ByteBuffer(bytes: subjectReference))",
            logger: logger)
        for try await (subject, generation) in rows.decode((ByteBuffer, Int64).self) {
            return (SubjectKey(bytes: Array(buffer: subject)), generation)
        }
        return nil
    }
}
