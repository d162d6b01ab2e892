import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt

/// `POST /v1/staff/sessions`: checkpoint staff log in with username and password.
/// Every failure is the same 401; repeated failures lock the account (429 with `Retry-After`).
struct StaffSessionController {
    let dependencies: PassbyDependencies

    struct Login: Decodable {
        var username: String
        var password: String
    }

    struct Session: Encodable {
        var token: String
        var expiresAt: Date
        enum CodingKeys: String, CodingKey { case token, expiresAt = "expires_at" }
    }

    static let failed = Problem(.unauthorized, "invalid-login", "The username or password is wrong")
    /// A hash to check against when the user does not exist, so that both paths cost the same.
    static let decoyHash = Bcrypt.hash("decoy password", cost: 4)

    func addRoutes(to router: Router<PassbyRequestContext>) {
        router.post("v1/staff/sessions", use: login)
    }

    @Sendable func login(request: Request, context: PassbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(Login.self, from: request, within: dependencies.configuration)
        let staff = dependencies.staff
        let credentials = try await dependencies.storage { try await staff.credentials(username: body.username) }
        guard let credentials, credentials.account.disabledAt == nil else {
            _ = Bcrypt.verify(body.password, hash: Self.decoyHash)
            throw Self.failed
        }
        if let locked = credentials.lockedUntil, locked > Date() {
            throw Problem(.tooManyRequests, "login-locked", "Too many failed logins; try again later",
                          headers: [.retryAfter: "\(Int(locked.timeIntervalSinceNow.rounded(.up)))"])
        }
        // bcrypt is slow on purpose; keep it off the event loop's hot path.
        let password = body.password
        let hash = credentials.passwordHash
        let matches = await Task.detached { Bcrypt.verify(password, hash: hash) }.value
        let configuration = dependencies.configuration
        guard matches else {
            try await dependencies.storage {
                try await staff.recordFailure(id: credentials.account.id, limit: configuration.staffLoginAttempts,
                                              lockSeconds: configuration.staffLockSeconds)
            }
            throw Self.failed
        }
        try await dependencies.storage { try await staff.recordSuccess(id: credentials.account.id) }
        let token = StaffToken.generate()
        let expiresAt = Date().addingTimeInterval(TimeInterval(configuration.staffSessionSeconds))
        try await dependencies.storage {
            try await staff.createSession(tokenHash: StaffToken.hash(token), staffID: credentials.account.id, expiresAt: expiresAt)
        }
        var response = try context.responseEncoder.encode(Session(token: token, expiresAt: expiresAt), from: request, context: context)
        response.status = .created
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
