import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Health statuses in the `subjects` table. Only keyed hashes and masked forms are stored.
public struct PostgresHealthStatusRepository: HealthStatusRepository {
    let client: TimedPostgres
    let logger: Logger

    public init(client: TimedPostgres, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func upsert(_ updates: [HealthStatusUpdate]) async throws -> [UpsertOutcome] {
        let winners = updates.newestPerSubject()
        let rows = updates.indices.filter { winners.contains($0) }.map { updates[$0] }
        guard !rows.isEmpty else { return updates.map { _ in .ignoredOlder } }
        // One statement: the batch is atomic, and a status never replaces a newer one.
        let indices = Array(0..<Int32(rows.count))
        let keys = rows.map { ByteBuffer(bytes: $0.subjectKey.bytes) }
        let versions = rows.map(\.subjectKey.version)
        let maskedIDs = rows.map(\.maskedID)
        let nameHashes = rows.map { ByteBuffer(bytes: $0.nameHash) }
        let maskedNames = rows.map(\.maskedName)
        let statuses = rows.map(\.status.rawValue)
        let times = rows.map(\.asOf)
        // Each person's hash under the other versions a lookup tries, flat, with the row it belongs to.
        let others = rows.enumerated().flatMap { index, row in row.subjectKey.lookupBytes.dropFirst().map { (Int32(index), $0) } }
        let otherRows = others.map(\.0)
        let otherKeys = others.map { ByteBuffer(bytes: $0.1) }
        // A subject stored under another version is updated where it is; under an older one it
        // moves to the update's key (its grants and card generations follow by ON UPDATE CASCADE,
        // its family registrations here), under a newer one it keeps its key and name hash.
        let query: PostgresQuery = """
            WITH u AS (
              SELECT * FROM unnest(\(indices)::int[], \(keys)::bytea[], \(maskedIDs)::text[], \(nameHashes)::bytea[],
                                   \(maskedNames)::text[], \(statuses)::text[], \(times)::timestamptz[], \(versions)::smallint[])
                AS u(i, key, masked_id, name_hash, masked_name, status, status_as_of, secret_version)
            ), c AS (
              SELECT * FROM unnest(\(otherRows)::int[], \(otherKeys)::bytea[]) AS c(i, key)
            ), found AS (
              SELECT DISTINCT ON (c.i) c.i, s.subject_key AS stored FROM c JOIN subjects s ON s.subject_key = c.key
              ORDER BY c.i, s.secret_version DESC
            ), moved AS (
              UPDATE subjects s SET
                  subject_key = CASE WHEN s.secret_version < u.secret_version THEN u.key ELSE s.subject_key END,
                  name_hash = CASE WHEN s.secret_version < u.secret_version THEN u.name_hash ELSE s.name_hash END,
                  secret_version = GREATEST(s.secret_version, u.secret_version),
                  masked_id = u.masked_id, masked_name = u.masked_name, status = u.status, status_as_of = u.status_as_of,
                  updated_at = now()
              FROM u JOIN found f ON f.i = u.i
              WHERE s.subject_key = f.stored AND s.status_as_of < u.status_as_of
              RETURNING u.key, f.stored AS old_key, s.subject_key AS new_key
            ), followed AS (
              UPDATE guardianships g SET subject_key = m.new_key FROM moved m WHERE g.subject_key = m.old_key AND m.new_key <> m.old_key
            ), upserted AS (
              INSERT INTO subjects (subject_key, masked_id, name_hash, masked_name, status, status_as_of, secret_version)
              SELECT u.key, u.masked_id, u.name_hash, u.masked_name, u.status, u.status_as_of, u.secret_version FROM u
              WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.i = u.i)
              ON CONFLICT (subject_key) DO UPDATE SET
                  masked_id = EXCLUDED.masked_id, name_hash = EXCLUDED.name_hash,
                  masked_name = EXCLUDED.masked_name, status = EXCLUDED.status,
                  status_as_of = EXCLUDED.status_as_of, updated_at = now()
              WHERE subjects.status_as_of < EXCLUDED.status_as_of
              RETURNING subject_key
            )
            SELECT key FROM moved UNION ALL SELECT subject_key FROM upserted
            """
        // Not while `secret rekey` moves subjects: a row it moves mid-statement would be missed.
        let written = try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock_shared(\(PostgresSecretRekeyStore.subjectMoveLock))", logger: logger)
            var written = Set<SubjectKey>()
            for try await key in try await connection.query(query, logger: logger).decode(ByteBuffer.self) {
                written.insert(SubjectKey(bytes: Array(buffer: key)))
            }
            return written
        }
        return updates.enumerated().map { index, update in
            winners.contains(index) && written.contains(update.subjectKey) ? .accepted : .ignoredOlder
        }
    }

    public func record(for key: SubjectKey) async throws -> SubjectRecord? {
        let lookup = key.lookupBytes.map { ByteBuffer(bytes: $0) }
        let rows = try await client.query(
            """
            SELECT subject_key, masked_id, name_hash, masked_name, status, status_as_of, secret_version
            FROM subjects WHERE subject_key = ANY(\(lookup)) ORDER BY secret_version DESC LIMIT 1
            """, logger: logger)
        for try await (stored, maskedID, nameHash, maskedName, status, asOf, version)
            in rows.decode((ByteBuffer, String, ByteBuffer, String, String, Date, Int16).self)
        {
            return SubjectRecord(
                subjectKey: SubjectKey(bytes: Array(buffer: stored), version: version, lookupBytes: key.lookupBytes), maskedID: maskedID,
                nameHash: Array(buffer: nameHash), maskedName: maskedName, status: StatusColour(rawValue: status) ?? .red, asOf: asOf,
                secretVersion: version)
        }
        return nil
    }
}
