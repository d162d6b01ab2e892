import Consent
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@testable import LookupAPI

/// A clock that always reads the same instant.
struct FixedClock: PassbyClock {
    let instant: Date
    func now() -> Date { instant }
}

/// A clock a test moves on by hand.
final class MovableClock: PassbyClock {
    private let instant: Mutex<Date>
    init(_ start: Date) { instant = Mutex(start) }
    func now() -> Date { instant.withLock { $0 } }
    func advance(by seconds: TimeInterval) { instant.withLock { $0 += seconds } }
}

/// The age thresholds end to end, on a fixed day: 2026-06-15 in Asia/Shanghai, which is still
/// 14 June in UTC, so a service that read "today" in UTC would be a day late.
@Suite("Age boundaries through the API", .timeLimit(.minutes(5)))
struct AgeBoundaryTests {
    /// 2026-06-15 00:30 in Asia/Shanghai.
    static let instant = Date(timeIntervalSince1970: 1_781_454_600)
    static let guardian = People.guardian
    static let passerby = People.passerby

    static func person(_ year: Int, _ month: Int, _ day: Int, _ name: String) -> TestPerson {
        TestPerson(name: name, idNumber: People.number("110105", year, month, day, "023"))
    }

    /// Runs `body` on in-memory stores with the clock fixed, statuses for `subjects`, and a
    /// guardian and a helper client.
    func withApp(
        _ subjects: [TestPerson],
        _ body: @Sendable (_ client: any TestClientProtocol, _ guardianKey: String, _ helperKey: String) async throws -> Void
    ) async throws {
        var components = try await TestApp.memory(configuration: .withoutLookupLimits)
        components.clock = FixedClock(instant: Self.instant)
        let today = components.configuration.agePolicy.today(at: Self.instant)
        #expect(today == CivilDate(year: 2026, month: 6, day: 15))
        _ = try await components.statuses.upsert(
            try subjects.map { subject in
                HealthStatusUpdate(
                    id: try IdentityNumber(parsing: subject.idNumber, today: today), name: subject.name, status: .green,
                    asOf: Self.instant.addingTimeInterval(-3600), personalData: components.personalData)
            })
        let guardianKey = try await components.clients.create(name: "guardian", role: .guardian).key
        let helperKey = try await components.clients.create(name: "helper", role: .helper).key
        try await buildApplication(components).test(.router) { client in try await body(client, guardianKey, helperKey) }
    }

    func assertion(_ person: TestPerson, dependents: [String] = []) async throws -> String {
        try await TestApp.identityProvider.mint(name: person.name, idNumber: person.idNumber, now: Self.instant, dependents: dependents)
    }

    func lookup(_ client: any TestClientProtocol, _ helperKey: String, _ subject: String, token: String) async throws
        -> (status: HTTPResponse.Status, headers: HTTPFields, body: String)
    {
        try await client.send(
            .post, "/v1/lookups", key: helperKey, body: #"{"id_number":"\#(subject)","consent_token":"\#(token)"}"#,
            headers: [PassbyHeaders.assertion: try await assertion(Self.passerby)])
    }

    @Test("someone who turns 60 today is served; someone who turns 60 tomorrow is not eligible")
    func elderBoundary() async throws {
        let turnsSixtyToday = Self.person(1966, 6, 15, "周桂兰")
        let turnsSixtyTomorrow = Self.person(1966, 6, 16, "吴秀珍")
        try await withApp([turnsSixtyToday, turnsSixtyTomorrow]) { client, guardianKey, helperKey in
            // The guardian's provider vouches for the relationship, so the registration is confirmed at once.
            let guardianHeaders: HTTPFields = [
                PassbyHeaders.assertion: try await assertion(Self.guardian, dependents: [turnsSixtyToday.idNumber])
            ]
            let registered = try await client.send(
                .post, "/v1/family-members", key: guardianKey,
                body: #"{"id_number":"\#(turnsSixtyToday.idNumber)","name":"\#(turnsSixtyToday.name)","relationship":"child"}"#,
                headers: guardianHeaders)
            #expect(registered.status == .created, "\(registered.body)")
            let granted = try await client.send(
                .post, "/v1/consents", key: guardianKey, body: #"{"id_number":"\#(turnsSixtyToday.idNumber)"}"#, headers: guardianHeaders)
            #expect(granted.status == .created, "\(granted.body)")
            let token = try #require(try json(granted.body)["token"] as? String)

            let served = try await lookup(client, helperKey, turnsSixtyToday.idNumber, token: token)
            #expect(served.status == .created, "\(served.body)")
            #expect(try json(served.body)["group"] as? String == "elder")
            try expectProblem(try await lookup(client, helperKey, turnsSixtyTomorrow.idNumber, token: token), .forbidden, "not-eligible")
        }
    }

    @Test("a child whose 6th birthday is today is not eligible; one a day younger still is")
    func childBoundary() async throws {
        let sixToday = Self.person(2020, 6, 15, "李小明")
        let sixTomorrow = Self.person(2020, 6, 16, "李小红")
        try await withApp([sixToday, sixTomorrow]) { client, _, helperKey in
            // Eligibility is checked before the token, so a token that was never issued shows which side of the line each is on.
            let unissued = "ABCD-EFGH-JKMN-PQRS"
            try expectProblem(try await lookup(client, helperKey, sixToday.idNumber, token: unissued), .forbidden, "not-eligible")
            try expectProblem(try await lookup(client, helperKey, sixTomorrow.idNumber, token: unissued), .forbidden, "consent-invalid")
        }
    }
}
