import Crypto
import Foundation
import Testing

@testable import Consent

@Suite("Real-name assertions: the verdict cache", .timeLimit(.minutes(5)))
struct AssertionCacheTests {
    let provider = DevelopmentIdentityProvider(key: Curve25519.Signing.PrivateKey())
    let today = CivilDate(year: 2026, month: 11, day: 29)!
    let issued = Date(timeIntervalSince1970: 1_795_000_000)

    @Test("a verified assertion is served from the cache until its exp, and never after")
    func cachedUntilExpiry() async throws {
        let verifier = try await AssertionVerifier(providers: [provider.provider])
        let token = try await provider.mint(name: "刘洋", idNumber: "440305199203040514", ttl: 300, now: issued)
        let first = try await verifier.verify(token, now: issued, today: today)
        #expect(verifier.cachedCount == 1)
        let again = try await verifier.verify(token, now: issued.addingTimeInterval(299), today: today)
        #expect(again == first)
        #expect(verifier.cachedCount == 1)
        await #expect(throws: AssertionRejection.expired) {
            try await verifier.verify(token, now: issued.addingTimeInterval(300), today: today)
        }
        // Before its iat (beyond the allowed skew) it is not valid either, cached or not.
        await #expect(throws: AssertionRejection.notYetValid) {
            try await verifier.verify(token, now: issued.addingTimeInterval(-61), today: today)
        }
    }

    @Test("a token one byte away from a cached one is verified in full, and refused")
    func tamperedTokenIsNotACacheHit() async throws {
        let verifier = try await AssertionVerifier(providers: [provider.provider])
        let token = try await provider.mint(name: "刘洋", idNumber: "440305199203040514", now: issued)
        _ = try await verifier.verify(token, now: issued, today: today)
        var bytes = Array(token.utf8)
        bytes[bytes.count - 2] = bytes[bytes.count - 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        await #expect(throws: AssertionRejection.badSignature) {
            try await verifier.verify(String(decoding: bytes, as: UTF8.self), now: issued, today: today)
        }
    }

    @Test("refusals are not cached, and a full cache keeps working")
    func boundedAndRefusalsUncached() async throws {
        let verifier = try await AssertionVerifier(providers: [provider.provider])
        let unverified = try await provider.mint(name: "刘洋", idNumber: "440305199203040514", now: issued, realNameVerified: false)
        for _ in 0..<2 {
            await #expect(throws: AssertionRejection.notRealNameVerified) { try await verifier.verify(unverified, now: issued, today: today) }
        }
        #expect(verifier.cachedCount == 0)

        let cache = AssertionCache(capacity: 3)
        let person = VerifiedPerson(id: try IdentityNumber(parsing: "440305199203040514", today: today), name: "刘洋", issuer: "i", subject: "s")
        for index in 0..<10 {
            cache.store(person, for: AssertionCache.key("token-\(index)"), issuedAt: 0, expiresAt: 100, now: 10)
        }
        #expect(cache.count <= 3)
        #expect(cache.person(for: AssertionCache.key("token-9"), now: 10) == person)
        #expect(cache.person(for: AssertionCache.key("token-9"), now: 100) == nil)
    }
}
