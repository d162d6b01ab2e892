import Foundation
import Hummingbird
import HummingbirdAuth
import Logging

/// Bearer authentication of API clients. No header: no identity (the role guard answers 401).
/// A key that is unknown or revoked: 401 at once.
struct ClientAuthenticator: AuthenticatorMiddleware {
    typealias Context = PassbyRequestContext
    let clients: any APIClientRepository
    let staffSessions: StaffSessionService

    func authenticate(request: Request, context: Context) async throws -> APIClient? {
        guard request.headers[.authorization] != nil else { return nil }
        guard let bearer = request.headers.bearer else { throw Problem.invalidCredentials }
        if bearer.token.hasPrefix(StaffToken.prefix) {
            // A staff session acts as a checkpoint; a disabled account's sessions end at once.
            guard let staff = try await staffSessions.account(sessionToken: bearer.token) else { throw Problem.invalidCredentials }
            return APIClient(id: staff.id, name: "staff:\(staff.username)", role: .checkpoint, createdAt: staff.createdAt, isStaffSession: true)
        }
        guard bearer.token.hasPrefix(ClientKey.prefix), let client = try await clients.client(keyHash: ClientKey.hash(bearer.token)) else {
            throw Problem.invalidCredentials
        }
        return client
    }
}

/// Lets through only clients whose role is one of `roles`; each route group declares its roles.
struct RequireRole: RouterMiddleware {
    typealias Context = PassbyRequestContext
    let roles: Set<Role>

    init(_ roles: Role...) { self.roles = Set(roles) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let client = context.identity else { throw Problem.missingCredentials }
        guard roles.contains(client.role) else { throw Problem.wrongRole }
        var context = context
        context.logger[metadataKey: "client.id"] = "\(client.id)"
        return try await next(request, context)
    }
}
