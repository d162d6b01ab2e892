import Foundation
import Hummingbird
import HummingbirdAuth

/// `POST /v1/staff/sessions`: checkpoint staff log in with username and password.
/// `DELETE /v1/staff/sessions` with the session as bearer token: they sign out.
struct StaffSessionController {
    let service: StaffSessionService
    let limits: JSONBody.Limits

    struct Login: Decodable {
        var username: String
        var password: String
    }

    struct Session: Encodable {
        var token: String
        var expiresAt: Date
    }

    func addRoutes(to router: Router<PassbyRequestContext>) {
        router.post("v1/staff/sessions", use: login)
        router.delete("v1/staff/sessions", use: logout)
    }

    @Sendable func login(request: Request, context: PassbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(Login.self, from: request, within: limits)
        let session = try await service.login(username: body.username, password: body.password, address: context.peer)
        return try context.respond(Session(token: session.token, expiresAt: session.expiresAt), status: .created, from: request)
    }

    @Sendable func logout(request: Request, context: PassbyRequestContext) async throws -> Response {
        guard let bearer = request.headers.bearer, bearer.token.hasPrefix(StaffToken.prefix) else { throw Problem.missingCredentials }
        try await service.logout(sessionToken: bearer.token)
        return Response(status: .noContent)
    }
}
