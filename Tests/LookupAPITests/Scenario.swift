import Consent
import Crypto
import Display
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Testing

@testable import LookupAPI

/// People of the lookup tests. Their numbers are invented and checksum-valid.
enum People {
    static func number(_ region: String, _ year: Int, _ month: Int, _ day: Int, _ sequence: String) -> String {
        IdentityNumber.compose(region: region, birthDate: CivilDate(year: year, month: month, day: day)!, sequence: sequence)
    }
    static let today = AgePolicy().today()
    static let elder = ("11010519491231002X", "王秀英")
    static let otherElder = ("350203195510101235", "陈建国")
    static let child = (number("310104", today.year - 3, 6, 1, "046"), "李小明")
    static let adult = ("440305199005200716", "张伟")
    static let guardian = (number("110105", 1980, 1, 1, "011"), "王建华")
    static let passerby = (number("440305", 1992, 3, 4, "051"), "刘洋")
    static let otherPasserby = (number("440305", 1993, 3, 4, "071"), "赵敏")
    /// Eligible, but the gateway never sent a status.
    static let unknownElder = (number("120101", 1950, 2, 2, "021"), "孙老")
}

/// A running application on PostgreSQL with a client of every role, subjects with statuses, and assertions.
struct Scenario {
    let client: any TestClientProtocol
    let components: PassbyComponents
    let postgres: PostgresClient
    let keys: [Role: String]

    /// The background sealer is held off for the test's whole life: tests seal when they mean to,
    /// so a head they read is never moved under them.
    static func run(configuration: PassbyConfiguration = .init(), _ body: @Sendable (Scenario) async throws -> Void) async throws {
        var configuration = configuration
        configuration.sealInterval = .seconds(86_400)
        let (components, postgres) = try await TestApp.postgres(configuration: configuration)
        try await buildApplication(components).test(.router) { client in
            var keys: [Role: String] = [:]
            for role in Role.allCases { keys[role] = try await components.clients.create(name: "test-\(role)", role: role).key }
            let today = components.configuration.agePolicy.today()
            let updates = try [People.elder, People.otherElder, People.child, People.adult].map { person in
                HealthStatusUpdate(
                    id: try IdentityNumber(parsing: person.0, today: today), name: person.1, status: .green,
                    asOf: Date(timeIntervalSince1970: 1_767_225_600), personalData: components.personalData)
            }
            _ = try await components.statuses.upsert(updates)
            try await body(Scenario(client: client, components: components, postgres: postgres, keys: keys))
        }
    }

    func assertion(_ person: (String, String)) async throws -> String {
        try await TestApp.identityProvider.mint(name: person.1, idNumber: person.0)
    }

    func send(
        _ method: HTTPRequest.Method, _ uri: String, as role: Role, person: (String, String)?, body: [String: Any]? = nil,
        headers: HTTPFields = [:]
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String) {
        var headers = headers
        if let person { headers[PassbyHeaders.assertion] = try await assertion(person) }
        let text = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
        return try await client.send(method, uri, key: keys[role], body: text, headers: headers)
    }

    /// A guardian registers the subject and grants; returns the grant id and token.
    func guardianGrant(for subject: (String, String), extra: [String: Any] = [:]) async throws -> (id: String, token: String) {
        let registered = try await send(
            .post, "/v1/family-members", as: .guardian, person: People.guardian,
            body: ["id_number": subject.0, "name": subject.1, "relationship": "child"])
        #expect(registered.status == .created || registered.body.contains("already-registered"), "\(registered.body)")
        let granted = try await send(
            .post, "/v1/consents", as: .guardian, person: People.guardian,
            body: ["id_number": subject.0].merging(extra) { $1 })
        #expect(granted.status == .created, "\(granted.body)")
        let body = try json(granted.body)
        return (try #require(body["id"] as? String), try #require(body["token"] as? String))
    }

    func lookup(
        _ subject: String, token: String, by person: (String, String) = People.passerby, role: Role = .helper,
        headers: HTTPFields = [:], format: String? = nil
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String) {
        var body: [String: Any] = ["id_number": subject, "consent_token": token]
        if let format { body["format"] = format }
        return try await send(.post, "/v1/lookups", as: role, person: person, body: body, headers: headers)
    }

    func ledger() async throws -> [StoredLedgerRecord] {
        try await components.consents.ledger(after: 0, limit: 10_000)
    }
}
