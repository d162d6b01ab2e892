import Foundation
import JWTKit
import Synchronization

/// What one identity provider's assertions must say, and under which claim names. Passby's own
/// names (`idn`, `name`, `rnv`) are the default; an OpenID Connect provider maps its own.
public struct ProviderPolicy: Sendable, Equatable {
    /// How the provider says it verified the person under their real name.
    public enum RealNameCheck: Sendable, Equatable {
        /// A claim that must be `true` (or 1).
        case claim(String)
        /// `acr` must be one of these values.
        case acr([String])
    }

    /// The audience `aud` must contain; with several audiences, `azp` must be it.
    public var audience: String
    public var idNumberClaim: String
    public var nameClaim: String
    public var realName: RealNameCheck
    public var dependentsClaim: String?
    /// The longest accepted age from `auth_time` (or `iat`). When nil, an assertion may live at
    /// most `AssertionVerifier.maxLifetime` from `iat` to `exp`, as Passby's own format requires.
    public var maxAgeSeconds: Int64?
    /// The JWS algorithms accepted; `none` and HMAC never are.
    public var algorithms: Set<String>

    /// Every algorithm an asymmetric key can verify here.
    public static let asymmetricAlgorithms: Set<String> = ["RS256", "PS256", "ES256", "EdDSA"]

    public init(
        audience: String, idNumberClaim: String = "idn", nameClaim: String = "name", realName: RealNameCheck = .claim("rnv"),
        dependentsClaim: String? = "dependents", maxAgeSeconds: Int64? = nil, algorithms: Set<String> = ["EdDSA", "ES256"]
    ) {
        self.audience = audience
        self.idNumberClaim = idNumberClaim
        self.nameClaim = nameClaim
        self.realName = realName
        self.dependentsClaim = dependentsClaim
        self.maxAgeSeconds = maxAgeSeconds
        self.algorithms = algorithms.intersection(Self.asymmetricAlgorithms)
    }
}

/// An assertion's claims as sent, under whatever names its provider uses.
struct ProviderClaims: JWTPayload {
    let fields: [String: JWTHeaderField]

    init(from decoder: any Decoder) throws {
        fields = try decoder.singleValueContainer().decode([String: JWTHeaderField].self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fields)
    }

    /// Times and names are checked by `AssertionVerifier`, against its clock and the provider's policy.
    func verify(using algorithm: some JWTAlgorithm) throws {}

    func string(_ name: String) -> String? { fields[name]?.asString }
    /// A time claim: whole seconds from 1970 up to 2^40 (the year 36812), nothing else, so no
    /// arithmetic on it can overflow however the provider shaped it.
    func integer(_ name: String) -> Int64? {
        let value: Int64? =
            switch fields[name] {
            case .int(let value): Int64(value)
            case .decimal(let value) where value.isFinite && value >= 0 && value < 1_099_511_627_776: Int64(value.rounded(.down))
            default: nil
            }
        guard let value, (0...1_099_511_627_776).contains(value) else { return nil }
        return value
    }
    func flag(_ name: String) -> Bool {
        switch fields[name] {
        case .bool(let value): value
        case .int(let value): value == 1
        default: false
        }
    }
    /// `aud` as RFC 7519 allows it: one string or a list of strings.
    var audiences: [String] {
        switch fields["aud"] {
        case .string(let value): [value]
        case .array(let values): values.compactMap(\.asString)
        default: []
        }
    }
    func strings(_ name: String) -> [String] { fields[name]?.asArray?.compactMap(\.asString) ?? [] }
}

/// One provider's verification keys: each key once per algorithm it can verify, so that the
/// algorithm a token names picks the key, never the other way round.
struct ProviderKeys: Sendable {
    struct Key: Sendable {
        var kid: String?
        var algorithm: String
        var collection: JWTKeyCollection
    }

    var keys: [Key] = []

    /// Reads a JWK set leniently: keys that are not for signatures, of a kind Passby does not
    /// verify, or that do not decode are skipped, so one odd key does not cost the provider the rest.
    static func parse(jwksJSON: String, algorithms: Set<String>) async -> ProviderKeys {
        guard let data = jwksJSON.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let entries = object["keys"] as? [[String: Any]]
        else { return ProviderKeys() }
        var result = ProviderKeys()
        for entry in entries {
            if let use = entry["use"] as? String, use != "sig" { continue }
            if entry["d"] != nil { continue }  // a private key has no place in a published set
            guard let raw = try? JSONSerialization.data(withJSONObject: entry),
                var jwk = try? JSONDecoder().decode(JWK.self, from: raw)
            else { continue }
            let kid = entry["kid"] as? String
            let fitting: [String] =
                switch (jwk.keyType, jwk.curve?.rawValue) {
                case (.rsa, _): ["RS256", "PS256"]
                case (.ecdsa, "P-256"): ["ES256"]
                case (.octetKeyPair, "Ed25519"): ["EdDSA"]
                default: []
                }
            // A key that names its algorithm verifies that one only.
            let named = (entry["alg"] as? String).map { [$0] } ?? fitting
            for algorithm in named where fitting.contains(algorithm) && algorithms.contains(algorithm) {
                jwk.algorithm = JWK.Algorithm(rawValue: algorithm)
                jwk.keyIdentifier = JWKIdentifier(string: "key")
                guard jwk.algorithm != nil, let collection = try? await JWTKeyCollection().add(jwk: jwk) else { continue }
                result.keys.append(Key(kid: kid, algorithm: algorithm, collection: collection))
            }
        }
        return result
    }

    /// The key for a token's header: by `kid`, or without one the single key that fits `alg`.
    func key(kid: String?, algorithm: String) -> Key? {
        let fitting = keys.filter { $0.algorithm == algorithm }
        if let kid { return fitting.first { $0.kid == kid } }
        return fitting.count == 1 ? fitting[0] : nil
    }
}

/// Where a provider's keys come from when they are fetched again: its JWK set and how long it
/// may be cached. Consent knows nothing of HTTP; `LookupAPI` supplies the fetch.
public typealias KeySetFetch = @Sendable () async throws -> (jwksJSON: String, maxAge: Int64)

/// A provider's keys as they are now, refetched in the background once they are older than the
/// set's cache lifetime and at once (at most every 30 s) for a key the set does not hold. A
/// failed fetch keeps the keys Passby has: a provider that is down does not stop lookups.
final class ProviderKeyRing: Sendable {
    static let forcedRefetchInterval: Int64 = 30

    struct State {
        var keys: ProviderKeys
        /// When the keys in hand were fetched (or read): `/readyz` shows their true age.
        var fetchedAt: Int64
        var maxAge: Int64
        var lastForcedFetch: Int64?
        var refreshing = false
        /// After a failed background fetch, the next one waits until then.
        var retryAt: Int64?
    }

    let algorithms: Set<String>
    let fetch: KeySetFetch?
    private let state: Mutex<State>

    init(keys: ProviderKeys, algorithms: Set<String>, maxAge: Int64, fetch: KeySetFetch?, now: Int64) {
        self.algorithms = algorithms
        self.fetch = fetch
        state = Mutex(State(keys: keys, fetchedAt: now, maxAge: maxAge))
    }

    var keys: ProviderKeys { state.withLock { $0.keys } }

    /// Seconds since the keys were last fetched (or read).
    func age(now: Int64) -> Int64 { state.withLock { now - $0.fetchedAt } }

    /// Starts a background refetch when the keys are past their cache lifetime.
    func refreshIfStale(now: Int64) {
        guard let fetch else { return }
        let started = state.withLock { state -> Int64? in
            guard !state.refreshing, now - state.fetchedAt >= state.maxAge, now >= (state.retryAt ?? now) else { return nil }
            state.refreshing = true
            return state.fetchedAt
        }
        guard let started else { return }
        Task {
            let fetched = try? await fetch()
            var keys: ProviderKeys?
            if let fetched { keys = await ProviderKeys.parse(jwksJSON: fetched.jwksJSON, algorithms: algorithms) }
            // A set with no usable key is a failed fetch: the keys in hand stay.
            if keys?.keys.isEmpty == true { keys = nil }
            let result = keys
            state.withLock { state in
                state.refreshing = false
                // A failed fetch is tried again after a forced-refetch interval, not on every request.
                guard let fetched, let result else {
                    state.retryAt = now + Self.forcedRefetchInterval
                    return
                }
                // A forced refetch may have brought newer keys meanwhile: never replace them with older ones.
                guard state.fetchedAt == started else { return }
                (state.keys, state.fetchedAt, state.maxAge, state.retryAt) = (result, now, fetched.maxAge, nil)
            }
        }
    }

    /// Fetches the set at once for a key it lacks, unless that was done less than 30 s ago.
    /// Returns whether the keys changed.
    func forceRefetch(now: Int64) async -> Bool {
        guard let fetch else { return false }
        let allowed = state.withLock { state -> Bool in
            if let last = state.lastForcedFetch, now - last < Self.forcedRefetchInterval { return false }
            state.lastForcedFetch = now
            return true
        }
        guard allowed, let fetched = try? await fetch() else { return false }
        let keys = await ProviderKeys.parse(jwksJSON: fetched.jwksJSON, algorithms: algorithms)
        guard !keys.keys.isEmpty else { return false }
        state.withLock { state in (state.keys, state.fetchedAt, state.maxAge, state.retryAt) = (keys, now, fetched.maxAge, nil) }
        return true
    }
}
