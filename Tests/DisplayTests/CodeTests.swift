import Crypto
import Display
import Foundation
import PassbyTestSupport
import Testing

/// Fixed keys, so that failures repeat.
enum TestKeys {
    static let ed25519 = try! SigningKey(algorithm: .edDSA, rawPrivateKey: Array(repeating: 1, count: 32))
    static let p256 = try! SigningKey(algorithm: .es256, rawPrivateKey: Array(repeating: 2, count: 32))
    static let other = try! SigningKey(algorithm: .edDSA, rawPrivateKey: Array(repeating: 3, count: 32))

    static func claims(kind: CodeKind = .display, iat: Int64 = 1_800_000_000, ttl: Int64 = 10) -> CodeClaims {
        CodeClaims(
            issuer: "passby-test", issuedAt: iat, expiresAt: iat + ttl, codeID: Array(repeating: 7, count: 16), kind: kind,
            maskedName: "王*英", maskedID: "1101**********002X", ageGroup: "elder",
            status: kind == .display ? "green" : nil, statusTime: kind == .display ? iat - 60 : nil,
            generation: kind == .offline ? 1 : nil, subjectReference: kind == .offline ? Array(repeating: 9, count: 8) : nil)
    }

    static func verifier(_ keys: SigningKey...) -> CodeVerifier {
        CodeVerifier(keys: Dictionary(uniqueKeysWithValues: keys.map { ($0.kid, $0.publicKey) }))
    }
}

@Suite("Codes: signing, decoding, verification", .timeLimit(.minutes(5)))
struct CodeTests {
    @Test("kid is the first 8 bytes of SHA-256 of the raw public key")
    func kid() {
        let ed = TestKeys.ed25519.publicKey
        #expect(ed.kid == Array(SHA256.hash(data: ed.rawPublicKey).prefix(8)))
        #expect(ed.rawPublicKey.count == 32)
        let p = TestKeys.p256.publicKey
        #expect(p.rawPublicKey.count == 65 && p.rawPublicKey[0] == 0x04)
        #expect(p.kid == Array(SHA256.hash(data: p.rawPublicKey).prefix(8)))
    }

    @Test("a code round-trips for both algorithms and every kind", arguments: [CodeAlgorithm.edDSA, .es256], CodeKind.allCases)
    func roundTrip(_ algorithm: CodeAlgorithm, _ kind: CodeKind) throws {
        let key = algorithm == .edDSA ? TestKeys.ed25519 : TestKeys.p256
        let claims = TestKeys.claims(kind: kind)
        let code = try CodeFormat.encode(claims, with: key)
        #expect(code.hasPrefix("PB1:"))
        let decoded = try CodeFormat.decode(code)
        #expect(decoded.claims == claims)
        #expect(decoded.message.kid == key.kid)
        #expect(decoded.message.algorithm == algorithm.coseIdentifier)
        var verifier = TestKeys.verifier(key)
        verifier.acceptedKinds = Set(CodeKind.allCases)
        #expect(verifier.verify(code, now: claims.issuedAt).verdict == .valid)
    }

    @Test("a display code verifies until 10 s + skew after iat, on a fixed clock")
    func expiry() throws {
        let claims = TestKeys.claims()
        let code = try CodeFormat.encode(claims, with: TestKeys.ed25519)
        let verifier = TestKeys.verifier(TestKeys.ed25519)
        let iat = claims.issuedAt
        #expect(verifier.verify(code, now: iat - 3).verdict == .notYetValid)
        #expect(verifier.verify(code, now: iat - 2).verdict == .valid)
        #expect(verifier.verify(code, now: iat + 10).verdict == .valid)
        #expect(verifier.verify(code, now: iat + 12).verdict == .valid)
        #expect(verifier.verify(code, now: iat + 13).verdict == .expired)
        var strict = verifier
        strict.skew = 0
        #expect(strict.verify(code, now: iat + 11).verdict == .expired)
    }

    @Test("unknown keys, foreign signatures, tampering and wrong kinds are told apart")
    func negativeVerdicts() throws {
        let claims = TestKeys.claims()
        let code = try CodeFormat.encode(claims, with: TestKeys.ed25519)
        #expect(TestKeys.verifier(TestKeys.other).verify(code, now: claims.issuedAt).verdict == .unknownKey)

        // Header names the published key, but another key signed.
        let forged = try COSESign1.sign(payload: claims.cbor.encoded(), with: TestKeys.other)
        let lying = COSESign1(
            protectedHeader: CBOR.map([.init(.int(1), .int(-8)), .init(.int(4), .bytes(TestKeys.ed25519.kid))]).encoded(),
            payload: forged.payload, signature: forged.signature)
        #expect(TestKeys.verifier(TestKeys.ed25519).verify(CodeFormat.pack(lying.encoded()), now: claims.issuedAt).verdict == .badSignature)

        // The payload changed after signing.
        var altered = TestKeys.claims()
        altered.status = "red"
        let original = try COSESign1.sign(payload: claims.cbor.encoded(), with: TestKeys.ed25519)
        let tampered = COSESign1(protectedHeader: original.protectedHeader, payload: altered.cbor.encoded(), signature: original.signature)
        #expect(TestKeys.verifier(TestKeys.ed25519).verify(CodeFormat.pack(tampered.encoded()), now: claims.issuedAt).verdict == .badSignature)

        // A receipt is not a code a checkpoint accepts.
        let receipt = try CodeFormat.encode(TestKeys.claims(kind: .receipt), with: TestKeys.ed25519)
        #expect(TestKeys.verifier(TestKeys.ed25519).verify(receipt, now: claims.issuedAt).verdict == .wrongKind)
    }

    @Test("an algorithm outside the allow-list, or one that does not fit the key, is a bad signature")
    func algorithms() throws {
        let claims = TestKeys.claims()
        for alg: Int64 in [-35, -257, -7] {
            let header = CBOR.map([.init(.int(1), .int(alg)), .init(.int(4), .bytes(TestKeys.ed25519.kid))]).encoded()
            let signature = try TestKeys.ed25519.sign(COSESign1.signatureInput(protectedHeader: header, payload: claims.cbor.encoded()))
            let message = COSESign1(protectedHeader: header, payload: claims.cbor.encoded(), signature: signature)
            #expect(TestKeys.verifier(TestKeys.ed25519).verify(CodeFormat.pack(message.encoded()), now: claims.issuedAt).verdict == .badSignature)
        }
    }

    @Test("an ES256 signature in DER form is refused")
    func derSignature() throws {
        let claims = TestKeys.claims()
        let header = CBOR.map([.init(.int(1), .int(-7)), .init(.int(4), .bytes(TestKeys.p256.kid))]).encoded()
        let input = COSESign1.signatureInput(protectedHeader: header, payload: claims.cbor.encoded())
        guard case .p256(let key) = TestKeys.p256.material else {
            Issue.record("the P-256 test key is not a P-256 key")
            return
        }
        let der = Array(try key.signature(for: input).derRepresentation)
        let message = COSESign1(protectedHeader: header, payload: claims.cbor.encoded(), signature: der)
        #expect(TestKeys.verifier(TestKeys.p256).verify(CodeFormat.pack(message.encoded()), now: claims.issuedAt).verdict == .badSignature)
    }

    @Test(
        "malformed inputs name what was wrong",
        arguments: [
            ("HC1:6BFOXN", CodeFormat.DecodeFailure.wrongPrefix),
            ("PB1:abc!", .badBase45),
            ("PB1:" + Base45.encode([1, 2, 3, 4, 5]), .badZlib),
            ("PB1:" + String(repeating: "A", count: 5000), .tooLarge),
        ])
    func malformed(_ input: String, _ failure: CodeFormat.DecodeFailure) {
        let result = TestKeys.verifier(TestKeys.ed25519).verify(input, now: 0)
        #expect(result.verdict == .malformed)
        #expect(result.failure == failure)
    }

    @Test("a COSE message that is not tag 18 is malformed")
    func notTag18() throws {
        let message = try COSESign1.sign(payload: TestKeys.claims().cbor.encoded(), with: TestKeys.ed25519)
        guard case .tagged(_, let content) = try CBORDecoder.decode(message.encoded()) else {
            Issue.record("a signed message is not tagged")
            return
        }
        let untagged = CodeFormat.pack(CBOR.tagged(98, content).encoded())
        #expect(TestKeys.verifier(TestKeys.ed25519).verify(untagged, now: 0).failure == .cose(.notTag18))
        let bare = CodeFormat.pack(content.encoded())
        #expect(TestKeys.verifier(TestKeys.ed25519).verify(bare, now: 0).failure == .cose(.notTag18))
    }

    @Test("100,000 random and mutated inputs give only typed verdicts", .timeLimit(.minutes(2)))
    func fuzz() throws {
        var generator = SplitMix64(seed: 2026)
        let valid = try CodeFormat.encode(TestKeys.claims(), with: TestKeys.ed25519)
        let cose = try COSESign1.sign(payload: TestKeys.claims().cbor.encoded(), with: TestKeys.ed25519).encoded()
        let verifier = TestKeys.verifier(TestKeys.ed25519)
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
        var verdicts: [Verdict: Int] = [:]
        for round in 0..<100_000 {
            let input: String
            switch round % 4 {
            case 0:  // mutate the text of a valid code
                var characters = Array(valid)
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: 0..<characters.count, using: &generator)
                    characters[index] = alphabet.randomElement(using: &generator)!
                }
                input = String(characters)
            case 1:  // mutate the COSE bytes, then pack them properly
                var bytes = cose
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                if Bool.random(using: &generator) { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator))) }
                input = CodeFormat.pack(bytes)
            case 2:  // random CBOR-ish bytes
                let bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                input = CodeFormat.pack(bytes)
            default:  // random text
                input = String(
                    (0..<Int.random(in: 0...80, using: &generator)).map { _ in
                        Character(UnicodeScalar(UInt8.random(in: 32...126, using: &generator)))
                    })
            }
            verdicts[verifier.verify(input, now: TestKeys.claims().issuedAt).verdict, default: 0] += 1
        }
        #expect(verdicts.values.reduce(0, +) == 100_000)
        #expect(verdicts[.malformed, default: 0] > 0)
        #expect(verdicts[.badSignature, default: 0] > 0)
    }
}
