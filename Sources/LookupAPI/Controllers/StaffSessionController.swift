import Foundation
import Hummingbird

/// `POST /v1/staff/sessions`: checkpoint staff log in with username and password.
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
    }

    @Sendable func login(request: Request, context: PassbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(Login.self, from: request, within: limits)
        let session = try await service.login(username: body.username, password: body.password)
        return try context.respond(Session(token: session.token, expiresAt: session.expiresAt), status: .created, from: request)
    }
}
