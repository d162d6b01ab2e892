import Consent
import Crypto
import Display
import Foundation

/// Exchanges an authorization code at the provider's token endpoint for its ID token.
protocol IDTokenExchange: Sendable {
    /// The `id_token` of the provider's token response, or `SignInFailure.provider` when the
    /// provider refuses the code or cannot be reached.
    func idToken(code: String, codeVerifier: String) async throws(SignInFailure) -> String
}

/// Why a sign-in through the provider did not complete; each is a stable reason.
enum SignInFailure: String, Error, Sendable {
    /// No sign-in is under way in this browser, or it began more than 10 minutes ago, or its cookie was altered.
    case expired = "sign-in-expired"
    /// The callback's `state` is not the one this browser's sign-in sent: another tab, or a forged link.
    case stateMismatch = "sign-in-state-mismatch"
    /// The provider answered with an error instead of a code, for example the person cancelled.
    case denied = "sign-in-denied"
    /// The provider's token endpoint refused the code or could not be reached.
    case provider = "sign-in-provider-failed"
    /// The ID token does not carry the `nonce` this sign-in sent: a token from another sign-in.
    case nonceMismatch = "sign-in-nonce-mismatch"
}

/// What `/helper`'s sign-in through an OpenID provider is configured with, found at start-up.
struct WebSignInProvider: Sendable {
    var issuer: String
    var clientID: String
    var redirectURI: String
    var scope: String
    var authorizationEndpoint: String
    /// Sent as `max_age`, so that the provider asks again when its session is older than Passby accepts.
    var maxAgeSeconds: Int64?
    var exchange: any IDTokenExchange

    /// Whether the sign-in cookie is `Secure`: when Passby is reached over HTTPS.
    var secureCookie: Bool { redirectURI.lowercased().hasPrefix("https:") }
}

/// The helper page's sign-in through an OpenID provider: the authorization-code flow with PKCE,
/// Passby a confidential client.
///
/// It keeps nothing on the server. What a sign-in must remember between the redirect to the
/// provider and the callback (`state`, `nonce`, the PKCE verifier and a deadline) travels in one
/// cookie, sealed with AES-GCM under a key derived from the server secret, so it can be neither
/// read nor made by anyone else. The ID token goes from the token endpoint to the page's memory:
/// never into a URL, a log, a table or browser storage.
struct ProviderSignIn: Sendable {
    /// How long a sign-in may take, from the redirect to the callback.
    static let lifetime: Int64 = 600
    static let cookieName = "passby_sign_in"
    /// The cookie's path: both routes, nothing else.
    static let cookiePath = "/web/sign-in"
    static let callbackPath = "/web/sign-in/callback"

    let provider: WebSignInProvider
    let identities: Identities
    let clock: any PassbyClock

    init(provider: WebSignInProvider, identities: Identities, clock: any PassbyClock) {
        self.provider = provider
        self.identities = identities
        self.clock = clock
    }

    /// Under the server secret's current version first: a cookie sealed just before a rotation still opens.
    private var sealingKeys: [SymmetricKey] {
        identities.personalData.derivedSecrets(for: "web-sign-in-cookie").map { SymmetricKey(data: $0) }
    }

    /// A sign-in that has begun: where to send the browser, and the sealed cookie to set.
    struct Started: Sendable {
        var location: String
        var cookie: String
    }

    /// A sign-in that completed: the ID token, for the page's memory, and the masked ID number to show.
    struct SignedIn: Sendable {
        var assertion: String
        var maskedID: String
    }

    /// What the sealed cookie holds.
    struct PendingSignIn: Codable, Equatable {
        var state: String
        var nonce: String
        var verifier: String
        var expiresAt: Int64
    }

    /// Begins a sign-in: fresh `state`, `nonce` and PKCE verifier, sealed into the cookie.
    func begin() -> Started {
        let pending = PendingSignIn(
            state: Self.randomText(), nonce: Self.randomText(), verifier: Self.randomText(),
            expiresAt: clock.now().unixSeconds + Self.lifetime)
        let challenge = Base64URL.encode(Array(SHA256.hash(data: Array(pending.verifier.utf8))))
        var query = [
            ("response_type", "code"), ("client_id", provider.clientID), ("redirect_uri", provider.redirectURI),
            ("scope", provider.scope), ("state", pending.state), ("nonce", pending.nonce),
            ("code_challenge", challenge), ("code_challenge_method", "S256"),
        ]
        if let maxAge = provider.maxAgeSeconds { query.append(("max_age", String(maxAge))) }
        let encoded = query.map { "\($0)=\(Self.formEncoded($1))" }.joined(separator: "&")
        let separator = provider.authorizationEndpoint.contains("?") ? "&" : "?"
        return Started(location: provider.authorizationEndpoint + separator + encoded, cookie: seal(pending))
    }

    /// Completes a sign-in at the callback: the cookie must be this server's and fresh, `state`
    /// must match, the code is exchanged (with the verifier), and the ID token must verify as a
    /// real-name assertion of this provider carrying this sign-in's `nonce`.
    func complete(code: String?, state: String?, error: String?, cookie: String?) async throws -> SignedIn {
        let now = clock.now()
        guard let cookie, let pending = open(cookie), pending.expiresAt > now.unixSeconds else { throw Refusal.signIn(.expired) }
        // An error ends the sign-in and grants nothing, so it is believed even without `state`
        // (some providers drop it from error answers, against RFC 6749 4.1.2.1); a wrong state is not.
        if error != nil, state.map({ Self.equal($0, pending.state) }) ?? true { throw Refusal.signIn(.denied) }
        guard let state, Self.equal(state, pending.state) else { throw Refusal.signIn(.stateMismatch) }
        // RFC 6749 codes are VSCHAR (printable ASCII and space); openapi.yaml bounds them so a request head stays small.
        guard let code, (1...2048).contains(code.utf8.count), code.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw Refusal.malformedRequest("the callback carries no code")
        }
        let token: String
        do {
            token = try await provider.exchange.idToken(code: code, codeVerifier: pending.verifier)
        } catch {
            throw Refusal.signIn(error)
        }
        let person = try await identities.verifiedPerson(assertion: token, at: now)
        // The token endpoint is the configured provider's; a token naming another issuer is none of its own.
        guard person.issuer == provider.issuer else { throw Refusal.assertion(.untrustedIssuer) }
        guard let nonce = person.nonce, Self.equal(nonce, pending.nonce) else { throw Refusal.signIn(.nonceMismatch) }
        return SignedIn(assertion: token, maskedID: person.id.masked)
    }

    func seal(_ pending: PendingSignIn) -> String {
        // Encoding four plain fields cannot fail; sealing with a 256-bit key cannot either.
        let plain = (try? JSONEncoder().encode(pending)) ?? Data()
        let box = try? AES.GCM.seal(plain, using: sealingKeys[0], authenticating: Array(Self.cookieName.utf8))
        return Base64URL.encode(box?.combined ?? Data())
    }

    func open(_ cookie: String) -> PendingSignIn? {
        guard cookie.utf8.count <= 1024, let bytes = Base64URL.decode(cookie), let box = try? AES.GCM.SealedBox(combined: bytes),
            let plain = sealingKeys.lazy.compactMap({ try? AES.GCM.open(box, using: $0, authenticating: Array(Self.cookieName.utf8)) }).first
        else { return nil }
        return try? JSONDecoder().decode(PendingSignIn.self, from: plain)
    }

    /// 32 random bytes, base64url: a `state`, a `nonce`, or a PKCE verifier (43 characters, RFC 7636).
    static func randomText() -> String {
        Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// Compares in time that does not depend on where the texts differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// `application/x-www-form-urlencoded`, strictly: everything but unreserved characters escaped.
    static func formEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
