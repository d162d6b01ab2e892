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

    func reserveAttempt(id: UUID, limit: Int, lockSeconds: Int, at now: Date) async throws -> Date? {
        let windowStart = now.addingTimeInterval(-TimeInterval(lockSeconds))
        let lockedUntil = now.addingTimeInterval(TimeInterval(lockSeconds))
        // One UPDATE whose SET reads the row it locks: concurrent attempts queue on the row lock and
        // each counts on top of the one before.
        let rows = try await client.query(
            """
            UPDATE staff SET
              failed_attempts = CASE WHEN failures_since IS NULL OR failures_since <= \(windowStart) THEN 1 ELSE failed_attempts + 1 END,
              failures_since = CASE WHEN failures_since IS NULL OR failures_since <= \(windowStart) THEN \(now) ELSE failures_since END,
              locked_until = CASE WHEN (CASE WHEN failures_since IS NULL OR failures_since <= \(windowStart) THEN 1 ELSE failed_attempts + 1 END)
                                       > \(limit) THEN \(lockedUntil) ELSE locked_until END
            WHERE id = \(id) AND (locked_until IS NULL OR locked_until <= \(now))
            RETURNING failed_attempts
            """, logger: logger)
        for try await attempts in rows.decode(Int.self) { return attempts > limit ? lockedUntil : nil }
        // Not counted: the account is locked (or gone).
        let locked = try await client.query("SELECT locked_until FROM staff WHERE id = \(id)", logger: logger)
        for try await until in locked.decode(Date?.self) { return until }
        return nil
    }

    func recordSuccess(id: UUID) async throws {
        try await client.query(
            "UPDATE staff SET failed_attempts = 0, failures_since = NULL, locked_until = NULL WHERE id = \(id)", logger: logger)
    }

    func createSession(tokenHash: [UInt8], staffID: UUID, expiresAt: Date, at now: Date) async throws {
        try await client.query(
            """
            INSERT INTO staff_sessions (token_hash, staff_id, expires_at, last_used_at)
            VALUES (\(ByteBuffer(bytes: tokenHash)), \(staffID), \(expiresAt), \(now))
            """, logger: logger)
    }

    func account(sessionHash: [UInt8], idleSeconds: Int, at now: Date) async throws -> StaffAccount? {
        // The idle time moves on at most once a minute, so a busy checkpoint does not write on every scan.
        let rows = try await client.query(
            """
            WITH live AS (
              SELECT t.token_hash, t.last_used_at, s.id, s.username, s.created_at FROM staff_sessions t JOIN staff s ON s.id = t.staff_id
              WHERE t.token_hash = \(ByteBuffer(bytes: sessionHash)) AND t.expires_at > \(now) AND s.disabled_at IS NULL
                AND t.last_used_at > \(now.addingTimeInterval(-TimeInterval(idleSeconds)))
            ), touched AS (
              UPDATE staff_sessions SET last_used_at = \(now)
              WHERE token_hash IN (SELECT token_hash FROM live WHERE last_used_at < \(now.addingTimeInterval(-60)))
            )
            SELECT id, username, created_at FROM live
            """, logger: logger)
        for try await (id, username, created) in rows.decode((UUID, String, Date).self) {
            return StaffAccount(id: id, username: username, createdAt: created, disabledAt: nil)
        }
        return nil
    }

    func endSession(sessionHash: [UInt8]) async throws -> Bool {
        let rows = try await client.query(
            "DELETE FROM staff_sessions WHERE token_hash = \(ByteBuffer(bytes: sessionHash)) RETURNING staff_id", logger: logger)
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }
}
