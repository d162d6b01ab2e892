import Foundation
import HummingbirdBcrypt
import Synchronization

/// Checkpoint staff log in with username and password. Every failure is the same
/// `invalidLogin`, and an unknown username costs the same bcrypt check as a known one. Each
/// attempt is counted before bcrypt runs, failures decay after the lock length, bcrypt runs on a
/// bounded pool, one address gets a few attempts a minute, and sessions end when idle.
struct StaffSessionService: Sendable {
    struct Session: Sendable {
        var token: String
        var expiresAt: Date
    }

    let staff: any StaffRepository
    let configuration: PassbyConfiguration
    let clock: any PassbyClock
    let pool: BcryptPool
    let addresses: any RateLimitCounter

    /// Decoy hashes by cost, made on first use: hashing one at cost 12 takes a quarter second.
    private static let decoys = Mutex<[UInt8: String]>([:])

    /// Checked when the username is unknown: made at the configured cost, so both paths cost the same.
    var decoyHash: String { Self.decoyHash(cost: configuration.bcryptCost) }

    static func decoyHash(cost: UInt8) -> String {
        if let made = decoys.withLock({ $0[cost] }) { return made }
        let made = Bcrypt.hash("decoy password", cost: cost)
        return decoys.withLock { decoys in
            if let first = decoys[cost] { return first }
            decoys[cost] = made
            return made
        }
    }

    init(
        staff: any StaffRepository, configuration: PassbyConfiguration, clock: any PassbyClock, pool: BcryptPool = BcryptPool(),
        rateLimits: any RateLimitCounter = InMemoryRateLimitCounter()
    ) {
        self.staff = staff
        self.configuration = configuration
        self.clock = clock
        self.pool = pool
        self.addresses = rateLimits
    }

    /// `address` is where the attempt came from (the peer's IP address), for the per-address limit.
    func login(username: String, password: String, address: String) async throws -> Session {
        let now = clock.now()
        if let limited = try await addresses.hit("login:\(address)", limit: configuration.staffLoginsPerMinute, now: now.timeIntervalSince1970) {
            throw Refusal.loginRateLimited(retryAfter: limited.retryAfter)
        }
        let credentials = try await staff.credentials(username: username)
        guard let credentials, credentials.account.disabledAt == nil else {
            let cost = configuration.bcryptCost
            _ = try await pool.run { Bcrypt.verify(password, hash: Self.decoyHash(cost: cost)) }
            throw Refusal.invalidLogin
        }
        let id = credentials.account.id
        if let locked = try await staff.reserveAttempt(
            id: id, limit: configuration.staffLoginAttempts, lockSeconds: configuration.staffLockSeconds, at: now)
        {
            throw Refusal.loginLocked(retryAfter: max(1, Int(locked.timeIntervalSince(now).rounded(.up))))
        }
        let hash = credentials.passwordHash
        guard try await pool.run({ Bcrypt.verify(password, hash: hash) }) else { throw Refusal.invalidLogin }
        try await staff.recordSuccess(id: id)
        let token = StaffToken.generate()
        let expiresAt = now.addingTimeInterval(TimeInterval(configuration.staffSessionSeconds))
        try await staff.createSession(tokenHash: StaffToken.hash(token), staffID: id, expiresAt: expiresAt, at: now)
        return Session(token: token, expiresAt: expiresAt)
    }

    /// The active account a live session token belongs to; using it keeps it from going idle.
    func account(sessionToken: String) async throws -> StaffAccount? {
        try await staff.account(sessionHash: StaffToken.hash(sessionToken), idleSeconds: configuration.staffIdleSeconds, at: clock.now())
    }

    /// Signs out: the session ends at once. Ending one that is gone already changes nothing.
    func logout(sessionToken: String) async throws {
        _ = try await staff.endSession(sessionHash: StaffToken.hash(sessionToken))
    }
}
