import Consent
import Foundation
import Testing

/// The order of `ConsentGrant.refusal`: the ID number is compared last, so a grant that cannot
/// serve anyone answers the same whatever subject is asked for.
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

    static let unusable: [(String, ConsentGrant, ConsentRefusal)] = [
        ("used", grant { $0.uses = 1 }, .used),
        ("withdrawn", grant { $0.withdrawnAt = now }, .withdrawn),
        ("guardianship removed", grant { $0.guardianshipActive = false }, .withdrawn),
        ("expired", grant { $0.validUntil = now }, .expired),
        ("not yet valid", grant { $0.validFrom = now.addingTimeInterval(1) }, .expired),
        ("locked", grant { $0.wrongSubjectTries = ConsentGrant.wrongSubjectTryLimit }, .locked),
        ("given to someone else", grant { $0.granteeKey = personKey(0xC3) }, .wrongGrantee),
        (
            "used and withdrawn",
            grant {
                $0.uses = 1
                $0.withdrawnAt = now
            }, .withdrawn
        ),
    ]

    @Test("a grant that cannot serve answers the same for its subject and for a guess", arguments: unusable.indices)
    func sameAnswerForEverySubject(_ index: Int) {
        let (name, grant, expected) = Self.unusable[index]
        #expect(grant.refusal(subject: Self.subject, requester: Self.requester, at: Self.now) == expected, "\(name)")
        #expect(grant.refusal(subject: Self.guess, requester: Self.requester, at: Self.now) == expected, "\(name)")
    }

    @Test("a live grant serves its subject and answers wrong-subject for anyone else, until the limit")
    func liveGrant() {
        #expect(Self.grant().refusal(subject: Self.subject, requester: Self.requester, at: Self.now) == nil)
        #expect(Self.grant().refusal(subject: Self.guess, requester: Self.requester, at: Self.now) == .wrongSubject)
        let almost = Self.grant { $0.wrongSubjectTries = ConsentGrant.wrongSubjectTryLimit - 1 }
        #expect(almost.refusal(subject: Self.subject, requester: Self.requester, at: Self.now) == nil)
        let grantee = Self.grant { $0.granteeKey = Self.requester }
        #expect(grantee.refusal(subject: Self.subject, requester: Self.requester, at: Self.now) == nil)
    }
}
