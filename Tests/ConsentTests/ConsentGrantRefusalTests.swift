import Consent
import Foundation
import Testing

/// `ConsentGrant.refusal`: a grant that names another person, is locked, or was given to someone
/// else is `invalid`, exactly as an unknown token; only a grant that fits speaks of its state.
@Suite("Consent grant refusals")
struct ConsentGrantRefusalTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)
    static let subject = personKey(0x51)
    static let guess = personKey(0x52)
    static let requester = personKey(0xA1)

    static func grant(_ change: (inout ConsentGrant) -> Void = { _ in }) -> ConsentGrant {
        var grant = ConsentGrant(
            id: UUID(), subjectKey: subject, grantorKey: personKey(0xB2), relation: .selfGranted, guardianshipID: nil, granteeKey: nil,
            legalBasis: .consent, method: .terminal, validFrom: now.addingTimeInterval(-60), validUntil: now.addingTimeInterval(60),
            maxUses: 1)
        change(&grant)
        return grant
    }

    /// Each state, with the refusal for its own subject; for any other subject it is always `invalid`.
    static let states: [(String, ConsentGrant, ConsentRefusal?)] = [
        ("live", grant(), nil),
        ("live, one try short of the lock", grant { $0.failedTries = ConsentGrant.failedTryLimit - 1 }, nil),
        ("used", grant { $0.uses = 1 }, .used),
        ("withdrawn", grant { $0.withdrawnAt = now }, .withdrawn),
        ("guardianship removed", grant { $0.guardianshipActive = false }, .withdrawn),
        ("expired", grant { $0.validUntil = now }, .expired),
        ("not yet valid", grant { $0.validFrom = now.addingTimeInterval(1) }, .expired),
        ("locked", grant { $0.failedTries = ConsentGrant.failedTryLimit }, .invalid),
        (
            "locked and used",
            grant {
                $0.failedTries = ConsentGrant.failedTryLimit
                $0.uses = 1
            }, .invalid
        ),
        ("given to someone else", grant { $0.granteeKey = personKey(0xC3) }, .invalid),
        (
            "given to someone else and used",
            grant {
                $0.granteeKey = personKey(0xC3)
                $0.uses = 1
            }, .invalid
        ),
        ("given to the requester", grant { $0.granteeKey = requester }, nil),
    ]

    @Test("for its own subject a grant answers by its state; for anyone else exactly as an unknown token", arguments: states.indices)
    func refusals(_ index: Int) {
        let (name, grant, expected) = Self.states[index]
        #expect(grant.refusal(subject: Self.subject, requester: Self.requester, at: Self.now) == expected, "\(name)")
        #expect(grant.refusal(subject: Self.guess, requester: Self.requester, at: Self.now) == .invalid, "\(name)")
    }
}
