import Crypto
import Foundation

/// One public key as a JWK (RFC 7517/8037), as published at `/.well-known/passby-keys.json`.
public struct JWK: Codable, Sendable, Equatable {
    public var kty: String
    public var crv: String
    public var x: String
    public var y: String?
    public var kid: String
    public var alg: String
    public var use: String

    public init(_ key: VerificationKey, use: String = "sig") {
        switch key.material {
        case .ed25519(let publicKey):
            kty = "OKP"
            crv = "Ed25519"
            x = Base64URL.encode(publicKey.rawRepresentation)
            y = nil
        case .p256(let publicKey):
            let point = Array(publicKey.x963Representation)
            kty = "EC"
            crv = "P-256"
            x = Base64URL.encode(point[1..<33])
            y = Base64URL.encode(point[33..<65])
        }
        kid = Base64URL.encode(key.kid)
        alg = key.algorithm.rawValue
        self.use = use
    }

    /// The key this JWK describes, or nil when it is malformed, of another kind, or when its
    /// `kid` is not the one derived from its key (such a key is ignored, not trusted).
    public var verificationKey: VerificationKey? {
        let key: VerificationKey
        switch (kty, crv) {
        case ("OKP", "Ed25519"):
            guard let raw = Base64URL.decode(x), let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return nil }
            key = VerificationKey(.ed25519(publicKey))
        case ("EC", "P-256"):
            guard let xBytes = Base64URL.decode(x), let yBytes = y.flatMap(Base64URL.decode), xBytes.count == 32, yBytes.count == 32,
                let publicKey = try? P256.Signing.PublicKey(x963Representation: [0x04] + xBytes + yBytes)
            else { return nil }
            key = VerificationKey(.p256(publicKey))
        default:
            return nil
        }
        guard Base64URL.encode(key.kid) == kid, key.algorithm.rawValue == alg else { return nil }
        return key
    }
}

/// A JWK set: `{"keys": [...]}`.
public struct JWKSet: Codable, Sendable, Equatable {
    public var keys: [JWK]

    public init(keys: [JWK]) { self.keys = keys }

    /// The usable code-signing keys, by `kid`.
    public var verificationKeys: [[UInt8]: VerificationKey] {
        var result: [[UInt8]: VerificationKey] = [:]
        for jwk in keys where jwk.use == "sig" {
            if let key = jwk.verificationKey { result[key.kid] = key }
        }
        return result
    }
}
