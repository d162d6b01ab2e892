import CompressNIO
import Crypto
import Foundation
import NIOCore

/// One conformance case, as stored in `Tests/Conformance/<name>.json`.
public struct ConformanceCase: Codable, Sendable, Equatable {
    public struct Expected: Codable, Sendable, Equatable {
        /// The text decodes to a COSE_Sign1 with well-formed claims.
        public var decode: Bool
        /// A published key verifies the signature.
        public var verify: Bool
        /// Signature and time both check out.
        public var valid: Bool
        /// The claims' kind, when decodable.
        public var kind: String?
        /// The verdict, when not valid.
        public var reason: String?

        public init(decode: Bool, verify: Bool, valid: Bool, kind: String?, reason: String?) {
            self.decode = decode
            self.verify = verify
            self.valid = valid
            self.kind = kind
            self.reason = reason
        }
    }

    public var description: String
    public var code: String
    public var keys: JWKSet
    /// Unix seconds at which to verify.
    public var clock: Int64
    /// The skew the verifier allows on `iat` and `exp`.
    public var skew: Int64
    public var expected: Expected
}

/// Builds the conformance corpus from fixed test keys, in the manner of the EU's dgc-testdata.
///
/// Everything is deterministic except ES256 signatures: ECDSA signs with a random nonce, so those
/// cases get fresh (equally valid) signature bytes each time they are generated.
public enum ConformanceCorpus {
    public static let ed25519 = try! SigningKey(algorithm: .edDSA, rawPrivateKey: Array(repeating: 0x11, count: 32))
    public static let p256 = try! SigningKey(algorithm: .es256, rawPrivateKey: Array(repeating: 0x22, count: 32))
    public static let stranger = try! SigningKey(algorithm: .edDSA, rawPrivateKey: Array(repeating: 0x33, count: 32))
    static let iat: Int64 = 1_767_225_600  // 2026-01-01T00:00:00Z
    static let skew: Int64 = 2

    static func claims(_ kind: CodeKind, index: UInt8, ttl: Int64 = 10) -> CodeClaims {
        CodeClaims(
            issuer: "passby-conformance", issuedAt: iat, expiresAt: iat + ttl, codeID: Array(repeating: index, count: 16),
            kind: kind, maskedName: "王*英", maskedID: "1101**********002X", ageGroup: "elder",
            status: kind == .display ? "green" : nil, statusTime: kind == .display ? iat - 3600 : nil,
            generation: kind == .offline ? 3 : nil, subjectReference: kind == .offline ? [1, 2, 3, 4, 5, 6, 7, 8] : nil,
            extra: kind == .receipt ? ["grant": .text("example-grant"), "uses": .int(1)] : [:])
    }

    static func keys(_ keys: SigningKey...) -> JWKSet { JWKSet(keys: keys.map { JWK($0.publicKey) }) }
    static let bothKeys = keys(ed25519, p256)

    static func header(alg: Int64, kid: [UInt8]?) -> [UInt8] {
        var entries: [CBOR.Entry] = [.init(.int(1), .int(alg))]
        if let kid { entries.append(.init(.int(4), .bytes(kid))) }
        return CBOR.map(entries).encoded()
    }

    /// A COSE_Sign1 over `payload` with `header`, signed by `key` (whatever the header says).
    static func sign1(header: [UInt8], payload: [UInt8], key: SigningKey) -> [UInt8] {
        let signature = try! key.sign(COSESign1.signatureInput(protectedHeader: header, payload: payload))
        return COSESign1(protectedHeader: header, payload: payload, signature: signature).encoded()
    }

    static func zlib(_ bytes: [UInt8]) -> [UInt8] {
        var buffer = ByteBuffer(bytes: bytes)
        return Array(buffer: try! buffer.compress(with: .zlib()))
    }

    static func valid(_ kind: CodeKind) -> ConformanceCase.Expected {
        .init(decode: true, verify: true, valid: true, kind: kind.rawValue, reason: nil)
    }
    static let malformed = ConformanceCase.Expected(decode: false, verify: false, valid: false, kind: nil, reason: "malformed")
    static func refused(_ reason: Verdict, verify: Bool = false, kind: CodeKind = .display) -> ConformanceCase.Expected {
        .init(decode: true, verify: verify, valid: false, kind: kind.rawValue, reason: reason.rawValue)
    }

    /// Every case, by file name (without `.json`).
    public static func generate() -> [String: ConformanceCase] {
        var cases: [String: ConformanceCase] = [:]
        func add(
            _ name: String, _ description: String, _ code: String, keys: JWKSet = bothKeys, clock: Int64 = iat + 5,
            _ expected: ConformanceCase.Expected
        ) {
            cases[name] = ConformanceCase(description: description, code: code, keys: keys, clock: clock, skew: skew, expected: expected)
        }
        let display = claims(.display, index: 1)
        let payload = display.cbor.encoded()
        let good = try! CodeFormat.encode(display, with: ed25519)
        let goodCOSE = try! CodeFormat.unpack(good)

        // Valid codes.
        add("001-good-eddsa-display", "A display code signed with Ed25519", good, valid(.display))
        add(
            "002-good-es256-display", "A display code signed with ES256 (raw r||s)",
            try! CodeFormat.encode(claims(.display, index: 2), with: p256), valid(.display))
        add(
            "003-good-eddsa-offline", "An offline code with generation and subject reference",
            try! CodeFormat.encode(claims(.offline, index: 3, ttl: 365 * 86_400), with: ed25519), valid(.offline))
        add(
            "004-good-es256-offline", "An offline code signed with ES256",
            try! CodeFormat.encode(claims(.offline, index: 4, ttl: 365 * 86_400), with: p256), valid(.offline))
        add(
            "005-good-eddsa-receipt", "A signed consent receipt",
            try! CodeFormat.encode(claims(.receipt, index: 5, ttl: 86_400), with: ed25519), valid(.receipt))
        add("006-good-only-key-published", "Only the signing key is published", good, keys: keys(ed25519), valid(.display))

        // Time.
        add("010-expired", "Verified one second after exp + skew", good, clock: iat + 10 + skew + 1, refused(.expired, verify: true))
        add("011-expired-long-ago", "Verified an hour after expiry", good, clock: iat + 3600, refused(.expired, verify: true))
        add("012-not-yet-valid", "Verified one second before iat - skew", good, clock: iat - skew - 1, refused(.notYetValid, verify: true))
        add("013-edge-exp-plus-skew", "Verified exactly at exp + skew: still valid", good, clock: iat + 10 + skew, valid(.display))
        add("014-edge-iat-minus-skew", "Verified exactly at iat - skew: already valid", good, clock: iat - skew, valid(.display))
        add("015-edge-exp", "Verified exactly at exp", good, clock: iat + 10, valid(.display))

        // Text layers.
        add("020-wrong-prefix", "The EU's HC1: prefix instead of PB1:", "HC1:" + good.dropFirst(4), malformed)
        add("021-lowercase-prefix", "The prefix in lower case", "pb1:" + good.dropFirst(4), malformed)
        add("022-no-prefix", "Base45 without any prefix", String(good.dropFirst(4)), malformed)
        add("023-bad-base45-character", "A character outside the Base45 alphabet", good.prefix(20) + "a" + good.dropFirst(21), malformed)
        add("024-bad-base45-length", "A dangling Base45 character", good + "A", malformed)
        add("025-bad-zlib", "Base45 of bytes that are not zlib", "PB1:" + Base45.encode(Array(payload.prefix(40))), malformed)
        add(
            "026-zlib-trailing-bytes", "Bytes after the end of the zlib stream",
            "PB1:" + Base45.encode(zlib(goodCOSE) + [0, 1, 2]), malformed)
        add("027-oversized", "An input over 4096 characters", "PB1:" + String(repeating: "0", count: 4500), malformed)

        // COSE layer.
        guard case .tagged(_, let content) = try! CBORDecoder.decode(goodCOSE) else { fatalError("corpus: good code did not decode") }
        add("030-not-tag-18", "An untagged COSE_Sign1 array", CodeFormat.pack(content.encoded()), malformed)
        add("031-tag-98", "Tag 98 (COSE_Sign) instead of 18", CodeFormat.pack(CBOR.tagged(98, content).encoded()), malformed)
        if case .array(let parts) = content {
            add(
                "032-three-elements", "A COSE_Sign1 array with three elements",
                CodeFormat.pack(CBOR.tagged(18, .array(Array(parts.prefix(3)))).encoded()), malformed)
        }
        add(
            "033-no-kid", "A protected header without kid",
            CodeFormat.pack(sign1(header: header(alg: -8, kid: nil), payload: payload, key: ed25519)), malformed)
        add("034-trailing-cbor", "Bytes after the COSE structure", CodeFormat.pack(goodCOSE + [0x00]), malformed)
        let indefinite: [UInt8] = [0xD2, 0x9F] + Array(goodCOSE.dropFirst(2)) + [0xFF]
        add("035-indefinite-length", "The COSE array in indefinite-length encoding", CodeFormat.pack(indefinite), malformed)
        var duplicate = display.cbor
        if case .map(var entries) = duplicate {
            entries.append(.init(.int(1), .text("second-issuer")))
            duplicate = .map(entries)
        }
        add(
            "036-duplicate-claim", "A payload with the issuer claim twice, correctly signed",
            CodeFormat.pack(sign1(header: header(alg: -8, kid: ed25519.kid), payload: duplicate.encoded(), key: ed25519)), malformed)
        let noPrivateClaim = CBOR.map([
            .init(.int(1), .text("passby-conformance")), .init(.int(6), .int(iat)), .init(.int(4), .int(iat + 10)),
            .init(.int(7), .bytes(Array(repeating: 9, count: 16))),
        ])
        add(
            "037-missing-private-claim", "A correctly signed payload without claim -70001",
            CodeFormat.pack(sign1(header: header(alg: -8, kid: ed25519.kid), payload: noPrivateClaim.encoded(), key: ed25519)), malformed)

        // Keys and signatures.
        add(
            "040-unknown-kid", "Signed by a key that is not published",
            try! CodeFormat.encode(display, with: stranger), refused(.unknownKey))
        add(
            "041-kid-names-another-key", "The header names a published key, but another key signed",
            CodeFormat.pack(sign1(header: header(alg: -8, kid: ed25519.kid), payload: payload, key: stranger)), refused(.badSignature))
        var lyingJWK = JWK(stranger.publicKey)
        lyingJWK.kid = Base64URL.encode(ed25519.kid)
        add(
            "042-jwk-kid-mismatch", "The published JWK claims the signer's kid but holds another key", good,
            keys: JWKSet(keys: [lyingJWK]), refused(.unknownKey))
        add(
            "043-algorithm-not-allowed", "alg ES384 (-35), which verifiers must refuse",
            CodeFormat.pack(sign1(header: header(alg: -35, kid: ed25519.kid), payload: payload, key: ed25519)), refused(.badSignature))
        add(
            "044-algorithm-key-mismatch", "alg ES256 on an Ed25519 key",
            CodeFormat.pack(sign1(header: header(alg: -7, kid: ed25519.kid), payload: payload, key: ed25519)), refused(.badSignature))
        var altered = display
        altered.status = "red"
        let original = try! COSESign1.parse(goodCOSE)
        add(
            "045-tampered-payload", "The status changed from green to red after signing",
            CodeFormat.pack(
                COSESign1(protectedHeader: original.protectedHeader, payload: altered.cbor.encoded(), signature: original.signature).encoded()),
            refused(.badSignature))
        var flipped = original.signature
        flipped[10] ^= 0x01
        add(
            "046-tampered-signature", "One bit of the signature flipped",
            CodeFormat.pack(COSESign1(protectedHeader: original.protectedHeader, payload: original.payload, signature: flipped).encoded()),
            refused(.badSignature))
        if case .p256(let key) = p256.material {
            let input = COSESign1.signatureInput(protectedHeader: header(alg: -7, kid: p256.kid), payload: payload)
            let der = Array(try! key.signature(for: input).derRepresentation)
            add(
                "047-es256-der-signature", "An ES256 signature in DER instead of raw r||s",
                CodeFormat.pack(COSESign1(protectedHeader: header(alg: -7, kid: p256.kid), payload: payload, signature: der).encoded()),
                refused(.badSignature))
        }
        add(
            "048-empty-signature", "An empty signature",
            CodeFormat.pack(COSESign1(protectedHeader: original.protectedHeader, payload: original.payload, signature: []).encoded()),
            refused(.badSignature))
        add("049-no-keys", "An empty key set", good, keys: JWKSet(keys: []), refused(.unknownKey))
        return cases
    }
}
