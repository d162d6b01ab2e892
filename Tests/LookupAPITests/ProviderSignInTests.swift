import Consent
import Crypto
import Display
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Synchronization
import Testing

@testable import LookupAPI

/// The token endpoint, played by the test: it records what Passby sends and answers with
/// whatever ID token the test mints for it (or fails, as a provider that refuses the code).
final class RecordingTokenEndpoint: IDTokenExchange {
    private let state = Mutex<(verifiers: [String], answer: String?)>(([], nil))

    func answer(with token: String?) { state.withLock { $0.answer = token } }
    var verifiers: [String] { state.withLock { $0.verifiers } }

    func idToken(code: String, codeVerifier: String) async throws(SignInFailure) -> String {
        let answer = state.withLock {
            $0.verifiers.append(codeVerifier)
            return $0.answer
        }
        guard let answer else { throw .provider }
        return answer
    }
}

/// `/helper`'s sign-in through an OpenID provider: the redirect, the sealed cookie, and every way
/// a callback can be wrong. The provider here is an ES256 key of the test's own; the live test
/// (`tests-live/oidc_pages_test.py`) walks the same flow against a real provider in Chromium.
@Suite("The helper page's sign-in through an OpenID provider", .timeLimit(.minutes(5)))
struct ProviderSignInTests {
    static let issuer = "https://idp.example"
    static let clientID = "passby-web"
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    struct Claims: JWTPayload {
        var fields: [String: JWTHeaderField]
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(fields)
        }
        init(_ fields: [String: JWTHeaderField]) { self.fields = fields }
        init(from decoder: any Decoder) throws { fields = try decoder.singleValueContainer().decode([String: JWTHeaderField].self) }
        func verify(using algorithm: some JWTAlgorithm) throws {}
    }

    /// A running application whose page signs in at the test's provider.
    struct Harness {
        let components: PassbyComponents
        let endpoint: RecordingTokenEndpoint
        let key: ES256PrivateKey
        let clock: MovableClock

        /// An ID token as the provider would issue it to Passby for the passer-by, with `changes`.
        func idToken(nonce: String?, _ changes: [String: JWTHeaderField] = [:]) async throws -> String {
            let now = Int(clock.now().timeIntervalSince1970)
            var fields: [String: JWTHeaderField] = [
                "iss": .string(ProviderSignInTests.issuer), "sub": "u-1", "aud": .array([.string(ProviderSignInTests.clientID)]),
                "iat": .int(now), "auth_time": .int(now), "exp": .int(now + 300), "name": .string(People.passerby.name),
                "national_id": .string(People.passerby.idNumber), "acr": "urn:example:real-name",
            ]
            if let nonce { fields["nonce"] = .string(nonce) }
            fields.merge(changes) { $1 }
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: key, kid: "k1")
            return try await keys.sign(Claims(fields), kid: "k1")
        }
    }

    static func harness(configured: Bool = true) async throws -> Harness {
        let key = ES256PrivateKey()
        let parameters = try #require(key.parameters)
        let jwks = #"{"keys":[{"kty":"EC","crv":"P-256","use":"sig","kid":"k1","x":"\#(parameters.x)","y":"\#(parameters.y)"}]}"#
        let policy = ProviderPolicy(
            audience: clientID, idNumberClaim: "national_id", nameClaim: "name", realName: .acr(["urn:example:real-name"]),
            dependentsClaim: nil, maxAgeSeconds: 600, algorithms: ["ES256"])
        let clock = MovableClock(start)
        var components = try await TestApp.memory()
        components.assertions = try await AssertionVerifier(providers: [IdentityProvider(issuer: issuer, jwksJSON: jwks, policy: policy)])
        components.clock = clock
        components.webFiles = try WebFiles.bundled()
        let endpoint = RecordingTokenEndpoint()
        if configured {
            components.webSignIn = WebSignInProvider(
                issuer: issuer, clientID: clientID, redirectURI: "https://passby.example/web/sign-in/callback", scope: "openid profile",
                authorizationEndpoint: "https://idp.example/authorize?realm=r", maxAgeSeconds: 600, exchange: endpoint)
        }
        return Harness(components: components, endpoint: endpoint, key: key, clock: clock)
    }

    /// A begun sign-in: the query Passby sent to the provider, and the cookie it set.
    struct Begun {
        var query: [String: String]
        var cookie: String
        var setCookie: String
    }

    static func begin(_ client: some TestClientProtocol) async throws -> Begun {
        let response = try await client.send(.get, "/web/sign-in")
        #expect(response.status == .seeOther)
        let location = try #require(response.headers[.location].flatMap { URLComponents(string: $0) })
        #expect(location.host == "idp.example" && location.path == "/authorize")
        let query = Dictionary((location.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let setCookie = try #require(response.headers[.setCookie])
        let value = try #require(setCookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last.map(String.init))
        return Begun(query: query, cookie: value, setCookie: setCookie)
    }

    static func callback(
        _ client: some TestClientProtocol, state: String?, cookie: String?, code: String? = "the-code", error: String? = nil,
        html: Bool = false
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String) {
        var items: [String] = []
        if let code { items.append("code=\(code)") }
        if let state { items.append("state=\(ProviderSignIn.formEncoded(state))") }
        if let error { items.append("error=\(error)") }
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = "\(ProviderSignIn.cookieName)=\(cookie)" }
        if html { headers[.accept] = "text/html,application/xhtml+xml" }
        return try await client.send(.get, "/web/sign-in/callback?" + items.joined(separator: "&"), headers: headers)
    }

    @Test("the redirect carries the authorization-code flow with PKCE (S256), state, nonce and max_age; the cookie is sealed and scoped")
    func redirect() async throws {
        let harness = try await Self.harness()
        try await buildApplication(harness.components).test(.router) { client in
            let begun = try await Self.begin(client)
            #expect(begun.query["realm"] == "r", "the endpoint's own query is kept")
            #expect(begun.query["response_type"] == "code" && begun.query["client_id"] == Self.clientID)
            #expect(begun.query["redirect_uri"] == "https://passby.example/web/sign-in/callback")
            #expect(begun.query["scope"] == "openid profile" && begun.query["max_age"] == "600")
            #expect(begun.query["code_challenge_method"] == "S256" && begun.query["code_challenge"]?.count == 43)
            #expect((begun.query["state"]?.count ?? 0) >= 43 && (begun.query["nonce"]?.count ?? 0) >= 43)
            #expect(begun.query["state"] != begun.query["nonce"])
            for attribute in ["HttpOnly", "SameSite=Lax", "Path=/web/sign-in", "Max-Age=600", "Secure"] {
                #expect(begun.setCookie.contains(attribute), "\(attribute) in \(begun.setCookie)")
            }
            for secret in [begun.query["state"]!, begun.query["nonce"]!] { #expect(!begun.setCookie.contains(secret)) }
            let again = try await Self.begin(client)
            #expect(again.query["state"] != begun.query["state"] && again.cookie != begun.cookie, "every sign-in is fresh")
        }
    }

    @Test("a good callback answers the helper page with the ID token in a meta element, no-store, and ends the cookie")
    func completes() async throws {
        let harness = try await Self.harness()
        try await buildApplication(harness.components).test(.router) { client in
            let begun = try await Self.begin(client)
            let token = try await harness.idToken(nonce: begun.query["nonce"])
            harness.endpoint.answer(with: token)
            let answer = try await Self.callback(client, state: begun.query["state"], cookie: begun.cookie, html: true)
            #expect(answer.status == .ok)
            #expect(answer.body.contains(#"<meta name="passby-sign-in" content="\#(token)">"#))
            let masked = try IdentityNumber(parsing: People.passerby.idNumber, today: AgePolicy().today()).masked
            #expect(answer.body.contains(#"<meta name="passby-masked-id" content="\#(masked)">"#))
            #expect(!answer.body.contains(People.passerby.idNumber))
            #expect(answer.headers[.cacheControl] == "no-store")
            #expect(answer.headers[.contentSecurityPolicy] == WebController.contentSecurityPolicy)
            let cleared = try #require(answer.headers[.setCookie])
            #expect(cleared.hasPrefix("\(ProviderSignIn.cookieName)=;") && cleared.contains("Max-Age=0"))
            // PKCE: the verifier that reached the token endpoint hashes to the challenge the provider saw.
            let verifier = try #require(harness.endpoint.verifiers.last)
            #expect(Base64URL.encode(Array(SHA256.hash(data: Array(verifier.utf8)))) == begun.query["code_challenge"])
            // The token is a real-name assertion of this provider, as lookups will verify it.
            let person = try await harness.components.assertions.verify(token, now: harness.clock.now(), today: AgePolicy().today())
            #expect(person.id.normalized == People.passerby.idNumber)
        }
    }

    @Test("an ID token with another sign-in's nonce, or none, is refused: 401 sign-in-nonce-mismatch")
    func nonce() async throws {
        let harness = try await Self.harness()
        try await buildApplication(harness.components).test(.router) { client in
            for nonce in ["another-sign-ins-nonce", nil] {
                let begun = try await Self.begin(client)
                harness.endpoint.answer(with: try await harness.idToken(nonce: nonce))
                let answer = try await Self.callback(client, state: begun.query["state"], cookie: begun.cookie)
                try expectProblem(answer, .unauthorized, "sign-in-nonce-mismatch")
                #expect(!answer.body.contains("eyJ"), "the refused token is not echoed")
            }
        }
    }

    @Test("a token the provider gave another client, or one not verified under a real name, is refused as a lookup would refuse it")
    func assertionRules() async throws {
        let harness = try await Self.harness()
        try await buildApplication(harness.components).test(.router) { client in
            let cases: [([String: JWTHeaderField], String)] = [
                (["aud": .array([.string("another-app")])], "assertion-wrong-audience"),
                (["acr": "urn:example:password-only"], "assertion-not-verified"),
                (["auth_time": .int(Int(Self.start.timeIntervalSince1970) - 3600)], "assertion-too-old"),
            ]
            for (changes, reason) in cases {
                let begun = try await Self.begin(client)
                harness.endpoint.answer(with: try await harness.idToken(nonce: begun.query["nonce"], changes))
                try expectProblem(try await Self.callback(client, state: begun.query["state"], cookie: begun.cookie), .unauthorized, reason)
            }
        }
    }

    @Test("no cookie, an altered one, or one older than 10 minutes: 400 sign-in-expired, and the code is never exchanged")
    func expired() async throws {
        let harness = try await Self.harness()
        try await buildApplication(harness.components).test(.router) { client in
            let begun = try await Self.begin(client)
            harness.endpoint.answer(with: try await harness.idToken(nonce: begun.query["nonce"]))
            var altered = Array(begun.cookie)
            altered[altered.count / 2] = altered[altered.count / 2] == "A" ? "B" : "A"
            for cookie in [nil, String(altered), "", String(repeating: "A", count: 5000)] {
                try expectProblem(try await Self.callback(client, state: begun.query["state"], cookie: cookie), .badRequest, "sign-in-expired")
            }
            harness.clock.advance(by: 601)
            try expectProblem(
                try await Self.callback(client, state: begun.query["state"], cookie: begun.cookie), .badRequest, "sign-in-expired")
            #expect(harness.endpoint.verifiers.isEmpty)
        }
    }

    @Test("a state that is not this browser's sign-in: 400 sign-in-state-mismatch, the code never exchanged")
    func state() async throws {
        let harness = try await Self.harness()
        try await buildApplication(harness.components).test(.router) { client in
            let mine = try await Self.begin(client)
            let theirs = try await Self.begin(client)
            for state in [theirs.query["state"], nil, "", "x"] {
                try expectProblem(try await Self.callback(client, state: state, cookie: mine.cookie), .badRequest, "sign-in-state-mismatch")
            }
            // An error answer with a forged state is no more believed than a code.
            try expectProblem(
                try await Self.callback(client, state: theirs.query["state"], cookie: mine.cookie, code: nil, error: "access_denied"),
                .badRequest, "sign-in-state-mismatch")
            #expect(harness.endpoint.verifiers.isEmpty)
        }
    }

    @Test("a code that is no RFC 6749 code (over 2,048 characters, or not printable ASCII and space) is 400 malformed-request, never exchanged")
    func codeShape() async throws {
        let harness = try await Self.harness()
        try await buildApplication(harness.components).test(.router) { client in
            let begun = try await Self.begin(client)
            for code in [String(repeating: "a", count: 2049), "%C2%98%C2%98", "a%09b", "a%00", "a%7Fb"] {
                try expectProblem(
                    try await Self.callback(client, state: begun.query["state"], cookie: begun.cookie, code: code), .badRequest, "malformed-request")
            }
            #expect(harness.endpoint.verifiers.isEmpty)
        }
    }

    @Test("the provider's error answer is 403 sign-in-denied; a token endpoint that refuses is 502 sign-in-provider-failed")
    func providerAnswers() async throws {
        let harness = try await Self.harness()
        try await buildApplication(harness.components).test(.router) { client in
            let begun = try await Self.begin(client)
            try expectProblem(
                try await Self.callback(client, state: begun.query["state"], cookie: begun.cookie, code: nil, error: "access_denied"),
                .forbidden, "sign-in-denied")
            // Some providers drop state from error answers; an error grants nothing, so it is believed.
            try expectProblem(
                try await Self.callback(client, state: nil, cookie: begun.cookie, code: nil, error: "access_denied"), .forbidden, "sign-in-denied")
            try expectProblem(
                try await Self.callback(client, state: begun.query["state"], cookie: begun.cookie, code: nil), .badRequest, "malformed-request")
            harness.endpoint.answer(with: nil)
            try expectProblem(
                try await Self.callback(client, state: begun.query["state"], cookie: begun.cookie), .badGateway, "sign-in-provider-failed")
        }
    }

    @Test("a browser that fails a sign-in gets the helper page naming the reason, with the failure's status")
    func failurePage() async throws {
        let harness = try await Self.harness()
        try await buildApplication(harness.components).test(.router) { client in
            let answer = try await Self.callback(client, state: "x", cookie: nil, html: true)
            #expect(answer.status == .badRequest)
            #expect(answer.headers[.contentType] == "text/html; charset=utf-8")
            #expect(answer.body.contains(#"<meta name="passby-sign-in-error" content="sign-in-expired">"#))
            #expect(!answer.body.contains(#"name="passby-sign-in" "#))
        }
    }

    @Test("without PASSBY_WEB_OIDC_* the routes do not exist and the page offers no provider sign-in")
    func unconfigured() async throws {
        for configured in [true, false] {
            let harness = try await Self.harness(configured: configured)
            try await buildApplication(harness.components).test(.router) { client in
                let helper = try json(try await client.send(.get, "/web/helper.json").body)
                #expect(helper["provider_sign_in"] as? Bool == configured)
                #expect((try await client.send(.get, "/web/sign-in").status == .notFound) == !configured)
            }
        }
    }
}
