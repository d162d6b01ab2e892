import Testing

@testable import Display

/// Finding 2 of the adversarial review: a code whose times were absurd made the process trap
/// (integer overflow on `exp + skew`, then again turning it into a date for the ledger). Times
/// outside 1970…9999 and negative generations are malformed claims, refused while decoding,
/// whether or not the signature is good.
@Suite("Hostile claim values")
struct HostileClaimsTests {
    static let extremes: [Int64] = [.max, .max - 1, .max - 2, .min, .min + 1, -1, 253_402_300_800, 1 << 62, -(1 << 62)]

    /// Both a code signed with a trusted key and one with a key nobody trusts.
    static func codes(_ claims: CodeClaims) throws -> [String] {
        let stranger = try SigningKey(algorithm: .edDSA, rawPrivateKey: Array(repeating: 5, count: 32))
        return [try CodeFormat.encode(claims, with: TestKeys.ed25519), try CodeFormat.encode(claims, with: stranger)]
    }

    @Test("an extreme exp, iat or status time is malformed, not a trap", arguments: extremes)
    func extremeTimes(_ value: Int64) throws {
        var variants: [CodeClaims] = []
        var claims = TestKeys.claims()
        claims.expiresAt = value
        variants.append(claims)
        claims = TestKeys.claims()
        claims.issuedAt = value
        variants.append(claims)
        claims = TestKeys.claims()
        claims.statusTime = value
        variants.append(claims)
        claims = TestKeys.claims(kind: .offline)
        claims.generation = value < 0 ? value : nil
        if claims.generation != nil { variants.append(claims) }
        for variant in variants {
            for code in try Self.codes(variant) {
                #expect(throws: CodeFormat.DecodeFailure.badClaims) { try CodeFormat.decode(code) }
                for now: Int64 in [0, 1_800_000_000, .max, .min] {
                    let result = TestKeys.verifier(TestKeys.ed25519).verify(code, now: now)
                    #expect(result.verdict == .malformed)
                    #expect(result.claims == nil)
                }
            }
        }
    }

    @Test("times at the edges of the range still decode")
    func edges() throws {
        var claims = TestKeys.claims()
        claims.issuedAt = 0
        claims.expiresAt = CodeClaims.latestTime
        claims.statusTime = 0
        let decoded = try CodeFormat.decode(try CodeFormat.encode(claims, with: TestKeys.ed25519))
        #expect(decoded.claims.expiresAt == CodeClaims.latestTime)
        #expect(TestKeys.verifier(TestKeys.ed25519).verify(try CodeFormat.encode(claims, with: TestKeys.ed25519), now: .max).verdict == .expired)
    }
}
