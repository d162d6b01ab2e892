import Consent
import Foundation
import HTTPTypes
import Testing

@testable import LookupAPI

/// Guardianship is established, not declared (issue 13, findings 4 and 7), on PostgreSQL.
@Suite("Guardianship: pending until confirmed, seen and removed by the family", .timeLimit(.minutes(5)))
struct GuardianshipFlowTests {
    typealias Answer = (status: HTTPResponse.Status, headers: HTTPFields, body: String)

    static func register(_ scenario: Scenario, _ subject: TestPerson, name: String? = nil, by guardian: TestPerson = People.guardian) async throws
        -> Answer
    {
        try await scenario.send(
            .post, "/v1/family-members", as: .guardian, person: guardian,
            body: ["id_number": subject.idNumber, "name": name ?? subject.name, "relationship": "child"])
    }

    static func confirm(_ scenario: Scenario, _ guardian: TestPerson, of subject: TestPerson) async throws -> Answer {
        try await scenario.send(
            .post, "/v1/guardianship-confirmations", as: .gateway, person: nil,
            body: ["guardian_id_number": guardian.idNumber, "subject_id_number": subject.idNumber, "relationship": "child"])
    }

    static func atTerminal(_ scenario: Scenario, _ path: String, for person: TestPerson) async throws -> Answer {
        try await scenario.send(
            .post, path, as: .terminal, person: nil, body: ["method": "id-card", "id_number": person.idNumber, "name": person.name])
    }

    static func id(_ answer: Answer) throws -> String { try #require(try json(answer.body)["id"] as? String) }

    @Test("a registration answers alike whether or not Passby knows the person or the name fits; pending, it cannot grant")
    func registrationRevealsNothing() async throws {
        try await Scenario.run { scenario in
            let answers = [
                try await Self.register(scenario, People.elder), try await Self.register(scenario, People.otherElder, name: "陈建华"),
                try await Self.register(scenario, People.unknownElder),
            ]
            for answer in answers {
                #expect(answer.status == .accepted, "\(answer.body)")
                let body = try json(answer.body)
                #expect(Set(body.keys) == ["id", "masked_id", "masked_name", "relationship", "created_at", "status"])
                #expect(body["status"] as? String == "pending")
            }
            #expect(try json(answers[1].body)["masked_name"] as? String == "陈*华", "masked from the name given, not the record")
            try expectProblem(
                try await scenario.send(.post, "/v1/consents", as: .guardian, person: People.guardian, body: ["id_number": People.elder.idNumber]),
                .forbidden, "not-a-guardian")
            try expectProblem(
                try await scenario.send(
                    .post, "/v1/offline-codes", as: .guardian, person: People.guardian, body: ["id_number": People.elder.idNumber]),
                .forbidden, "not-a-guardian")
            let added = try await scenario.ledger().filter { $0.record.kind == .familyMemberAdded }.map(\.record.result)
            #expect(added == ["pending", "pending", "pending"])
        }
    }

    @Test("the subject's quota counts confirmed guardians only: strangers declaring themselves do not lock the family out")
    func strangersTakeNoPlace() async throws {
        var configuration = PassbyConfiguration()
        configuration.quotas.guardiansPerSubject = 1
        try await Scenario.run(configuration: configuration) { scenario in
            #expect(try await Self.register(scenario, People.elder, by: People.passerby).status == .accepted)
            #expect(try await Self.register(scenario, People.elder, by: People.otherPasserby).status == .accepted)
            #expect(try await Self.register(scenario, People.elder).status == .accepted)
            #expect(try await Self.confirm(scenario, People.guardian, of: People.elder).status == .ok)
            try expectProblem(try await Self.confirm(scenario, People.passerby, of: People.elder), .conflict, "subject-guardian-quota-exceeded")
            let granted = try await scenario.send(
                .post, "/v1/consents", as: .guardian, person: People.guardian, body: ["id_number": People.elder.idNumber])
            #expect(granted.status == .created, "the real family grants")
        }
    }

    @Test("the person at a terminal sees, confirms and removes the registrations naming them")
    func terminalConfirmsAndRemoves() async throws {
        try await Scenario.run { scenario in
            let registered = try await Self.register(scenario, People.elder, by: People.passerby)
            let id = try Self.id(registered)
            let listed = try json(try await Self.atTerminal(scenario, "/v1/terminal/guardianships", for: People.elder).body)
            let guardians = try #require(listed["guardians"] as? [[String: Any]])
            #expect(guardians.count == 1 && guardians[0]["status"] as? String == "pending")
            #expect(guardians[0]["guardian_masked_id"] as? String == "4403**********0514")
            let others = try json(try await Self.atTerminal(scenario, "/v1/terminal/guardianships", for: People.otherElder).body)
            #expect((others["guardians"] as? [Any])?.isEmpty == true, "only the registrations naming the person at the terminal")
            try expectProblem(
                try await Self.atTerminal(scenario, "/v1/terminal/guardianships/\(id)/confirmation", for: People.otherElder), .notFound,
                "not-found")

            let confirmed = try await Self.atTerminal(scenario, "/v1/terminal/guardianships/\(id)/confirmation", for: People.elder)
            #expect(confirmed.status == .ok, "\(confirmed.body)")
            #expect(try json(confirmed.body)["confirmed_by"] as? String == "terminal")
            let granted = try await scenario.send(
                .post, "/v1/consents", as: .guardian, person: People.passerby, body: ["id_number": People.elder.idNumber])
            let token = try #require(try json(granted.body)["token"] as? String)

            #expect(try await Self.atTerminal(scenario, "/v1/terminal/guardianships/\(id)/removal", for: People.elder).status == .noContent)
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: token), .forbidden, "consent-withdrawn")
            let kinds = try await scenario.ledger().map(\.record.kind)
            #expect(kinds.contains(.familyMemberConfirmed) && kinds.contains(.familyMemberRemoved))
        }
    }

    @Test("a confirmed guardian sees and removes the person's other registrations; a pending one sees nothing")
    func confirmedGuardianManages() async throws {
        try await Scenario.run { scenario in
            let mine = try Self.id(try await Self.register(scenario, People.elder))
            _ = try await Self.confirm(scenario, People.guardian, of: People.elder)
            let theirs = try Self.id(try await Self.register(scenario, People.elder, by: People.passerby))
            try expectProblem(
                try await scenario.send(.get, "/v1/family-members/\(theirs)/guardians", as: .guardian, person: People.passerby), .notFound,
                "not-found")
            try expectProblem(
                try await scenario.send(.delete, "/v1/family-members/\(mine)", as: .guardian, person: People.passerby), .notFound, "not-found")
            try expectProblem(
                try await scenario.send(.get, "/v1/family-members/\(mine)/guardians", as: .guardian, person: People.passerby), .notFound,
                "not-found")
            let seen = try json(try await scenario.send(.get, "/v1/family-members/\(mine)/guardians", as: .guardian, person: People.guardian).body)
            #expect((seen["guardians"] as? [[String: Any]])?.compactMap { $0["status"] as? String } == ["confirmed", "pending"])
            #expect(try await scenario.send(.delete, "/v1/family-members/\(theirs)", as: .guardian, person: People.guardian).status == .noContent)
            let left = try json(try await scenario.send(.get, "/v1/family-members", as: .guardian, person: People.passerby).body)
            #expect((left["family_members"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("a confirmed guardian replaces a child's card; removing a guardian who saved it ends its generation")
    func removalRetiresTheCard() async throws {
        try await Scenario.run { scenario in
            let checkpoint = try #require(scenario.keys[.checkpoint])
            let holder = try Self.id(try await Self.register(scenario, People.child))
            _ = try await Self.confirm(scenario, People.guardian, of: People.child)
            let saved = try await scenario.send(
                .post, "/v1/offline-codes", as: .guardian, person: People.guardian, body: ["id_number": People.child.idNumber])
            let first = try #require(try json(saved.body)["code"] as? String)
            let replaced = try await scenario.send(
                .post, "/v1/offline-codes/replace", as: .guardian, person: People.guardian, body: ["id_number": People.child.idNumber])
            #expect(replaced.status == .created, "\(replaced.body)")
            let second = try #require(try json(replaced.body)["code"] as? String)
            #expect(try await scenario.verify(first, with: checkpoint)["verdict"] as? String == "replaced")
            #expect(try await scenario.verify(second, with: checkpoint)["verdict"] as? String == "valid")

            // The other parent, confirmed too, removes the one who holds the card.
            _ = try await Self.register(scenario, People.child, by: People.passerby)
            _ = try await Self.confirm(scenario, People.passerby, of: People.child)
            #expect(
                try await scenario.send(.delete, "/v1/family-members/\(holder)", as: .guardian, person: People.passerby).status == .noContent)
            #expect(try await scenario.verify(second, with: checkpoint)["verdict"] as? String == "replaced", "the removed guardian's card fails")
            #expect(try await scenario.ledger().contains { $0.record.kind == .offlineCodeRetired })
            // Removing one who never saved a card leaves the generation alone.
            let fresh = try await scenario.send(
                .post, "/v1/offline-codes", as: .guardian, person: People.passerby, body: ["id_number": People.child.idNumber])
            let third = try #require(try json(fresh.body)["code"] as? String)
            _ = try await Self.register(scenario, People.child)
            _ = try await Self.confirm(scenario, People.guardian, of: People.child)
            let again = try #require(
                try await scenario.components.consents.guardianships(
                    of: scenario.components.personalData.subjectKey(
                        try IdentityNumber(parsing: People.guardian.idNumber, today: People.today))
                ).first?.id)
            #expect(
                try await scenario.send(.delete, "/v1/family-members/\(again)", as: .guardian, person: People.passerby).status == .noContent)
            #expect(try await scenario.verify(third, with: checkpoint)["verdict"] as? String == "valid")
        }
    }

    @Test("a dependents claim in the guardian's assertion confirms at once, for the people it names only")
    func assertionClaimConfirms() async throws {
        try await Scenario.run { scenario in
            let vouched = try await TestApp.identityProvider.mint(
                name: People.guardian.name, idNumber: People.guardian.idNumber, dependents: [People.elder.idNumber])
            func register(_ subject: TestPerson) async throws -> Answer {
                try await scenario.client.send(
                    .post, "/v1/family-members", key: scenario.keys[.guardian],
                    body: #"{"id_number":"\#(subject.idNumber)","name":"\#(subject.name)","relationship":"parent"}"#,
                    headers: [PassbyHeaders.assertion: vouched])
            }
            let confirmed = try await register(People.elder)
            #expect(confirmed.status == .created, "\(confirmed.body)")
            #expect(try json(confirmed.body)["confirmed_by"] as? String == "assertion")
            #expect(try await register(People.otherElder).status == .accepted, "someone the claim does not name stays pending")
            // A registration made while pending is confirmed by a later assertion that vouches for it.
            _ = try await Self.register(scenario, People.child)
            let later = try await TestApp.identityProvider.mint(
                name: People.guardian.name, idNumber: People.guardian.idNumber, dependents: [People.child.idNumber])
            let again = try await scenario.client.send(
                .post, "/v1/family-members", key: scenario.keys[.guardian],
                body: #"{"id_number":"\#(People.child.idNumber)","name":"\#(People.child.name)","relationship":"parent"}"#,
                headers: [PassbyHeaders.assertion: later])
            #expect(try json(again.body)["status"] as? String == "confirmed", "\(again.body)")
        }
    }

    @Test("a grant by someone who is not a confirmed guardian is not-a-guardian, whether or not Passby knows the person")
    func grantOrder() async throws {
        try await Scenario.run { scenario in
            for person in [People.elder, People.unknownElder] {
                let answer = try await scenario.send(
                    .post, "/v1/consents", as: .guardian, person: People.passerby, body: ["id_number": person.idNumber])
                try expectProblem(answer, .forbidden, "not-a-guardian")
            }
        }
    }

    @Test("a known guardian's refusals are recorded; one without an assertion is not; a guardian is authenticated before a card id is looked at")
    func refusalsRecordedInOrder() async throws {
        try await Scenario.run { scenario in
            try expectProblem(try await Self.register(scenario, People.adult), .forbidden, "not-eligible")
            try expectProblem(
                try await scenario.send(
                    .post, "/v1/family-members", as: .guardian, person: nil,
                    body: ["id_number": People.elder.idNumber, "name": "x", "relationship": "child"]),
                .unauthorized, "assertion-missing")
            let refused = try await scenario.ledger().filter { $0.record.kind == .familyMemberRefused }
            #expect(refused.map(\.record.result) == ["not-eligible"])
            #expect(refused.first?.record.requesterMasked == "1101**********0016")
            let print = "/v1/offline-codes/\(UUID().uuidString)/print"
            try expectProblem(try await scenario.send(.get, print, as: .guardian, person: nil), .unauthorized, "assertion-missing")
            try expectProblem(try await scenario.send(.get, print, as: .guardian, person: People.guardian), .notFound, "not-found")
        }
    }
}
