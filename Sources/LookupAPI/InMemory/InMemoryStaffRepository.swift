import Foundation

/// `StaffRepository` in memory, held to the same contract as `PostgresStaffRepository`.
actor InMemoryStaffRepository: StaffRepository {
    struct Row {
        var account: StaffAccount
        var passwordHash: String
        var failedAttempts = 0
        var failuresSince: Date?
        var lockedUntil: Date?
    }

    var rows: [UUID: Row] = [:]
    var sessions: [[UInt8]: (staffID: UUID, expiresAt: Date, lastUsed: Date)] = [:]
    let clock: @Sendable () -> Date

    /// `clock` stands for the database's `now()`: creation, disabling and lockout times.
    init(clock: @escaping @Sendable () -> Date = { Date() }) {
        self.clock = clock
    }

    func add(username: String, passwordHash: String) async throws -> StaffAccount? {
        guard !rows.values.contains(where: { $0.account.username == username }) else { return nil }
        let account = StaffAccount(id: UUID(), username: username, createdAt: clock(), disabledAt: nil)
        rows[account.id] = Row(account: account, passwordHash: passwordHash)
        return account
    }

    func list() async throws -> [StaffAccount] {
        rows.values.map(\.account).sorted { $0.username < $1.username }
    }

    func disable(username: String) async throws -> Bool {
        guard let id = rows.first(where: { $0.value.account.username == username && $0.value.account.disabledAt == nil })?.key
        else { return false }
        rows[id]?.account.disabledAt = clock()
        sessions = sessions.filter { $0.value.staffID != id }
        return true
    }

    func credentials(username: String) async throws -> StaffCredentials? {
        rows.values.first { $0.account.username == username }
            .map { StaffCredentials(account: $0.account, passwordHash: $0.passwordHash, lockedUntil: $0.lockedUntil) }
    }

    func reserveAttempt(id: UUID, limit: Int, lockSeconds: Int, at now: Date) async throws -> Date? {
        guard var row = rows[id] else { return nil }
        if let locked = row.lockedUntil, locked > now { return locked }
        if let since = row.failuresSince, since > now.addingTimeInterval(-TimeInterval(lockSeconds)) {
            row.failedAttempts += 1
        } else {
            row.failedAttempts = 1
            row.failuresSince = now
        }
        if row.failedAttempts > limit { row.lockedUntil = now.addingTimeInterval(TimeInterval(lockSeconds)) }
        rows[id] = row
        return row.failedAttempts > limit ? row.lockedUntil : nil
    }

    func recordSuccess(id: UUID) async throws {
        rows[id]?.failedAttempts = 0
        rows[id]?.failuresSince = nil
        rows[id]?.lockedUntil = nil
    }

    func createSession(tokenHash: [UInt8], staffID: UUID, expiresAt: Date, at now: Date) async throws {
        sessions[tokenHash] = (staffID, expiresAt, now)
    }

    func account(sessionHash: [UInt8], idleSeconds: Int, at now: Date) async throws -> StaffAccount? {
        guard let session = sessions[sessionHash], session.expiresAt > now,
            session.lastUsed > now.addingTimeInterval(-TimeInterval(idleSeconds)),
            let row = rows[session.staffID], row.account.disabledAt == nil
        else { return nil }
        if session.lastUsed < now.addingTimeInterval(-60) { sessions[sessionHash]?.lastUsed = now }
        return row.account
    }

    func endSession(sessionHash: [UInt8]) async throws -> Bool {
        sessions.removeValue(forKey: sessionHash) != nil
    }
}
