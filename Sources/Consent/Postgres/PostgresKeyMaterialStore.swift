import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Sealed key material in `key_material` (`sql/0017`). The service's role may only read it;
/// writes come through the owner's connection (`serve`'s start-up and `passby keys`).
public struct PostgresKeyMaterialStore: KeyMaterialStore {
    let client: TimedPostgres
    let logger: Logger

    public init(client: TimedPostgres, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func entries(prefix: String) async throws -> [String: [UInt8]] {
        let rows = try await client.query(
            "SELECT name, sealed FROM key_material WHERE starts_with(name, \(prefix))", logger: logger)
        var entries: [String: [UInt8]] = [:]
        for try await (name, sealed) in rows.decode((String, ByteBuffer).self) { entries[name] = Array(buffer: sealed) }
        return entries
    }

    public func insertIfAbsent(name: String, sealed: [UInt8]) async throws -> [UInt8] {
        // Inserted unless the name is taken; a fresh read then returns whichever row won.
        try await client.query(
            "INSERT INTO key_material (name, sealed) VALUES (\(name), \(ByteBuffer(bytes: sealed))) ON CONFLICT (name) DO NOTHING",
            logger: logger)
        for try await stored in try await client.query("SELECT sealed FROM key_material WHERE name = \(name)", logger: logger)
            .decode(ByteBuffer.self)
        {
            return Array(buffer: stored)
        }
        return sealed
    }

    public func holdsRecords() async throws -> Bool {
        let rows = try await client.query("SELECT EXISTS (SELECT 1 FROM ledger) OR EXISTS (SELECT 1 FROM subjects)", logger: logger)
        for try await held in rows.decode(Bool.self) { return held }
        return false
    }

    public func put(name: String, sealed: [UInt8]) async throws {
        try await client.query(
            """
            INSERT INTO key_material (name, sealed) VALUES (\(name), \(ByteBuffer(bytes: sealed)))
            ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, updated_at = clock_timestamp()
            """, logger: logger)
    }
}
