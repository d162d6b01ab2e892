import Foundation
import HummingbirdBcrypt

/// Checkpoint staff log in with username and password. Every failure is the same
/// `invalidLogin`; repeated failures lock the account for a while.
struct StaffSessionService: Sendable {
    struct Session: Sendable {
        var token: String
        var expiresAt: Date
    }

    /// A hash to check against when the user does not exist, so that both paths cost the same.
    static let decoyHash = Bcrypt.hash("decoy password", cost: 4)

    let staff: any StaffRepository
    let configuration: PassbyConfiguration
    let clock: any PassbyClock

    func login(username: String, password: String) async throws -> Session {
        let credentials = try await staff.credentials(username: username)
        guard let credentials, credentials.account.disabledAt == nil else {
            _ = Bcrypt.verify(password, hash: Self.decoyHash)
            throw Refusal.invalidLogin
        }
        let now = clock.now()
        if let locked = credentials.lockedUntil, locked > now {
            throw Refusal.loginLocked(retryAfter: Int(locked.timeIntervalSince(now).rounded(.up)))
        }
        // bcrypt is slow on purpose; keep it off the event loop's hot path.
        let hash = credentials.passwordHash
        let matches = await Task.detached { Bcrypt.verify(password, hash: hash) }.value
        guard matches else {
            try await staff.recordFailure(
                id: credentials.account.id, limit: configuration.staffLoginAttempts, lockSeconds: configuration.staffLockSeconds)
            throw Refusal.invalidLogin
        }
        try await staff.recordSuccess(id: credentials.account.id)
        let token = StaffToken.generate()
        let expiresAt = now.addingTimeInterval(TimeInterval(configuration.staffSessionSeconds))
        try await staff.createSession(tokenHash: StaffToken.hash(token), staffID: credentials.account.id, expiresAt: expiresAt)
        return Session(token: token, expiresAt: expiresAt)
    }

    /// The active account a live session token belongs to.
    func account(sessionToken: String) async throws -> StaffAccount? {
        try await staff.account(sessionHash: StaffToken.hash(sessionToken), at: clock.now())
    }
}
