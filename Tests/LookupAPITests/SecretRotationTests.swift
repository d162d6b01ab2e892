import Consent
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO
import Testing
import ThrowawayPostgres

@testable import LookupAPI

/// Versions of the server secret (issue 16): after a rotation every grant, registration and
/// stored answer made before it still serves, and `secret rekey` moves the stored hashes to the
/// new version without the plain ID numbers.
@Suite("Server-secret rotation", .timeLimit(.minutes(5)))
struct SecretRotationTests {
    static let first = ServerSecretVersion(number: 1, key: TestApp.secret, activatesAt: 0)
    static let secondKey = SymmetricKey(data: Array(repeating: UInt8(43), count: 32))
    static let second = ServerSecretVersion(number: 2, key: secondKey, activatesAt: 0)
    let logger = Logger(label: "test")

    /// Rows per table and version, read as the owner.
    func counts(_ scenario: Scenario) async throws -> SecretVersionCounts {
        try await PostgresSecretRekeyStore(client: scenario.postgres.timed, logger: logger).versionCounts()
    }

    func count(_ scenario: Scenario, _ sql: PostgresQuery) async throws -> Int {
        var result = 0
        for try await value in try await scenario.postgres.query(sql, logger: logger).decode(Int.self) { result = value }
        return result
    }

    @Test("grants, registrations, retries and ledger filters made before a rotation work after it, and after rekey")
    func rotation() async throws {
        let ring = ServerSecretRing([Self.first])
        try await Scenario.run(configuration: .withoutLookupLimits, personalData: PersonalData(ring: ring)) { scenario in
            let grant = try await scenario.guardianGrant(for: People.child, extra: ["max_uses": 5])
            #expect(try await scenario.lookup(People.child.idNumber, token: grant.token).status == .created)
            let retry: HTTPFields = [PassbyHeaders.idempotencyKey: "rotation-retry"]
            let before = try await scenario.lookup(People.child.idNumber, token: grant.token, headers: retry)
            #expect(before.status == .created)
            #expect(try await counts(scenario).behind(2) > 0)
            let rowsBefore = try await counts(scenario)
            #expect(SecretRekeying.refusalToRotate(versions: [Self.first], counts: rowsBefore, now: 0) == nil, "all rows are under v1, the current")

            ring.update([Self.first, Self.second])
            #expect(PersonalData(ring: ring).currentVersion == 2)
            let v1Key = PersonalData(secret: TestApp.secret).subjectKey(try IdentityNumber(parsing: People.child.idNumber, today: People.today))
            #expect(PersonalData(ring: ring).subjectKey(try IdentityNumber(parsing: People.child.idNumber, today: People.today)) != v1Key)

            // Before anything moved: the token, the retry and the family registration still serve.
            #expect(try await scenario.lookup(People.child.idNumber, token: grant.token).status == .created)
            let after = try await scenario.lookup(People.child.idNumber, token: grant.token, headers: retry)
            #expect(after.status == .created)
            #expect(try json(after.body)["code"] as? String == json(before.body)["code"] as? String, "the retry gets the first answer")
            let family = try json(try await scenario.send(.get, "/v1/family-members", as: .guardian, person: People.guardian).body)
            #expect((family["family_members"] as? [[String: Any]])?.count == 1, "\(family)")
            // A grant made now, for a subject stored under version 1, refers to that row.
            let newer = try await scenario.guardianGrant(for: People.child)
            #expect(try await scenario.lookup(People.child.idNumber, token: newer.token).status == .created)

            // Moved without a single ID number: every hash steps to version 2.
            let rekeying = SecretRekeying(
                store: PostgresSecretRekeyStore(client: scenario.postgres.timed, logger: logger), versions: [Self.first, Self.second])
            #expect(try await rekeying.run(to: 2) > 0)
            let refusal = SecretRekeying.refusalToRotate(versions: [Self.first, Self.second], counts: rowsBefore, now: 0)
            #expect(refusal?.contains("still under an earlier version") == true, "v1 rows would be lost by another rotation")
            let pending = ServerSecretVersion(number: 3, key: Self.secondKey, activatesAt: 100)
            #expect(
                SecretRekeying.refusalToRotate(versions: [Self.first, Self.second, pending], counts: .init(), now: 50)?.contains("announced") == true)
            #expect(try await counts(scenario).behind(2) == 0)
            #expect(SecretRekeying.refusalToRotate(versions: [Self.first, Self.second], counts: try await counts(scenario), now: 0) == nil)
            #expect(try await count(scenario, "SELECT count(*)::int FROM subjects WHERE subject_key = \(ByteBuffer(bytes: v1Key.bytes))") == 0)
            #expect(try await rekeying.run(to: 2) == 0, "a second run finds nothing to move")

            let afterRekey = try await scenario.lookup(People.child.idNumber, token: grant.token)
            #expect(afterRekey.status == .created, "\(afterRekey.body)")
            // Found after the move (a token nobody knows would be consent-invalid): its one use is gone.
            try expectProblem(try await scenario.lookup(People.child.idNumber, token: newer.token), .forbidden, "consent-used")
            let terminal = try await scenario.send(.get, "/v1/family-members", as: .guardian, person: People.guardian)
            #expect((try json(terminal.body)["family_members"] as? [[String: Any]])?.count == 1)

            // The ledger is never moved: a reviewer's filter finds entries from both sides.
            _ = try await LedgerSealer.seal(tree: scenario.components.ledgerTree, key: scenario.components.ledgerKey)
            let reviewer = try #require(scenario.keys[.reviewer])
            let records = try json(try await scenario.client.send(.get, "/v1/records?subject_id_number=\(People.child.idNumber)", key: reviewer).body)
            let kinds = try #require(records["records"] as? [[String: String]]).map { $0["kind"]! }
            #expect(kinds.filter { $0 == "lookup-issued" }.count == 5, "\(kinds)")
        }
    }

    @Test("a gateway push moves a subject stored under the previous version, its registrations too; an older push moves nothing")
    func pushMovesSubject() async throws {
        let ring = ServerSecretRing([Self.first])
        try await Scenario.run(personalData: PersonalData(ring: ring)) { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 3])
            let saved = try await scenario.send(
                .post, "/v1/offline-codes", as: .guardian, person: People.guardian, body: ["id_number": People.elder.idNumber])
            let card = try #require(try json(saved.body)["code"] as? String)
            ring.update([Self.first, Self.second])
            let push = { (asOf: String) in
                try await scenario.client.send(
                    .put, "/v1/health-statuses", key: scenario.keys[.gateway],
                    body: #"[{"id_number":"\#(People.elder.idNumber)","name":"\#(People.elder.name)","status":"yellow","as_of":"\#(asOf)"}]"#)
            }
            _ = try await push("2020-01-01T00:00:00Z")
            #expect(try await counts(scenario).rows["subjects"]?[2] == nil, "an older status moves nothing")
            let pushed = try await push("2026-06-01T00:00:00Z")
            #expect(pushed.body.contains("accepted"), "\(pushed.body)")
            #expect(try await counts(scenario).rows["subjects"]?[2] == 1)
            // The grant followed its subject (ON UPDATE CASCADE) and still serves.
            #expect(try await scenario.lookup(People.elder.idNumber, token: grant.token).status == .created)
            // The registration followed too: removing it still ends the card its guardian saved.
            let staff = try await scenario.staffSession()
            #expect(try await scenario.verify(card, with: staff)["verdict"] as? String == "valid")
            let family = try json(try await scenario.send(.get, "/v1/family-members", as: .guardian, person: People.guardian).body)
            let registration = try #require((family["family_members"] as? [[String: Any]])?.first?["id"] as? String)
            let removed = try await scenario.send(.delete, "/v1/family-members/\(registration)", as: .guardian, person: People.guardian)
            #expect(removed.status == .noContent, "\(removed.body)")
            #expect(try await scenario.verify(card, with: staff)["verdict"] as? String != "valid")
        }
    }

    @Test("printed cards, a terminal's name check and assertion bindings hold across a rotation and its rekey")
    func cardsNamesAndBindings() async throws {
        let ring = ServerSecretRing([Self.first])
        try await Scenario.run(personalData: PersonalData(ring: ring)) { scenario in
            let card = try await scenario.terminal("/v1/offline-codes", People.elder)
            #expect(card.status == .created, "\(card.body)")
            let printed = try #require(try json(card.body)["code"] as? String)
            // Bound to the guardian app's key before the rotation.
            let assertion = try await scenario.assertion(People.passerby)
            let bound = try await scenario.client.send(
                .get, "/v1/family-members", key: scenario.keys[.guardian], headers: [PassbyHeaders.assertion: assertion])
            #expect(bound.status == .ok, "\(bound.body)")
            let lookup = #"{"id_number":"\#(People.elder.idNumber)","consent_token":"0000-0000-0000-0000"}"#

            ring.update([Self.first, Self.second])
            let staff = try await scenario.staffSession()
            #expect(try await scenario.verify(printed, with: staff)["verdict"] as? String == "valid")
            let replayed = try await scenario.client.send(
                .post, "/v1/lookups", key: scenario.keys[.helper], body: lookup, headers: [PassbyHeaders.assertion: assertion])
            try expectProblem(replayed, .unauthorized, "assertion-other-client")

            let rekeying = SecretRekeying(
                store: PostgresSecretRekeyStore(client: scenario.postgres.timed, logger: logger), versions: [Self.first, Self.second])
            _ = try await rekeying.run(to: 2)
            #expect(try await counts(scenario).behind(2) == 0)
            #expect(try await scenario.verify(printed, with: staff)["verdict"] as? String == "valid", "the card's reference did not move")
            let againReplayed = try await scenario.client.send(
                .post, "/v1/lookups", key: scenario.keys[.helper], body: lookup, headers: [PassbyHeaders.assertion: assertion])
            try expectProblem(againReplayed, .unauthorized, "assertion-other-client")
            // The name hash moved with the key: the right name still fits, a wrong one still does not.
            try expectProblem(try await scenario.terminal("/v1/offline-codes", People.elder, name: "王秀华"), .notFound, "unknown-subject")
            let replaced = try await scenario.terminal("/v1/offline-codes/replace", People.elder)
            #expect(replaced.status == .created, "\(replaced.body)")
            let reprinted = try #require(try json(replaced.body)["code"] as? String)
            #expect(try await scenario.verify(reprinted, with: staff)["verdict"] as? String == "valid")
            #expect(try await scenario.verify(printed, with: staff)["verdict"] as? String == "replaced")
        }
    }

    @Test("failed consent tries counted before a rotation still count after it, and after rekey")
    func failuresSurvive() async throws {
        let ring = ServerSecretRing([Self.first])
        try await Scenario.run(configuration: .withoutLookupLimits, personalData: PersonalData(ring: ring)) { scenario in
            let limit = scenario.components.configuration.consentFailuresPerHour
            for _ in 0..<(limit - 1) {
                try expectProblem(try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0000"), .forbidden, "consent-invalid")
            }
            ring.update([Self.first, Self.second])
            // One try left under both versions together: the rotation gave no fresh ten.
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0000"), .forbidden, "consent-invalid")
            try expectProblem(
                try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0000"), .tooManyRequests, "consent-attempts-exceeded")
            let rekeying = SecretRekeying(
                store: PostgresSecretRekeyStore(client: scenario.postgres.timed, logger: logger), versions: [Self.first, Self.second])
            _ = try await rekeying.run(to: 2)
            #expect(try await count(scenario, "SELECT count(*)::int FROM consent_failures") == 1, "the two counts were merged")
            try expectProblem(
                try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0000"), .tooManyRequests, "consent-attempts-exceeded")
        }
    }

    @Test("a version announced for later is tried by lookups but makes no hash until its time")
    func announcedVersion() throws {
        let later = ServerSecretVersion(number: 2, key: Self.secondKey, activatesAt: Int64(Date().timeIntervalSince1970) + 3600)
        let announced = PersonalData(ring: ServerSecretRing([Self.first, later]))
        let plain = PersonalData(secret: TestApp.secret)
        let id = try IdentityNumber(parsing: People.elder.idNumber, today: People.today)
        #expect(announced.currentVersion == 1)
        #expect(announced.subjectKey(id) == plain.subjectKey(id))
        #expect(announced.subjectKey(id).lookupBytes.count == 2)
        let inForce = PersonalData(ring: ServerSecretRing([Self.first, Self.second]))
        #expect(inForce.subjectKey(id).version == 2)
        #expect(announced.subjectKey(id).lookupBytes.contains(inForce.subjectKey(id).bytes))
        #expect(inForce.subjectKey(id).matches(plain.subjectKey(id)))
    }
}
