import Database
import Foundation
import Logging
import PostgresNIO

/// `GuardianshipStore` in PostgreSQL: the `guardianships` table.
extension PostgresConsentStore {
    static let guardianshipColumns = """
        g.id, g.guardian_key, g.guardian_masked_id, g.subject_key, g.subject_masked_id, g.subject_masked_name, g.relationship,
        g.created_at, g.confirmed_by, g.confirmed_at, g.code_saved_at IS NOT NULL
        """

    static func guardianships(_ rows: PostgresRowSequence) async throws -> [Guardianship] {
        var result: [Guardianship] = []
        for try await (id, guardian, guardianMasked, subject, subjectMasked, subjectName, relationship, createdAt, by, at, saved)
            in rows.decode((UUID, ByteBuffer, String, ByteBuffer, String, String, String, Date, String?, Date?, Bool).self)
        {
            result.append(
                Guardianship(
                    id: id, guardianKey: SubjectKey(bytes: Array(buffer: guardian)), guardianMaskedID: guardianMasked,
                    subjectKey: SubjectKey(bytes: Array(buffer: subject)), subjectMaskedID: subjectMasked, subjectMaskedName: subjectName,
                    relationship: relationship, createdAt: createdAt, confirmation: by.flatMap(GuardianshipConfirmation.init(rawValue:)),
                    confirmedAt: at, codeSaved: saved))
        }
        return result
    }

    /// Active registrations matching `condition`, oldest first.
    func guardianships(where condition: PostgresQuery, on connection: PostgresConnection? = nil) async throws -> [Guardianship] {
        var query = PostgresQuery(unsafeSQL: "SELECT \(Self.guardianshipColumns) FROM guardianships g WHERE g.removed_at IS NULL AND ")
        query.sql += condition.sql + " ORDER BY g.created_at, g.id"
        query.binds = condition.binds
        if let connection { return try await Self.guardianships(connection.query(query, logger: logger)) }
        return try await Self.guardianships(client.query(query, logger: logger))
    }

    /// Takes the advisory locks of both people, in one order, so that concurrent registrations
    /// and confirmations cannot overshoot a quota.
    func lockPair(_ guardianship: Guardianship, on connection: PostgresConnection) async throws {
        for key in [guardianship.guardianKey, guardianship.subjectKey].sorted(by: { Self.lockNumber($0) < Self.lockNumber($1) }) {
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockNumber(key)))", logger: logger)
        }
    }

    /// The subject's confirmed guardians other than `guardian`.
    func otherConfirmedGuardians(of subject: SubjectKey, besides guardian: SubjectKey, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(
            """
            SELECT count(*)::int FROM guardianships
            WHERE removed_at IS NULL AND confirmed_at IS NOT NULL AND subject_key = ANY(\(Self.lookup(subject)))
              AND guardian_key <> ALL(\(Self.lookup(guardian)))
            """, logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    public func addGuardianship(
        _ guardianship: Guardianship, quotas: GuardianQuotas, ledger: LedgerRecord
    ) async throws -> Result<Guardianship, GuardianshipRefusal> {
        try await client.withTransaction(logger: logger) { connection in
            try await lockPair(guardianship, on: connection)
            let mine = try await guardianships(where: "g.guardian_key = ANY(\(Self.lookup(guardianship.guardianKey)))", on: connection)
            if mine.contains(where: { guardianship.subjectKey.matches($0.subjectKey) }) { return .failure(.alreadyRegistered) }
            if mine.count >= quotas.familyMembersPerGuardian { return .failure(.guardianQuota) }
            if guardianship.isConfirmed,
                try await otherConfirmedGuardians(of: guardianship.subjectKey, besides: guardianship.guardianKey, on: connection)
                    >= quotas.guardiansPerSubject
            {
                return .failure(.subjectQuota)
            }
            let rows = try await connection.query(
                """
                INSERT INTO guardianships (id, guardian_key, guardian_masked_id, subject_key, subject_masked_id, subject_masked_name,
                                           relationship, confirmed_by, confirmed_at, secret_version)
                VALUES (\(guardianship.id), \(Self.bytes(guardianship.guardianKey)), \(guardianship.guardianMaskedID),
                        \(Self.bytes(guardianship.subjectKey)), \(guardianship.subjectMaskedID), \(guardianship.subjectMaskedName),
                        \(guardianship.relationship), \(guardianship.confirmation?.rawValue),
                        CASE WHEN \(guardianship.confirmation?.rawValue)::text IS NULL THEN NULL ELSE now() END,
                        \(guardianship.guardianKey.version))
                RETURNING created_at, confirmed_at
                """, logger: logger)
            var stored = guardianship
            for try await (createdAt, confirmedAt) in rows.decode((Date, Date?).self) {
                stored.createdAt = createdAt
                stored.confirmedAt = confirmedAt
            }
            try await Self.insert(ledger, on: connection, logger: logger)
            return .success(stored)
        }
    }

    public func confirmGuardianship(
        _ guardianship: Guardianship, by confirmation: GuardianshipConfirmation, quotas: GuardianQuotas, ledger: LedgerRecord
    ) async throws -> Result<Guardianship, GuardianshipRefusal> {
        try await client.withTransaction(logger: logger) { connection in
            try await lockPair(guardianship, on: connection)
            let existing = try await guardianships(
                where:
                    "g.guardian_key = ANY(\(Self.lookup(guardianship.guardianKey))) AND g.subject_key = ANY(\(Self.lookup(guardianship.subjectKey)))",
                on: connection
            ).first
            if let existing, existing.isConfirmed { return .success(existing) }
            if try await otherConfirmedGuardians(of: guardianship.subjectKey, besides: guardianship.guardianKey, on: connection)
                >= quotas.guardiansPerSubject
            {
                return .failure(.subjectQuota)
            }
            var confirmed = existing ?? guardianship
            if let existing {
                let rows = try await connection.query(
                    """
                    UPDATE guardianships SET confirmed_by = \(confirmation.rawValue), confirmed_at = now()
                    WHERE id = \(existing.id) RETURNING confirmed_at
                    """, logger: logger)
                for try await at in rows.decode(Date.self) { confirmed.confirmedAt = at }
            } else {
                let rows = try await connection.query(
                    """
                    INSERT INTO guardianships (id, guardian_key, guardian_masked_id, subject_key, subject_masked_id, subject_masked_name,
                                               relationship, confirmed_by, confirmed_at, secret_version)
                    VALUES (\(guardianship.id), \(Self.bytes(guardianship.guardianKey)), \(guardianship.guardianMaskedID),
                            \(Self.bytes(guardianship.subjectKey)), \(guardianship.subjectMaskedID), \(guardianship.subjectMaskedName),
                            \(guardianship.relationship), \(confirmation.rawValue), now(), \(guardianship.guardianKey.version))
                    RETURNING created_at, confirmed_at
                    """, logger: logger)
                for try await (createdAt, at) in rows.decode((Date, Date).self) {
                    confirmed.createdAt = createdAt
                    confirmed.confirmedAt = at
                }
            }
            confirmed.confirmation = confirmation
            try await Self.insert(ledger, on: connection, logger: logger)
            return .success(confirmed)
        }
    }

    public func guardianships(of guardian: SubjectKey) async throws -> [Guardianship] {
        try await guardianships(where: "g.guardian_key = ANY(\(Self.lookup(guardian)))")
    }

    public func guardianships(ofSubject subject: SubjectKey) async throws -> [Guardianship] {
        try await guardianships(where: "g.subject_key = ANY(\(Self.lookup(subject)))")
    }

    public func guardianship(id: UUID) async throws -> Guardianship? {
        try await guardianships(where: "g.id = \(id)").first
    }

    public func confirmedGuardianship(guardian: SubjectKey, subject: SubjectKey) async throws -> Guardianship? {
        try await guardianships(
            where:
                "g.guardian_key = ANY(\(Self.lookup(guardian))) AND g.subject_key = ANY(\(Self.lookup(subject))) AND g.confirmed_at IS NOT NULL"
        ).first
    }

    public func markCodeSaved(guardianshipID: UUID) async throws {
        try await client.query(
            "UPDATE guardianships SET code_saved_at = COALESCE(code_saved_at, now()) WHERE id = \(guardianshipID) AND removed_at IS NULL",
            logger: logger)
    }

    public func removeGuardianship(id: UUID, ledger: LedgerRecord, retired: LedgerRecord) async throws -> Guardianship? {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE guardianships g SET removed_at = now() WHERE g.id = \(id) AND g.removed_at IS NULL
                RETURNING \(unescaped: Self.guardianshipColumns)
                """, logger: logger)
            guard let removed = try await Self.guardianships(rows).first else { return nil }
            var record = ledger
            record.subjectKey = removed.subjectKey
            record.subjectMasked = removed.subjectMaskedID
            try await Self.insert(record, on: connection, logger: logger)
            if removed.codeSaved {
                let bumped = try await connection.query(
                    """
                    UPDATE subject_generations SET generation = generation + 1, updated_at = now()
                    WHERE subject_key = \(Self.bytes(removed.subjectKey)) RETURNING generation
                    """, logger: logger)
                for try await generation in bumped.decode(Int64.self) {
                    var retirement = retired
                    retirement.subjectKey = removed.subjectKey
                    retirement.subjectMasked = removed.subjectMaskedID
                    retirement.result = "generation=\(generation)"
                    try await Self.insert(retirement, on: connection, logger: logger)
                }
            }
            return removed
        }
    }
}
