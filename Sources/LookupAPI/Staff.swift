import Crypto
import Display
import Foundation

/// A checkpoint staff account. The password is kept only as a bcrypt hash.
struct StaffAccount: Sendable, Equatable {
    var id: UUID
    var username: String
    var createdAt: Date
    var disabledAt: Date?
}

/// A stored account with what logging in needs.
struct StaffCredentials: Sendable {
    var account: StaffAccount
    var passwordHash: String
    var lockedUntil: Date?
}

/// Staff session tokens: `pbs_` and 256 random bits; stored as SHA-256.
enum StaffToken {
    static let prefix = "pbs_"

    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return prefix + Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func hash(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Array(token.utf8))) }
}

/// Where staff accounts and their sessions live.
protocol StaffRepository: Sendable {
    /// Creates an account; nil if the username is taken.
    func add(username: String, passwordHash: String) async throws -> StaffAccount?
    func list() async throws -> [StaffAccount]
    /// Disables an account and ends its sessions at once; false if there is no such active account.
    func disable(username: String) async throws -> Bool
    func credentials(username: String) async throws -> StaffCredentials?
    /// Counts a login attempt as a failure before its password is checked, in one atomic step.
    /// Failures older than `lockSeconds` are forgotten. Returns nil when the attempt may go on,
    /// or when the account is locked: until then. The attempt that passes `limit` failures
    /// locks the account for `lockSeconds`.
    func reserveAttempt(id: UUID, limit: Int, lockSeconds: Int, at: Date) async throws -> Date?
    /// A correct password: the failures are forgotten.
    func recordSuccess(id: UUID) async throws
    func createSession(tokenHash: [UInt8], staffID: UUID, expiresAt: Date, at: Date) async throws
    /// The active account a live session belongs to: not expired, used within `idleSeconds`.
    /// Using it moves its idle time on.
    func account(sessionHash: [UInt8], idleSeconds: Int, at: Date) async throws -> StaffAccount?
    /// Ends a session; false if there was none.
    func endSession(sessionHash: [UInt8]) async throws -> Bool
}
