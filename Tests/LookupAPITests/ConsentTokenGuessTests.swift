import Consent
import Foundation
import HTTPTypes
import Testing

@testable import LookupAPI

/// Finding 3 of the adversarial review: a consent token must not confirm, one guess at a time,
/// whose ID number it was given for.
@Suite("A consent token does not confirm guesses at its subject's ID number", .timeLimit(.minutes(5)))
struct ConsentTokenGuessTests {
    /// Rate limits high enough that only the consent rules answer.
    static var unlimited: PassbyConfiguration {
        var configuration = PassbyConfiguration()
        configuration.lookupsPerMinutePerRequester = 1_000
        configuration.lookupsPerMinutePerSubject = 1_000
        return configuration
    }

    /// Valid, eligible ID numbers that show the elder's mask (first and last 4 characters): what
    /// an attacker holding the masked ID would try.
    static let guesses: [String] = {
        let elder = People.elder.idNumber
        var found: [String] = []
        for year in 1940..<1960 {
            for month in 1...12 {
                for day in 1...28 where found.count < 12 {
                    let guess = People.number(String(elder.prefix(6)), year, month, day, String(elder.dropFirst(14).prefix(3)))
                    if guess.last == elder.last && guess != elder { found.append(guess) }
                }
            }
        }
        return found
    }()

    @Test("a spent or withdrawn token answers word for word the same for its subject's number and for guesses")
    func spentTokenRevealsNothing() async throws {
        try await Scenario.run(configuration: Self.unlimited) { scenario in
            #expect(Self.guesses.count == 12)
            let spent = try await scenario.guardianGrant(for: People.elder)
            #expect(try await scenario.lookup(People.elder.idNumber, token: spent.token).status == .created)
            let withdrawn = try await scenario.guardianGrant(for: People.elder)
            let removed = try await scenario.send(.delete, "/v1/consents/\(withdrawn.id)", as: .guardian, person: People.guardian)
            #expect(removed.status == .noContent)
            for (token, reason) in [(spent.token, "consent-used"), (withdrawn.token, "consent-withdrawn")] {
                var bodies: Set<String> = []
                for number in [People.elder.idNumber] + Self.guesses {
                    let answer = try await scenario.lookup(number, token: token)
                    try expectProblem(answer, .forbidden, reason)
                    bodies.insert(answer.body)
                }
                #expect(bodies.count == 1, "\(bodies)")
            }
        }
    }

    @Test("a live token answers 5 wrong numbers, 12 of them sent at once, then is locked even for its subject")
    func liveTokenLocks() async throws {
        try await Scenario.run(configuration: Self.unlimited) { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            let reasons = try await withThrowingTaskGroup(of: String.self) { group in
                for number in Self.guesses {
                    group.addTask { try json(try await scenario.lookup(number, token: grant.token).body)["reason"] as? String ?? "none" }
                }
                return try await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(
                reasons == ["consent-wrong-subject": ConsentGrant.wrongSubjectTryLimit, "consent-locked": 12 - ConsentGrant.wrongSubjectTryLimit])
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: grant.token), .forbidden, "consent-locked")
            let grantID = try #require(UUID(uuidString: grant.id))
            let stored = try #require(try await scenario.components.consents.grant(id: grantID))
            #expect(stored.uses == 0)
            let refused = try await scenario.ledger().filter { $0.record.kind == .lookupRefused }.map(\.record.result)
            #expect(refused.count == 13 && refused.last == "consent-locked")
        }
    }

    @Test("a token locked by guesses stays locked; its grantor gives a new one that works")
    func newTokenAfterLock() async throws {
        try await Scenario.run(configuration: Self.unlimited) { scenario in
            let locked = try await scenario.guardianGrant(for: People.elder)
            for number in Self.guesses.prefix(ConsentGrant.wrongSubjectTryLimit) {
                try expectProblem(try await scenario.lookup(number, token: locked.token), .forbidden, "consent-wrong-subject")
            }
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: locked.token), .forbidden, "consent-locked")
            let fresh = try await scenario.guardianGrant(for: People.elder)
            #expect(try await scenario.lookup(People.elder.idNumber, token: fresh.token).status == .created)
        }
    }
}
