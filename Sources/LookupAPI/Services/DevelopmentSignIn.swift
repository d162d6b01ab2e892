import Consent
import Foundation

/// The demo sign-in of `/helper`: the development identity provider mints an assertion for the
/// name and ID number typed in. It exists only while that provider is trusted.
struct DevelopmentSignIn: Sendable {
    static let maximumNameLength = 50

    let provider: DevelopmentIdentityProvider
    let identities: Identities
    let clock: any PassbyClock
    /// The audience the server's verifier requires.
    let audience: String

    func mint(name: String, idNumber: String) async throws -> String {
        let now = clock.now()
        let id = try identities.identityNumber(idNumber, at: now)
        let name = PersonalData.normalizeName(name)
        guard !name.isEmpty, name.count <= Self.maximumNameLength else { throw Refusal.invalidName }
        return try await provider.mint(name: name, idNumber: id.normalized, now: now, audience: audience)
    }
}
