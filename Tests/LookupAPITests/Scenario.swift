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

/// A test person: an invented, checksum-valid ID number and a name.
struct TestPerson: Sendable, Decodable {
    let name: String
    let idNumber: String
}

/// The people of the lookup tests, read from `Tests/people.json`, which the outside tests read too.
enum People {
    private struct File: Decodable {
        struct Child: Decodable {
            let name, region, birthday, sequence: String
            let yearsOld: Int
        }
        let people: [String: TestPerson]
        let child: Child
    }

    private static let file: File = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("people.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do { return try decoder.decode(File.self, from: Data(contentsOf: url)) } catch { fatalError("Tests/people.json: \(error)") }
    }()

    private static func named(_ key: String) -> TestPerson {
        guard let person = file.people[key] else { fatalError("Tests/people.json has no \(key)") }
        return person
    }

    static func number(_ region: String, _ year: Int, _ month: Int, _ day: Int, _ sequence: String) -> String {
        IdentityNumber.compose(region: region, birthDate: CivilDate(year: year, month: month, day: day)!, sequence: sequence)
    }
    static let today = AgePolicy().today()
    static let elder = named("elder")
    static let otherElder = named("other_elder")
    /// Composed from the birthday, so that the child stays a child whatever the year.
    static let child: TestPerson = {
        let child = file.child
        let parts = child.birthday.split(separator: "-").compactMap { Int($0) }
        return TestPerson(name: child.name, idNumber: number(child.region, today.year - child.yearsOld, parts[0], parts[1], child.sequence))
    }()
    static let adult = named("adult")
    static let guardian = named("guardian")
    static let passerby = named("passerby")
    static let otherPasserby = named("other_passerby")
    /// Eligible, but the gateway never sent a status.
    static let unknownElder = named("unknown_elder")
}

/// A running application on PostgreSQL with a client of every role, subjects with statuses, and assertions.
struct Scenario {
    let client: any TestClientProtocol
    let components: PassbyComponents
    let postgres: PostgresClient
    let keys: [Role: String]

    /// The background sealer is held off for the test's whole life: tests seal when they mean to,
    /// so a head they read is never moved under them.
    static func run(
        configuration: PassbyConfiguration = .init(), clock: (any PassbyClock)? = nil, personalData: PersonalData = TestApp.personalData,
        _ body: @Sendable (Scenario) async throws -> Void
    ) async throws {
        var configuration = configuration
        configuration.sealInterval = .seconds(86_400)
        // bcrypt at the production cost would take whole cores from the tests beside it.
        configuration.bcryptCost = 4
        let (made, postgres) = try await TestApp.postgres(configuration: configuration, personalData: personalData)
        var components = made
        if let clock { components.clock = clock }
        try await buildApplication(components).test(.router) { [components] client in
            var keys: [Role: String] = [:]
            for role in Role.allCases { keys[role] = try await components.clients.create(name: "test-\(role)", role: role).key }
            let today = components.configuration.agePolicy.today()
            let updates = try [People.elder, People.otherElder, People.child, People.adult].map { person in
                HealthStatusUpdate(
                    id: try IdentityNumber(parsing: person.idNumber, today: today), name: person.name, status: .green,
                    asOf: Date(timeIntervalSince1970: 1_767_225_600), personalData: components.personalData)
            }
            _ = try await components.statuses.upsert(updates)
            try await body(Scenario(client: client, components: components, postgres: postgres, keys: keys))
        }
    }

    func assertion(_ person: TestPerson) async throws -> String {
        try await TestApp.identityProvider.mint(name: person.name, idNumber: person.idNumber)
    }

    func send(
        _ method: HTTPRequest.Method, _ uri: String, as role: Role, person: TestPerson?, body: [String: Any]? = nil,
        headers: HTTPFields = [:]
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String) {
        var headers = headers
        if let person { headers[PassbyHeaders.assertion] = try await assertion(person) }
        let text = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
        return try await client.send(method, uri, key: keys[role], body: text, headers: headers)
    }

    /// A guardian registers the subject and grants; returns the grant id and token.
    func guardianGrant(for subject: TestPerson, extra: [String: Any] = [:]) async throws -> (id: String, token: String) {
        let registered = try await send(
            .post, "/v1/family-members", as: .guardian, person: People.guardian,
            body: ["id_number": subject.idNumber, "name": subject.name, "relationship": "child"])
        #expect(registered.status == .accepted || registered.body.contains("already-registered"), "\(registered.body)")
        try await confirmGuardian(People.guardian, of: subject)
        let granted = try await send(
            .post, "/v1/consents", as: .guardian, person: People.guardian,
            body: ["id_number": subject.idNumber].merging(extra) { $1 })
        #expect(granted.status == .created, "\(granted.body)")
        let body = try json(granted.body)
        return (try #require(body["id"] as? String), try #require(body["token"] as? String))
    }

    /// The gateway confirms, as household-registry data would, that `guardian` looks after `subject`.
    func confirmGuardian(_ guardian: TestPerson, of subject: TestPerson, relationship: String = "child") async throws {
        let confirmed = try await send(
            .post, "/v1/guardianship-confirmations", as: .gateway, person: nil,
            body: ["guardian_id_number": guardian.idNumber, "subject_id_number": subject.idNumber, "relationship": relationship])
        #expect(confirmed.status == .ok, "\(confirmed.body)")
    }

    func lookup(
        _ subject: String, token: String, by person: TestPerson = People.passerby, role: Role = .helper,
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
