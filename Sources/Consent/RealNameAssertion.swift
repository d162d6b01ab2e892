import Crypto
import Database
import Foundation
import JWTKit

/// The claims of a real-name assertion: a JWS from a trusted identity provider saying who a person is.
public struct RealNameClaims: JWTPayload, Equatable {
    public var iss: String
    public var sub: String
    public var name: String
    /// The person's ID number. Personal data: it never leaves the verifier except as an `IdentityNumber`.
    public var idn: String
    /// Whether the provider verified the person under their real name.
    public var rnv: Bool
    public var iat: Int64
    public var exp: Int64
    /// Whom the assertion is for: a string or a list (RFC 7519). Passby requires its own audience.
    public var aud: AudienceClaim?
    /// ID numbers of the people the provider says this person is a guardian of (household-registry
    /// data). A registration for one of them is confirmed at once. Personal data, like `idn`.
    public var dependents: [String]?
    /// A unique id, so that two assertions minted in the same second differ.
    public var jti: String?

    public init(
        iss: String, sub: String, name: String, idn: String, rnv: Bool, iat: Int64, exp: Int64, aud: AudienceClaim? = nil,
        dependents: [String]? = nil, jti: String? = nil
    ) {
        self.jti = jti
        self.aud = aud
        self.dependents = dependents
        self.iss = iss
        self.sub = sub
        self.name = name
        self.idn = idn
        self.rnv = rnv
        self.iat = iat
        self.exp = exp
    }

    /// Time and flags are checked by `AssertionVerifier`, against its clock.
    public func verify(using algorithm: some JWTAlgorithm) throws {}
}

/// A person whose assertion verified.
public struct VerifiedPerson: Sendable, Equatable {
    public var id: IdentityNumber
    public var name: String
    public var issuer: String
    public var subject: String
    /// When the assertion expires (`exp`, Unix seconds).
    public var expiresAt: Int64
    /// The people the provider says this person is a guardian of; numbers that do not parse are dropped.
    public var dependents: [IdentityNumber]
    /// The `nonce` the token carries, if any: a sign-in checks it against the one it sent.
    public var nonce: String?

    public init(
        id: IdentityNumber, name: String, issuer: String, subject: String, expiresAt: Int64 = .max, dependents: [IdentityNumber] = [],
        nonce: String? = nil
    ) {
        self.id = id
        self.name = name
        self.issuer = issuer
        self.subject = subject
        self.expiresAt = expiresAt
        self.dependents = dependents
        self.nonce = nonce
    }
}

/// Why an assertion was refused; each is a 401 with this reason.
public enum AssertionRejection: String, Error, Sendable, CaseIterable {
    case missing = "assertion-missing"
    case malformed = "assertion-malformed"
    case untrustedIssuer = "assertion-untrusted-issuer"
    case badSignature = "assertion-bad-signature"
    case expired = "assertion-expired"
    /// Issued more than a minute in the future: the provider's clock or the assertion is wrong.
    case notYetValid = "assertion-not-yet-valid"
    case lifetimeTooLong = "assertion-lifetime-too-long"
    case notRealNameVerified = "assertion-not-verified"
    case badIDNumber = "assertion-bad-id-number"
    /// No `aud`, or one that does not name Passby's audience: the assertion was made for another service.
    case wrongAudience = "assertion-wrong-audience"
    /// The assertion was first sent through another API client: it was captured or passed on.
    case otherClient = "assertion-other-client"
    /// The header names an algorithm the provider is not trusted with (`none` and HMAC never are).
    case algorithmRefused = "assertion-algorithm-refused"
    /// The person signed in longer ago than the provider's `max_age_seconds`.
    case tooOld = "assertion-too-old"
}

/// An identity provider Passby trusts: its issuer name, its public keys (a JWK set) and what its
/// assertions must say (`policy`; nil means Passby's own claim names, EdDSA or ES256, and the
/// verifier's audience).
public struct IdentityProvider: Sendable {
    public var issuer: String
    public var jwksJSON: String
    public var policy: ProviderPolicy?
    /// How to fetch the keys again (a provider's `jwks_uri`), and how long the first set may be cached.
    public var refetch: KeySetFetch?
    public var maxAge: Int64

    public init(issuer: String, jwksJSON: String, policy: ProviderPolicy? = nil, refetch: KeySetFetch? = nil, maxAge: Int64 = 300) {
        self.issuer = issuer
        self.jwksJSON = jwksJSON
        self.policy = policy
        self.refetch = refetch
        self.maxAge = maxAge
    }
}

/// Verifies real-name assertions against the configured providers. The key that verifies must
/// belong to the provider the assertion names in `iss`; nothing else about the person is trusted.
public struct AssertionVerifier: Sendable {
    /// Longest lifetime (`exp - iat`) accepted.
    public static let maxLifetime: Int64 = 600
    /// The most `dependents` read from one assertion.
    public static let maxDependents = 16
    /// How far in the future `iat` may be, for providers whose clocks run ahead.
    public static let allowedClockSkew: Int64 = 60
    /// The audience assertions must name unless configured otherwise (`PASSBY_ASSERTION_AUDIENCE`).
    public static let defaultAudience = "passby"
    /// The audience every accepted assertion names in `aud`.
    public let audience: String
    private let providers: [String: (policy: ProviderPolicy, keys: ProviderKeyRing)]
    private let cache = AssertionCache()

    public init(providers: [IdentityProvider], audience: String = AssertionVerifier.defaultAudience) async throws {
        self.audience = audience
        var trusted: [String: (ProviderPolicy, ProviderKeyRing)] = [:]
        let now = Int64(Date().timeIntervalSince1970)
        for provider in providers {
            let policy = provider.policy ?? ProviderPolicy(audience: audience)
            let keys = await ProviderKeys.parse(jwksJSON: provider.jwksJSON, algorithms: policy.algorithms)
            trusted[provider.issuer] = (
                policy, ProviderKeyRing(keys: keys, algorithms: policy.algorithms, maxAge: provider.maxAge, fetch: provider.refetch, now: now)
            )
        }
        self.providers = trusted
    }

    public var issuers: [String] { providers.keys.sorted() }

    public func verify(_ token: String?, now: Date, today: CivilDate) async throws(AssertionRejection) -> VerifiedPerson {
        guard let token, !token.isEmpty else { throw .missing }
        let seconds = Int64(now.timeIntervalSince1970)
        let cacheKey = AssertionCache.key(token)
        if let person = cache.person(for: cacheKey, now: seconds) { return person }
        guard token.utf8.count <= 8192, let (header, unverified, _) = try? DefaultJWTParser().parse([UInt8](token.utf8), as: ProviderClaims.self),
            let issuer = unverified.string("iss")
        else { throw .malformed }
        guard let (policy, ring) = providers[issuer] else { throw .untrustedIssuer }
        guard let algorithm = header.alg, policy.algorithms.contains(algorithm) else { throw .algorithmRefused }
        ring.refreshIfStale(now: seconds)
        var claims = await Self.verified(token, kid: header.kid, algorithm: algorithm, keys: ring.keys)
        // A key the set lacks, or a kid-less token no key verifies, may come from a rotation: fetch
        // the set again (at most every 30 s) and try once more.
        if claims == nil, await ring.forceRefetch(now: seconds) {
            claims = await Self.verified(token, kid: header.kid, algorithm: algorithm, keys: ring.keys)
        }
        guard let claims else { throw .badSignature }
        guard let exp = claims.integer("exp"), let iat = claims.integer("iat") else { throw .malformed }
        guard claims.fields["auth_time"] == nil || claims.integer("auth_time") != nil, claims.fields["nbf"] == nil || claims.integer("nbf") != nil
        else { throw .malformed }
        // An access token, or any token of another kind, is no ID token (RFC 9068's typ; Keycloak's typ claim).
        guard header.typ?.lowercased() != "at+jwt", claims.string("typ").map({ $0 == "ID" }) ?? true else { throw .wrongAudience }
        let audiences = claims.audiences
        guard audiences.contains(policy.audience) else { throw .wrongAudience }
        // The party it was issued to must be Passby: with several audiences `azp` must say so, and
        // when present it must always (OpenID Connect Core 3.1.3.7).
        guard audiences.count == 1 || claims.string("azp") != nil, claims.string("azp").map({ $0 == policy.audience }) ?? true else {
            throw .wrongAudience
        }
        guard exp > seconds else { throw .expired }
        guard iat <= seconds + Self.allowedClockSkew, (claims.integer("nbf") ?? iat) <= seconds + Self.allowedClockSkew else {
            throw .notYetValid
        }
        var cachedUntil = exp
        if let maxAge = policy.maxAgeSeconds {
            let authenticated = claims.integer("auth_time") ?? iat
            guard authenticated <= seconds + Self.allowedClockSkew else { throw .notYetValid }
            guard seconds - authenticated <= maxAge else { throw .tooOld }
            cachedUntil = min(exp, authenticated + maxAge)
        } else {
            guard exp - iat <= Self.maxLifetime else { throw .lifetimeTooLong }
        }
        switch policy.realName {
        case .claim(let name): guard claims.flag(name) else { throw .notRealNameVerified }
        case .acr(let accepted): guard let acr = claims.string("acr"), accepted.contains(acr) else { throw .notRealNameVerified }
        }
        guard let number = claims.string(policy.idNumberClaim), let id = try? IdentityNumber(parsing: number, today: today) else {
            throw .badIDNumber
        }
        let name = PersonalData.normalizeName(claims.string(policy.nameClaim) ?? "")
        guard !name.isEmpty else { throw .malformed }
        let dependents = policy.dependentsClaim.map { claims.strings($0) } ?? []
        let person = VerifiedPerson(
            id: id, name: name, issuer: issuer, subject: claims.string("sub") ?? "", expiresAt: cachedUntil,
            dependents: dependents.prefix(Self.maxDependents).compactMap { try? IdentityNumber(parsing: $0, today: today) },
            nonce: claims.string("nonce"))
        cache.store(person, for: cacheKey, issuedAt: iat, expiresAt: cachedUntil, now: seconds)
        return person
    }

    /// The token's claims when the key its header picks verifies its signature.
    private static func verified(_ token: String, kid: String?, algorithm: String, keys: ProviderKeys) async -> ProviderClaims? {
        guard let key = keys.key(kid: kid, algorithm: algorithm) else { return nil }
        return try? await key.collection.verify(token, as: ProviderClaims.self)
    }

    /// How many (key, algorithm) pairs of a JWK set a provider's policy can verify with (nil: Passby's own format).
    public static func usableKeys(in jwksJSON: String, policy: ProviderPolicy?) async -> Int {
        await ProviderKeys.parse(jwksJSON: jwksJSON, algorithms: (policy ?? ProviderPolicy(audience: defaultAudience)).algorithms).keys.count
    }

    /// Each provider's keys: how many, and how old (for `/readyz`).
    public func keyStatus(now: Date) -> [(issuer: String, keys: Int, ageSeconds: Int64)] {
        providers.keys.sorted().map { issuer in
            let ring = providers[issuer]!.keys
            return (issuer, ring.keys.keys.count, ring.age(now: Int64(now.timeIntervalSince1970)))
        }
    }

    /// How many verified assertions are cached (for tests).
    var cachedCount: Int { cache.count }
}

/// The development identity provider: a key Passby makes on first run, so that demos and tests can
/// mint assertions (`passby dev assertion`). It is named as such and can be switched off.
public struct DevelopmentIdentityProvider: Sendable {
    public static let issuer = "passby-dev-idp"
    private let key: Curve25519.Signing.PrivateKey

    /// The provider's key this database holds, made on first use (an older
    /// `<data-dir>/dev-idp.key` is imported), so that every instance trusts what any mints.
    public static func load(from vault: KeyVault, dataDirectory: URL) async throws -> DevelopmentIdentityProvider {
        let raw = try await vault.secret(
            "dev-idp-key", existing: { try SecretFile.loadIfPresent(at: dataDirectory.appendingPathComponent("dev-idp.key"), length: 32) },
            create: { Curve25519.Signing.PrivateKey().rawRepresentation.map { $0 } })
        return DevelopmentIdentityProvider(key: try Curve25519.Signing.PrivateKey(rawRepresentation: raw))
    }

    public init(key: Curve25519.Signing.PrivateKey) { self.key = key }

    var kid: String { keyID(rawPublicKey: key.publicKey.rawRepresentation) }

    /// The provider as the verifier trusts it.
    public var provider: IdentityProvider {
        let x = base64URL(key.publicKey.rawRepresentation)
        let jwks = #"{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":"\#(kid)","x":"\#(x)"}]}"#
        return IdentityProvider(issuer: Self.issuer, jwksJSON: jwks)
    }

    /// Signs an assertion for a person, for `audience`, valid for `ttl` seconds (at most 600 are accepted).
    public func mint(
        name: String, idNumber: String, ttl: Int64 = 600, now: Date = Date(), realNameVerified: Bool = true,
        audience: String = AssertionVerifier.defaultAudience, dependents: [String] = []
    ) async throws -> String {
        let iat = Int64(now.timeIntervalSince1970)
        let claims = RealNameClaims(
            iss: Self.issuer, sub: "dev-" + String(idNumber.suffix(4)), name: name, idn: idNumber, rnv: realNameVerified,
            iat: iat, exp: iat + ttl, aud: AudienceClaim(value: [audience]), dependents: dependents.isEmpty ? nil : dependents,
            jti: UUID().uuidString.lowercased())
        let keys = await JWTKeyCollection().add(eddsa: EdDSA.PrivateKey(backing: key), kid: JWKIdentifier(string: kid))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }
}
