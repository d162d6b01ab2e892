import Crypto
import Foundation
import JWTKit
import Testing

@testable import Consent

/// Finding 6 of the adversarial review: no audience was checked, so an assertion a provider made
/// for another service worked here.
@Suite("Real-name assertions: the audience")
struct AssertionAudienceTests {
    let key = Curve25519.Signing.PrivateKey()
    var provider: DevelopmentIdentityProvider { DevelopmentIdentityProvider(key: key) }
    let today = CivilDate(year: 2026, month: 11, day: 29)!
    let issued = Date(timeIntervalSince1970: 1_795_000_000)

    /// Signs claims with the provider's key exactly as given (the provider itself always sets `aud`).
    func sign(aud: AudienceClaim?) async throws -> String {
        let iat = Int64(issued.timeIntervalSince1970)
        let claims = RealNameClaims(
            iss: DevelopmentIdentityProvider.issuer, sub: "s", name: "刘洋", idn: "440305199203040514", rnv: true, iat: iat, exp: iat + 60,
            aud: aud)
        let kid = JWKIdentifier(string: provider.kid)
        let keys = await JWTKeyCollection().add(eddsa: EdDSA.PrivateKey(backing: key), kid: kid)
        return try await keys.sign(claims, kid: kid)
    }

    @Test("an assertion naming Passby's audience, as a string or a list of one, is accepted; among several, azp must name Passby")
    func accepted() async throws {
        let verifier = try await AssertionVerifier(providers: [provider.provider])
        for aud: AudienceClaim in ["passby", AudienceClaim(value: ["passby"])] {
            let person = try await verifier.verify(try await sign(aud: aud), now: issued, today: today)
            #expect(person.id.normalized == "440305199203040514")
        }
        // Several audiences and no `azp`: whom it was issued to is not said (OpenID Connect Core 3.1.3.7).
        await #expect(throws: AssertionRejection.wrongAudience) {
            try await verifier.verify(try await sign(aud: AudienceClaim(value: ["other-service", "passby"])), now: issued, today: today)
        }
    }

    @Test("no aud, or another service's, is refused as assertion-wrong-audience")
    func refused() async throws {
        let verifier = try await AssertionVerifier(providers: [provider.provider])
        for aud: AudienceClaim? in [nil, "other-service", AudienceClaim(value: []), "Passby", "passby "] {
            let token = try await sign(aud: aud)
            await #expect(throws: AssertionRejection.wrongAudience, "\(String(describing: aud))") {
                try await verifier.verify(token, now: issued, today: today)
            }
        }
        #expect(verifier.audience == "passby")
    }

    @Test("a configured audience replaces the default")
    func configured() async throws {
        let verifier = try await AssertionVerifier(providers: [provider.provider], audience: "passby-region-7")
        await #expect(throws: AssertionRejection.wrongAudience) {
            try await verifier.verify(try await provider.mint(name: "刘洋", idNumber: "440305199203040514", now: issued), now: issued, today: today)
        }
        let minted = try await provider.mint(name: "刘洋", idNumber: "440305199203040514", now: issued, audience: "passby-region-7")
        #expect(try await verifier.verify(minted, now: issued, today: today).name == "刘洋")
    }
}
