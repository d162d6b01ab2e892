import Consent
import Foundation
import HTTPTypes
import Testing

@testable import LookupAPI

/// Finding 3 of the adversarial review: a consent token must not confirm, one guess at a time,
/// whose ID number it was given for. A token that does not fit is `consent-invalid`, exactly as an
/// unknown one; failures are counted in PostgreSQL per token and per requester, and lock.
@Suite("A consent token does not confirm guesses at its subject's ID number", .timeLimit(.minutes(5)))
struct ConsentTokenGuessTests {
    /// Rate limits high enough that only the consent rules answer.
    static func configuration(failuresPerHour: Int = 1_000) -> PassbyConfiguration {
        var configuration = PassbyConfiguration()
        configuration.lookupsPerMinutePerRequester = 1_000
        configuration.lookupsPerMinutePerSubject = 1_000
        configuration.consentFailuresPerHour = failuresPerHour
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

    @Test("a spent token with another person's number is word for word an unknown token; after 5 even its subject's is")
    func spentToken() async throws {
        try await Scenario.run(configuration: Self.configuration()) { scenario in
            #expect(Self.guesses.count == 12)
            let spent = try await scenario.guardianGrant(for: People.elder)
            #expect(try await scenario.lookup(People.elder.idNumber, token: spent.token).status == .created)
            let unknown = try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0000")
            try expectProblem(unknown, .forbidden, "consent-invalid")
            for number in Self.guesses {
                let answer = try await scenario.lookup(number, token: spent.token)
                #expect(answer.status == unknown.status && answer.body == unknown.body)
            }
            let own = try await scenario.lookup(People.elder.idNumber, token: spent.token)
            #expect(own.status == unknown.status && own.body == unknown.body, "locked: the right number is not confirmed")
        }
    }

    @Test("a live token sent with 12 wrong numbers at once is locked; its subject then gets no code, and nothing was used")
    func liveTokenLocks() async throws {
        try await Scenario.run(configuration: Self.configuration()) { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            let reasons = try await withThrowingTaskGroup(of: String.self) { group in
                for number in Self.guesses {
                    group.addTask { try json(try await scenario.lookup(number, token: grant.token).body)["reason"] as? String ?? "none" }
                }
                return try await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(reasons == ["consent-invalid": 12])
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: grant.token), .forbidden, "consent-invalid")
            let grantID = try #require(UUID(uuidString: grant.id))
            let stored = try #require(try await scenario.components.consents.grant(id: grantID))
            #expect(stored.uses == 0 && stored.failedTries == 13)
            let refused = try await scenario.ledger().filter { $0.record.kind == .lookupRefused }.map(\.record.result)
            #expect(refused == Array(repeating: "consent-invalid", count: 13))
            let fresh = try await scenario.guardianGrant(for: People.elder)
            #expect(try await scenario.lookup(People.elder.idNumber, token: fresh.token).status == .created, "a new token works")
        }
    }

    @Test("a requester past the hour's failed tries is refused everything, a good token included, with Retry-After")
    func requesterLocks() async throws {
        try await Scenario.run(configuration: Self.configuration(failuresPerHour: 3)) { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            for number in Self.guesses.prefix(2) {
                try expectProblem(try await scenario.lookup(number, token: grant.token), .forbidden, "consent-invalid")
            }
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0000"), .forbidden, "consent-invalid")
            let locked = try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0001")
            try expectProblem(locked, .tooManyRequests, "consent-attempts-exceeded")
            let retryAfter = try #require(locked.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...3600).contains(retryAfter))
            let good = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            try expectProblem(good, .tooManyRequests, "consent-attempts-exceeded")
            // Another requester is not affected, and the grant was not used.
            #expect(try await scenario.lookup(People.elder.idNumber, token: grant.token, by: People.otherPasserby).status == .created)
        }
    }
}
