import Foundation
import HTTPTypes
import Hummingbird

/// `/helper`'s sign-in through the configured OpenID provider: `GET /web/sign-in` sends the
/// browser to the provider, and the provider sends it back to `GET /web/sign-in/callback`.
///
/// The callback answers with the helper page itself, the ID token in a `<meta>` element that the
/// page's script reads into memory and removes, and then replaces the callback's URL (which
/// carries only the code and `state`) with `/helper`. The answer is `no-store`, so the token is
/// never written to the browser's cache. A caller that does not ask for HTML gets the outcome as
/// `application/problem+json` when it fails.
///
/// Without `PASSBY_WEB_OIDC_*` both routes answer 404, as the demo sign-in does when it is off.
struct WebSignInController {
    /// The sign-in, nil when none is configured.
    let service: ProviderSignIn?
    /// `helper.html`, which the callback answers with.
    let page: WebFiles.File
    let catalogue: ProblemCatalogue

    func addRoutes(to router: Router<PassbyRequestContext>) {
        router.get("web/sign-in", use: begin)
        router.get("web/sign-in/callback", use: callback)
    }

    @Sendable func begin(request: Request, context: PassbyRequestContext) async throws -> Response {
        guard let service else { throw Problem.notFound }
        let started = service.begin()
        var response = Response(status: .seeOther, headers: Self.headers(location: started.location))
        response.setCookie(cookie(started.cookie, maxAge: Int(ProviderSignIn.lifetime), secure: service.provider.secureCookie))
        return response
    }

    @Sendable func callback(request: Request, context: PassbyRequestContext) async throws -> Response {
        guard let service else { throw Problem.notFound }
        let query = request.uri.queryParameters
        let sealed = request.cookies[ProviderSignIn.cookieName]?.value
        let outcome: Result<ProviderSignIn.SignedIn, any Error>
        do {
            outcome = .success(
                try await service.complete(
                    code: query["code"].map(String.init), state: query["state"].map(String.init), error: query["error"].map(String.init),
                    cookie: sealed))
        } catch {
            outcome = .failure(error)
        }
        var response: Response
        switch outcome {
        case .success(let signedIn):
            response = helperPage(status: .ok, meta: [("passby-sign-in", signedIn.assertion), ("passby-masked-id", signedIn.maskedID)])
        case .failure(let refusal as Refusal):
            let problem = catalogue.problem(for: refusal)
            response =
                Self.wantsHTML(request)
                ? helperPage(status: problem.status, meta: [("passby-sign-in-error", problem.reason)])
                : try problem.response(from: request, context: context)
        case .failure(let error):
            throw error
        }
        // The sign-in is over either way: its cookie goes.
        response.setCookie(cookie("", maxAge: 0, secure: service.provider.secureCookie))
        return response
    }

    /// The sign-in cookie: only for these two routes, never for script, sent on the provider's
    /// top-level redirect back (`Lax`), `Secure` whenever Passby is reached over HTTPS.
    func cookie(_ value: String, maxAge: Int, secure: Bool) -> Cookie {
        Cookie(
            name: ProviderSignIn.cookieName, value: value, maxAge: maxAge, path: ProviderSignIn.cookiePath, secure: secure, httpOnly: true,
            sameSite: .lax)
    }

    /// The helper page with `meta` elements before `</head>`; values are HTML-escaped.
    func helperPage(status: HTTPResponse.Status, meta: [(String, String)]) -> Response {
        let elements = meta.map { "<meta name=\"\($0)\" content=\"\(Self.escaped($1))\">" }.joined()
        var html = String(decoding: page.bytes, as: UTF8.self)
        if let head = html.range(of: "</head>") { html.insert(contentsOf: elements, at: head.lowerBound) }
        var headers = WebController.securityHeaders
        headers[.contentType] = page.contentType
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func headers(location: String) -> HTTPFields {
        var headers = WebController.securityHeaders
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return headers
    }

    /// A browser's navigation asks for HTML; an API client gets problems.
    static func wantsHTML(_ request: Request) -> Bool {
        request.headers[.accept]?.contains("text/html") ?? false
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
