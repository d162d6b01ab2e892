/// The outcome of verifying a code.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    case valid, malformed
    case unknownKey = "unknown-key"
    case badSignature = "bad-signature"
    case expired
    case notYetValid = "not-yet-valid"
    case wrongKind = "wrong-kind"
    /// An offline code of an earlier generation (checked by the caller, which knows the current one).
    case replaced
}

/// Verifies codes: decode, find the key by `kid`, check the algorithm against the allow-list and
/// the key, check the signature, then `iat` and `exp` with a skew.
///
/// A code is valid while `iat - skew <= now <= exp + skew` (whole seconds).
public struct CodeVerifier: Sendable {
    public var keys: [[UInt8]: VerificationKey]
    public var skew: Int64
    public var acceptedKinds: Set<CodeKind>

    public init(keys: [[UInt8]: VerificationKey], skew: Int64 = 2, acceptedKinds: Set<CodeKind> = [.display, .offline]) {
        self.keys = keys
        self.skew = skew
        self.acceptedKinds = acceptedKinds
    }

    public struct Result: Sendable, Equatable {
        public var verdict: Verdict
        /// The claims, when the code could be decoded (even if it is not valid).
        public var claims: CodeClaims?
        /// For `malformed`: what was wrong.
        public var failure: CodeFormat.DecodeFailure?
    }

    public func verify(_ text: String, now: Int64) -> Result {
        let decoded: CodeFormat.Decoded
        do {
            decoded = try CodeFormat.decode(text)
        } catch {
            return Result(verdict: .malformed, claims: nil, failure: error)
        }
        let claims = decoded.claims
        func result(_ verdict: Verdict) -> Result { Result(verdict: verdict, claims: claims, failure: nil) }
        guard let kid = decoded.message.kid, let key = keys[kid] else { return result(.unknownKey) }
        guard let algorithmID = decoded.message.algorithm, let algorithm = CodeAlgorithm(coseIdentifier: algorithmID),
            algorithm == key.algorithm
        else { return result(.badSignature) }
        guard key.isValidSignature(decoded.message.signature, for: decoded.message.signatureInput) else {
            return result(.badSignature)
        }
        guard acceptedKinds.contains(claims.kind) else { return result(.wrongKind) }
        if now < claims.issuedAt - skew { return result(.notYetValid) }
        if now > claims.expiresAt + skew { return result(.expired) }
        return result(.valid)
    }
}
