import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// API clients in the `api_clients` table.
struct PostgresAPIClientRepository: APIClientRepository {
    let client: TimedPostgres
    let logger: Logger

    func create(name: String, role: Role) async throws -> (client: APIClient, key: String) {
        let key = ClientKey.generate()
        return (try await register(name: name, role: role, key: key), key)
    }

    func register(name: String, role: Role, key: String) async throws -> APIClient {
        let id = UUID()
        let rows = try await client.query(
            """
            INSERT INTO api_clients (id, name, role, key_hash) VALUES (\(id), \(name), \(role.rawValue), \(ByteBuffer(bytes: ClientKey.hash(key))))
            RETURNING created_at
            """, logger: logger)
        var createdAt = Date()
        for try await created in rows.decode(Date.self) { createdAt = created }
        return APIClient(id: id, name: name, role: role, createdAt: createdAt, revokedAt: nil)
    }

    func client(keyHash: [UInt8]) async throws -> APIClient? {
        let rows = try await client.query(
            """
            SELECT id, name, role, created_at FROM api_clients
            WHERE key_hash = \(ByteBuffer(bytes: keyHash)) AND revoked_at IS NULL
            """, logger: logger)
        for try await (id, name, role, createdAt) in rows.decode((UUID, String, String, Date).self) {
            guard let role = Role(rawValue: role) else { return nil }
            return APIClient(id: id, name: name, role: role, createdAt: createdAt, revokedAt: nil)
        }
        return nil
    }

    func list() async throws -> [APIClient] {
        let rows = try await client.query(
            "SELECT id, name, role, created_at, revoked_at FROM api_clients ORDER BY created_at, id", logger: logger)
        var clients: [APIClient] = []
        for try await (id, name, role, createdAt, revokedAt) in rows.decode((UUID, String, String, Date, Date?).self) {
            guard let role = Role(rawValue: role) else { continue }
            clients.append(APIClient(id: id, name: name, role: role, createdAt: createdAt, revokedAt: revokedAt))
        }
        return clients
    }

    func revoke(id: UUID) async throws -> Bool {
        let rows = try await client.query(
            "UPDATE api_clients SET revoked_at = now() WHERE id = \(id) AND revoked_at IS NULL RETURNING id", logger: logger)
        for try await _ in rows { return true }
        return false
    }
}
