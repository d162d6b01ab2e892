import Consent
import Foundation
import JWTKit
import Testing

/// Providers with their own claim names, RS256 and OpenID Connect's audience rules (issue 14's
/// first part): what a configured provider's ID token must say to be a real-name assertion.
@Suite("Real-name assertions: provider policies")
struct ProviderPolicyTests {
    /// A fixed 2048-bit test key, so no test waits for RSA key generation.
    static let pem = """
        -----BEGIN PRIVATE KEY-----
        MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDAM21wz6dsrZGa
        BvSPYF8wzXBoQorphy/9xEeofxm3bvIeRhdvyKnkFB3ap77ZFcHZUEh4AiVCX4LO
        2qmzk93z6s7rb8GR7CSDJkYfcgDhirGbpWzQRz3auX57576rtjhytpw2qV0R0TtF
        2pNORytpvbSZ60PmP2tzPSem8Q6flXbOOyyH20Lui3+/9Dm9kbSIPdaQrutQWndJ
        jk09GX0kdOe8Edx9Wio1l8yh5FvdbRo+L47p8rG0quD/qUk2NXDYz93wmcQtiIrR
        YStm3y+7rtRdnB7Mmbij2NwSTnf5Qpqj4cSReYFJQEtcyHe2Ui4TZt+J87t/vmh5
        jjWYgF1VAgMBAAECggEADqNcEHLK7jdXQYM0w76z6+7u7WHesTkp6d/gZ/Arhebz
        QGRXi0dIeSXMaEd3p5JFTfG+szUmn/l6PZrgazGLKUqW2841JedK7e96TmbLs7cb
        yR4+PValBVrfS+czLwy/xoIrP5aCj3AqCCtE0M9mz7TdDmP2qzs6nxo8l4sAcXLk
        6+WdEROCJT7JBYFM4zxzaAz7nX3TB2R0wKPSknvImDKMcZrCM2Mn/1tPLTgcofrh
        soG6FwR+AVNY5uSVZVHTuYq0LM6O9uYIjDHT7ZqHwub3kaEKnqt4+mjb5ksXXX/o
        xlr5692OOOa1wSbGQ926imb+uutvuQFjyYE1e/+jAQKBgQDgPezsgwww0axM9kuc
        zNoikwOpn0gQ/XmJt6499eBLgdU/04Vnx+T1NPByMkhOAxXHg3q4UfEPnwO5Ckc5
        JE1v9uI8E1nvsp067XY4aX2+xbKl+ZtpD+JNAz4qwhI0+UcrgD75QXITXbqdg1wF
        IkXnVGDUfpTPzeYt7UKdmI3YYQKBgQDba9Qzkk1zy+yoFnBP17jWJXy7Qy9doRqA
        O+tzuGq3xhdU0AFNT7vP5yW8Z6UfbFWPy2NCICGnQctsOpTBbpLpsrhxcD1p/4BI
        j7dhZIQlJpqSRVW78Nr/r/cQr5T5juBFaSDHnF+tDOFrHMpEjnDQ4Kijpn57UK47
        1e3jtWsZdQKBgHtlmFsOQkcbGpW/cxx2HhOokvtki2POGHOQgHHYO/VRHOhinabe
        eT/2QdqVkPRc/j8sOvvzG5RdDM9muIrZT0OtuBEXFQayY5Np2QRyCKBSalyrXroR
        45Y9kpg084/zHRbzG7ROL1g429iR0LGCirUh2acVgQ5ZX7EmPuI6cNQBAoGAWCCc
        4AG43fNfn7szbL4F3Oy9hjDby00zaaGnVZkSM7F6GXRZsYV+t2ftPhiat145l0Fn
        Il3pZlYEr/lvWalhlD9V2SntYK9gBMTEMHfAo3M3zdvPLWb1bpBsOOVsfjcmWHp6
        0fE6dDSiLPUpQBO9uAcjdGcgkcK72Ah6PWTWGSkCgYEApG2w7iHsGhAtk8nh5gMv
        poK3vg8vGHT0Mc65FEK0OciHo89wWBvwNpTUUmpa9hW/jWjWbx2AtcJeqT1RBaUS
        CZWUnaoYiuaRBSfv+QsGZBQVrqrmqujm2tNyEBENgbi3PGj4zazOKoe3SwWMjG48
        cwLB/HW3ABbFEtUBSoGQSds=
        -----END PRIVATE KEY-----
        """
    static let issuer = "https://idp.example"
    static let today = CivilDate(year: 2026, month: 11, day: 29)!
    static let now = Date(timeIntervalSince1970: 1_795_000_000)

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

    static func key() throws -> Insecure.RSA.PrivateKey { try Insecure.RSA.PrivateKey(pem: pem) }

    /// The provider's JWK set: its one RSA key, with or without a `kid`.
    static func jwks(kid: String? = "k1") throws -> String {
        let (modulus, exponent) = try key().publicKey.getKeyPrimitives()
        func b64(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let kidField = kid.map { #","kid":"\#($0)""# } ?? ""
        // A key for encryption beside it, as Keycloak publishes one: it must be skipped, not fail the set.
        return #"{"keys":[{"kty":"RSA","use":"enc","alg":"RSA-OAEP","n":"\#(b64(modulus))","e":"\#(b64(exponent))","kid":"enc"},"#
            + #"{"kty":"RSA","use":"sig","n":"\#(b64(modulus))","e":"\#(b64(exponent))"\#(kidField)}]}"#
    }

    static let policy = ProviderPolicy(
        audience: "passby", idNumberClaim: "national_id", nameClaim: "name", realName: .acr(["urn:example:real-name"]),
        dependentsClaim: nil, maxAgeSeconds: 600, algorithms: ["RS256", "PS256", "HS256", "none"])

    static func verifier(kid: String? = "k1", policy: ProviderPolicy = policy) async throws -> AssertionVerifier {
        try await AssertionVerifier(providers: [IdentityProvider(issuer: issuer, jwksJSON: try jwks(kid: kid), policy: policy)])
    }

    static func claims(_ changes: [String: JWTHeaderField] = [:]) -> Claims {
        let iat = Int(now.timeIntervalSince1970) - 30
        var fields: [String: JWTHeaderField] = [
            "iss": .string(issuer), "sub": .string("alice"), "aud": .array([.string("passby")]), "iat": .int(iat), "exp": .int(iat + 3600),
            "auth_time": .int(iat), "national_id": .string("440305199203040514"), "name": .string("刘洋"),
            "acr": .string("urn:example:real-name"),
        ]
        for (name, value) in changes { fields[name] = value }
        return Claims(fields)
    }

    static func sign(_ claims: Claims, kid: String? = "k1", pss: Bool = false) async throws -> String {
        let keys = JWTKeyCollection()
        if pss {
            await keys.add(pss: try key(), digestAlgorithm: .sha256, kid: kid.map(JWKIdentifier.init(string:)))
        } else {
            await keys.add(rsa: try key(), digestAlgorithm: .sha256, kid: kid.map(JWKIdentifier.init(string:)))
        }
        return try await keys.sign(claims, kid: kid.map(JWKIdentifier.init(string:)))
    }

    @Test("an RS256 or PS256 ID token with the provider's own claim names and an accepted acr is a real-name assertion")
    func mappedClaims() async throws {
        let verifier = try await Self.verifier()
        for pss in [false, true] {
            let person = try await verifier.verify(try await Self.sign(Self.claims(), pss: pss), now: Self.now, today: Self.today)
            #expect(person.id.normalized == "440305199203040514" && person.name == "刘洋" && person.issuer == Self.issuer)
            #expect(person.expiresAt == Int64(Self.now.timeIntervalSince1970) - 30 + 600, "cached no longer than max_age allows")
        }
    }

    @Test("each rule of the policy refuses with its own reason")
    func refusals() async throws {
        let verifier = try await Self.verifier()
        let past = Int(Self.now.timeIntervalSince1970) - 4000
        let cases: [([String: JWTHeaderField], AssertionRejection)] = [
            (["aud": .string("another-client")], .wrongAudience),
            (["aud": .array([.string("passby"), .string("another-client")])], .wrongAudience),
            (["acr": .string("urn:example:password-only")], .notRealNameVerified),
            (["acr": .null], .notRealNameVerified),
            (["auth_time": .int(past)], .tooOld),
            (["exp": .int(past), "iat": .int(past - 60), "auth_time": .int(past - 60)], .expired),
            (["iss": .string("https://other.example")], .untrustedIssuer),
            (["national_id": .string("440305199203040515")], .badIDNumber),
            // Issued to another client of the provider, though for Passby's audience.
            (["azp": .string("another-client")], .wrongAudience),
            // An access token of Keycloak's kind, not an ID token.
            (["typ": .string("Bearer")], .wrongAudience),
            // Numbers shaped to overflow, or not times at all: a malformed token, never a trap.
            (["auth_time": .int(Int.max - 1023)], .malformed),
            (["auth_time": .int(Int.min)], .malformed),
            (["auth_time": .string("yesterday")], .malformed),
            (["exp": .int(Int.max - 1023)], .malformed),
            (["iat": .int(-5)], .malformed),
            (["nbf": .decimal(1e300)], .malformed),
            (["auth_time": .int(Int(Self.now.timeIntervalSince1970) + 3600)], .notYetValid),
        ]
        for (changes, reason) in cases {
            let token = try await Self.sign(Self.claims(changes))
            await #expect(throws: reason, "\(changes)") { try await verifier.verify(token, now: Self.now, today: Self.today) }
        }
        // Several audiences are fine when `azp` says it was issued to Passby.
        let shared = Self.claims(["aud": .array([.string("passby"), .string("another-client")]), "azp": .string("passby")])
        #expect(try await verifier.verify(try await Self.sign(shared), now: Self.now, today: Self.today).subject == "alice")
    }

    @Test("none and HMAC are never accepted, even when a policy lists them; HS256 keyed with the public key is refused")
    func algorithms() async throws {
        let verifier = try await Self.verifier()
        let good = try await Self.sign(Self.claims())
        let payload = good.split(separator: ".")[1]
        func b64(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let none = b64(#"{"alg":"none","typ":"JWT","kid":"k1"}"#) + "." + payload + "."
        await #expect(throws: AssertionRejection.algorithmRefused) { try await verifier.verify(none, now: Self.now, today: Self.today) }
        // The classic confusion: HS256 with the provider's public key as the HMAC secret.
        let hmac = JWTKeyCollection()
        await hmac.add(hmac: HMACKey(from: Array(try Self.jwks().utf8)), digestAlgorithm: .sha256, kid: JWKIdentifier(string: "k1"))
        let confused = try await hmac.sign(Self.claims(), kid: JWKIdentifier(string: "k1"))
        await #expect(throws: AssertionRejection.algorithmRefused) { try await verifier.verify(confused, now: Self.now, today: Self.today) }
        #expect(!Self.policy.algorithms.contains("HS256") && !Self.policy.algorithms.contains("none"))
    }

    @Test("a token without kid is verified by the one key that fits its alg; an unknown kid is refused")
    func keyChoice() async throws {
        let verifier = try await Self.verifier(kid: nil)
        #expect(try await verifier.verify(try await Self.sign(Self.claims(), kid: nil), now: Self.now, today: Self.today).subject == "alice")
        let named = try await Self.verifier(kid: "k1")
        #expect(try await named.verify(try await Self.sign(Self.claims(), kid: nil), now: Self.now, today: Self.today).subject == "alice")
        let other = try await Self.sign(Self.claims(), kid: "k2")
        await #expect(throws: AssertionRejection.badSignature) { try await named.verify(other, now: Self.now, today: Self.today) }
    }

    /// Counts the fetches of a provider's key set and answers with whatever set it is given.
    actor KeySetServer {
        var fetches = 0
        var answer: Result<String, any Error>
        init(_ answer: Result<String, any Error>) { self.answer = answer }
        func fetch() throws -> (jwksJSON: String, maxAge: Int64) {
            fetches += 1
            return (try answer.get(), 300)
        }
        func set(_ answer: Result<String, any Error>) { self.answer = answer }
    }

    struct Unreachable: Error {}

    @Test("a key the set lacks is fetched again at once, at most every 30 s; a failed or empty fetch keeps the keys in hand")
    func refetch() async throws {
        // The provider rotated: Passby holds only an old set without the signing key.
        let server = KeySetServer(.success(try Self.jwks(kid: "k1")))
        let stale = #"{"keys":[]}"#
        let verifier = try await AssertionVerifier(providers: [
            IdentityProvider(issuer: Self.issuer, jwksJSON: stale, policy: Self.policy, refetch: { try await server.fetch() })
        ])
        let now = Date()
        func claims() -> Claims {
            let iat = Int(now.timeIntervalSince1970) - 10
            return Self.claims(["iat": .int(iat), "exp": .int(iat + 300), "auth_time": .int(iat)])
        }
        #expect(try await verifier.verify(try await Self.sign(claims()), now: now, today: Self.today).subject == "alice")
        #expect(await server.fetches == 1, "the missing key was fetched once")
        // Another unknown kid at once: no second fetch within 30 s, so a flood of forged kids costs the provider nothing.
        let forged = try await Self.sign(claims(), kid: "k9")
        await #expect(throws: AssertionRejection.badSignature) { try await verifier.verify(forged, now: now, today: Self.today) }
        #expect(await server.fetches == 1)
        // The provider goes down, or answers with nothing usable: the keys in hand go on verifying.
        await server.set(.failure(Unreachable()))
        let later = now.addingTimeInterval(31)
        await #expect(throws: AssertionRejection.badSignature) {
            try await verifier.verify(try await Self.sign(claims(), kid: "k8"), now: later, today: Self.today)
        }
        #expect(await server.fetches == 2)
        await server.set(.success(stale))
        let fresh = try await Self.sign(
            Self.claims([
                "iat": .int(Int(later.timeIntervalSince1970) - 5), "exp": .int(Int(later.timeIntervalSince1970) + 200),
                "auth_time": .int(Int(later.timeIntervalSince1970) - 5),
            ]))
        #expect(try await verifier.verify(fresh, now: later, today: Self.today).subject == "alice", "still verified by the keys in hand")
    }
}
