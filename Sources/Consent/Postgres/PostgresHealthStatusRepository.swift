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
        let keys = rows.map { ByteBuffer(bytes: $0.subjectKey.bytes) }
        let maskedIDs = rows.map(\.maskedID)
        let nameHashes = rows.map { ByteBuffer(bytes: $0.nameHash) }
        let maskedNames = rows.map(\.maskedName)
        let statuses = rows.map(\.status.rawValue)
        let times = rows.map(\.asOf)
        let result = try await client.query(
            """
            INSERT INTO subjects (subject_key, masked_id, name_hash, masked_name, status, status_as_of)
            SELECT * FROM unnest(\(keys)::bytea[], \(maskedIDs)::text[], \(nameHashes)::bytea[],
                                 \(maskedNames)::text[], \(statuses)::text[], \(times)::timestamptz[])
            ON CONFLICT (subject_key) DO UPDATE SET
                masked_id = EXCLUDED.masked_id, name_hash = EXCLUDED.name_hash,
                masked_name = EXCLUDED.masked_name, status = EXCLUDED.status,
                status_as_of = EXCLUDED.status_as_of, updated_at = now()
            WHERE subjects.status_as_of < EXCLUDED.status_as_of
            RETURNING subject_key
            """, logger: logger)
        var written = Set<SubjectKey>()
        for try await key in result.decode(ByteBuffer.self) {
            written.insert(SubjectKey(bytes: Array(buffer: key)))
        }
        return updates.enumerated().map { index, update in
            winners.contains(index) && written.contains(update.subjectKey) ? .accepted : .ignoredOlder
        }
    }

    public func record(for key: SubjectKey) async throws -> SubjectRecord? {
        let rows = try await client.query(
            """
            SELECT masked_id, name_hash, masked_name, status, status_as_of
            FROM subjects WHERE subject_key = \(ByteBuffer(bytes: key.bytes))
            """, logger: logger)
        for try await (maskedID, nameHash, maskedName, status, asOf) in rows.decode((String, ByteBuffer, String, String, Date).self) {
            return SubjectRecord(
                subjectKey: key, maskedID: maskedID, nameHash: Array(buffer: nameHash), maskedName: maskedName,
                status: StatusColour(rawValue: status) ?? .red, asOf: asOf)
        }
        return nil
    }
}
