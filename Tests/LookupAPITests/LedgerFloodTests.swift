import Consent
import Foundation
import HTTPTypes
import Testing

@testable import LookupAPI

/// Finding 9 of the adversarial review: nobody can fill the ledger, and bogus lookups cannot
/// block a person's real codes.
@Suite("Refusals cannot flood the ledger or block a person", .timeLimit(.minutes(5)))
struct LedgerFloodTests {
    @Test("lookups without a verified assertion are counted in metrics, never written to the ledger")
    func anonymousRefusals() async throws {
        try await Scenario.run { scenario in
            let before = try await scenario.ledger().count
            let reasons = ["assertion-missing", "assertion-malformed", "assertion-lifetime-too-long"]
            // The registry is the process's: other suites count too, so compare before and after.
            var counted: [String: Double] = [:]
            for reason in reasons { counted[reason] = try await Self.refusals(reason, scenario) }
            let body = #"{"id_number":"\#(People.elder.idNumber)","consent_token":"0000-0000-0000-0000"}"#
            for assertion in [nil, "not.a.jws", try await TestApp.identityProvider.mint(name: "x", idNumber: People.passerby.idNumber, ttl: 3600)] {
                for _ in 0..<10 {
                    let headers: HTTPFields = assertion.map { [PassbyHeaders.assertion: $0] } ?? [:]
                    let answer = try await scenario.client.send(.post, "/v1/lookups", key: scenario.keys[.helper], body: body, headers: headers)
                    #expect(answer.status == .unauthorized)
                }
            }
            #expect(try await scenario.ledger().count == before)
            for reason in reasons {
                #expect(try await Self.refusals(reason, scenario) - counted[reason]! >= 10, "\(reason)")
            }
        }
    }

    /// The value of `passby_lookup_refusals{reason}` in `/metrics`, 0 before the first.
    static func refusals(_ reason: String, _ scenario: Scenario) async throws -> Double {
        let metrics = try await scenario.client.send(.get, "/metrics").body
        let prefix = #"passby_lookup_refusals{reason="\#(reason)"} "#
        return metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test("a requester over the rate limit gets 429 every time, but only the window's first is written")
    func rateLimitedOnce() async throws {
        var configuration = PassbyConfiguration()
        configuration.lookupsPerMinutePerRequester = 3
        try await Scenario.run(configuration: configuration) { scenario in
            for index in 0..<10 {
                let answer = try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0000")
                try expectProblem(answer, index < 3 ? .forbidden : .tooManyRequests, index < 3 ? "consent-invalid" : "rate-limited")
            }
            let refused = try await scenario.ledger().filter { $0.record.kind == .lookupRefused }.map(\.record.result)
            #expect(refused == ["consent-invalid", "consent-invalid", "consent-invalid", "rate-limited"])
        }
    }

    @Test("bogus lookups of a person do not use up their limit; codes issued do")
    func subjectLimitCountsCodes() async throws {
        var configuration = PassbyConfiguration()
        configuration.lookupsPerMinutePerSubject = 2
        configuration.lookupsPerMinutePerRequester = 1_000
        configuration.consentFailuresPerHour = 1_000
        try await Scenario.run(configuration: configuration) { scenario in
            for _ in 0..<25 {
                try expectProblem(
                    try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0000", by: People.otherPasserby), .forbidden,
                    "consent-invalid")
            }
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 5])
            #expect(try await scenario.lookup(People.elder.idNumber, token: grant.token).status == .created)
            #expect(try await scenario.lookup(People.elder.idNumber, token: grant.token).status == .created)
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: grant.token), .tooManyRequests, "rate-limited")
        }
    }
}
