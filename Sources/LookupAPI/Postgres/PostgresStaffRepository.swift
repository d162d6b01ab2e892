import Database
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Staff accounts and sessions in PostgreSQL.
struct PostgresStaffRepository: StaffRepository {
    let client: TimedPostgres
    let logger: Logger

    func add(username: String, passwordHash: String) async throws -> StaffAccount? {
        let id = UUID()
        let rows = try await client.query(
            """
            INSERT INTO staff (id, username, password_hash) VALUES (\(id), \(username), \(passwordHash))
            ON CONFLICT (username) DO NOTHING RETURNING created_at
            """, logger: logger)
        for try await createdAt in rows.decode(Date.self) {
            return StaffAccount(id: id, username: username, createdAt: createdAt, disabledAt: nil)
        }
        return nil
    }

    func list() async throws -> [StaffAccount] {
        let rows = try await client.query("SELECT id, username, created_at, disabled_at FROM staff ORDER BY username", logger: logger)
        var accounts: [StaffAccount] = []
        for try await (id, username, created, disabled) in rows.decode((UUID, String, Date, Date?).self) {
            accounts.append(StaffAccount(id: id, username: username, createdAt: created, disabledAt: disabled))
        }
        return accounts
    }

    func disable(username: String) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                "UPDATE staff SET disabled_at = now() WHERE username = \(username) AND disabled_at IS NULL RETURNING id", logger: logger)
            var disabled: UUID?
            for try await id in rows.decode(UUID.self) { disabled = id }
            guard let disabled else { return false }
            try await connection.query("DELETE FROM staff_sessions WHERE staff_id = \(disabled)", logger: logger)
            return true
        }
    }

    func credentials(username: String) async throws -> StaffCredentials? {
        let rows = try await client.query(
            "SELECT id, username, created_at, disabled_at, password_hash, locked_until FROM staff WHERE username = \(username)",
            logger: logger)
        for try await (id, name, created, disabled, hash, locked) in rows.decode((UUID, String, Date, Date?, String, Date?).self) {
            return StaffCredentials(
                account: StaffAccount(id: id, username: name, createdAt: created, disabledAt: disabled), passwordHash: hash,
                lockedUntil: locked)
        }
        return nil
    }

    func recordFailure(id: UUID, limit: Int, lockSeconds: Int) async throws {
        try await client.query(
            """
            UPDATE staff SET failed_attempts = failed_attempts + 1,
                locked_until = CASE WHEN failed_attempts + 1 >= \(limit)
                    THEN now() + make_interval(secs => \(Double(lockSeconds))) ELSE locked_until END
            WHERE id = \(id)
            """, logger: logger)
    }

    func recordSuccess(id: UUID) async throws {
        try await client.query("UPDATE staff SET failed_attempts = 0, locked_until = NULL WHERE id = \(id)", logger: logger)
    }

    func createSession(tokenHash: [UInt8], staffID: UUID, expiresAt: Date) async throws {
        try await client.query(
            "INSERT INTO staff_sessions (token_hash, staff_id, expires_at) VALUES (\(ByteBuffer(bytes: tokenHash)), \(staffID), \(expiresAt))",
            logger: logger)
    }

    func account(sessionHash: [UInt8], at now: Date) async throws -> StaffAccount? {
        let rows = try await client.query(
            """
            SELECT s.id, s.username, s.created_at FROM staff_sessions t JOIN staff s ON s.id = t.staff_id
            WHERE t.token_hash = \(ByteBuffer(bytes: sessionHash)) AND t.expires_at > \(now) AND s.disabled_at IS NULL
            """, logger: logger)
        for try await (id, username, created) in rows.decode((UUID, String, Date).self) {
            return StaffAccount(id: id, username: username, createdAt: created, disabledAt: nil)
        }
        return nil
    }
}
