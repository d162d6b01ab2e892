import Consent
import Crypto
import Database
import Display
import Foundation
import HTTPTypes
import Hummingbird

/// The pages for people (`/helper`, `/checkpoint`, `/terminal`) and their assets, served from the
/// `Web` resources built into the binary, plus the two small routes the helper page needs.
///
/// Every page and asset goes out with a Content-Security-Policy that allows only Passby's own
/// scripts, styles and connections: no inline script, nothing from elsewhere.
struct WebController {
    let files: WebFiles
    /// The key of Passby's own helper client, which the page uses.
    let helperKey: String
    /// The demo sign-in, present only while the development identity provider is trusted.
    let signIn: DevelopmentSignIn?
    /// Whether `/helper` signs in through an OpenID provider (`WebSignInController`).
    let providerSignIn: Bool
    let limits: JSONBody.Limits

    static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob:", "connect-src 'self'",
        "media-src 'self' blob: mediastream:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: contentSecurityPolicy,
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("Permissions-Policy")!: "camera=(self), microphone=(), geolocation=()",
        HTTPField.Name("Cross-Origin-Opener-Policy")!: "same-origin",
        .cacheControl: "no-cache",
    ]

    struct HelperConfiguration: Encodable {
        var clientKey: String
        var developmentIdentityProvider: Bool
        /// `GET /web/sign-in` starts a sign-in through the configured OpenID provider.
        var providerSignIn: Bool
    }

    struct AssertionRequest: Decodable {
        var name: String
        var idNumber: String
    }

    struct MintedAssertion: Encodable {
        var assertion: String
    }

    func addRoutes(to router: Router<PassbyRequestContext>) {
        for (path, file) in files.byPath {
            router.get(RouterPath(path)) { request, context in
                try await request.ifNoneMatch(eTag: file.eTag, context: context) {
                    var headers = Self.securityHeaders
                    headers[.contentType] = file.contentType
                    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
                }
            }
        }
        router.get("/") { _, _ in Response(status: .seeOther, headers: [.location: "/helper"]) }
        router.get("web/helper.json") { [helperKey, signIn, providerSignIn] request, context in
            try context.respond(
                HelperConfiguration(clientKey: helperKey, developmentIdentityProvider: signIn != nil, providerSignIn: providerSignIn),
                from: request)
        }
        router.post("web/dev-idp/assertions", use: mintAssertion)
    }

    /// The demo identity provider's sign-in for `/helper`; absent (404) when it is switched off.
    @Sendable func mintAssertion(request: Request, context: PassbyRequestContext) async throws -> Response {
        guard let signIn else { throw Problem.notFound }
        let body = try await JSONBody.decode(AssertionRequest.self, from: request, within: limits)
        let assertion = try await signIn.mint(name: body.name, idNumber: body.idNumber)
        return try context.respond(MintedAssertion(assertion: assertion), status: .created, from: request)
    }
}

/// The files under `Sources/LookupAPI/Web`, read once at start-up: pages by their route
/// (`/helper` for `helper.html`) and assets by their path.
struct WebFiles: Sendable {
    struct File: Sendable {
        var bytes: [UInt8]
        var contentType: String
        var eTag: String
    }

    let byPath: [String: File]

    static let contentTypes = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "json": "application/json", "svg": "image/svg+xml", "yaml": "application/yaml",
    ]

    /// Loads the bundled `Web` directory.
    static func bundled() throws -> WebFiles {
        guard let root = Bundle.module.url(forResource: "Web", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "Web resources"])
        }
        return try WebFiles(directory: root)
    }

    init(byPath: [String: File]) {
        self.byPath = byPath
    }

    init(directory: URL) throws {
        var files: [String: File] = [:]
        let root = directory.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw CocoaError(.fileReadNoSuchFile) }
        for case let relative as String in walker {
            let url = URL(fileURLWithPath: root).appendingPathComponent(relative)
            guard let type = Self.contentTypes[url.pathExtension], !url.hasDirectoryPath else { continue }
            let bytes = Array(try Data(contentsOf: url))
            let route = url.pathExtension == "html" && !relative.contains("/") ? "/" + url.deletingPathExtension().lastPathComponent : "/" + relative
            let digest = Hex.encode(SHA256.hash(data: bytes).prefix(16))
            files[route] = File(bytes: bytes, contentType: type, eTag: "\"\(digest)\"")
        }
        self.init(byPath: files)
    }
}

/// The API client that Passby's own `/helper` page uses, with the role `helper`.
///
/// Its key is derived from the server secret, so no plain key is stored, and it is public: any
/// visitor of `/helper` receives it. That is safe because a lookup also needs the passer-by's
/// real-name assertion and the subject's consent token; the key only names the page in the
/// ledger and in rate limits. Revoking the client (`passby clients revoke`) switches the page off.
enum WebHelperClient {
    static let name = "passby-web-helper"

    static func key(_ personalData: PersonalData) -> String {
        ClientKey.prefix + Base64URL.encode(personalData.derivedSecret(for: "web-helper-client-key"))
    }

    /// Registers the client on first start; a revoked one stays revoked.
    static func ensure(in clients: any APIClientRepository, personalData: PersonalData) async throws {
        guard try await !clients.list().contains(where: { $0.name == name }) else { return }
        _ = try await clients.register(name: name, role: .helper, key: key(personalData))
    }
}
