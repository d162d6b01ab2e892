import Consent
import Foundation
import HTTPTypes
import Testing

@testable import LookupAPI

/// The person at a terminal sees and withdraws what was consented in their name (issue 13,
/// finding 10), on PostgreSQL.
@Suite("Grants seen and withdrawn by their subject at a terminal", .timeLimit(.minutes(5)))
struct TerminalGrantTests {
    func grants(_ scenario: Scenario, for person: TestPerson) async throws -> [[String: Any]] {
        let listed = try await GuardianshipFlowTests.atTerminal(scenario, "/v1/terminal/grants", for: person)
        #expect(listed.status == .ok, "\(listed.body)")
        return try #require(try json(listed.body)["grants"] as? [[String: Any]])
    }

    @Test("the subject lists every grant made for them, withdraws one, and cannot touch another person's")
    func seeAndWithdraw() async throws {
        try await Scenario.run { scenario in
            let byGuardian = try await scenario.guardianGrant(for: People.elder)
            let own = try await scenario.send(.post, "/v1/consents", as: .terminal, person: People.elder, body: ["id_number": People.elder.idNumber])
            #expect(own.status == .created, "\(own.body)")

            let listed = try await grants(scenario, for: People.elder)
            #expect(listed.count == 2)
            let guardians = listed.filter { $0["relation"] as? String == "guardian" }
            #expect(guardians.count == 1 && guardians[0]["id"] as? String == byGuardian.id)
            #expect(
                guardians.first?["guardian_masked_id"] as? String
                    == "\(People.guardian.idNumber.prefix(4))**********\(People.guardian.idNumber.suffix(4))")
            #expect(listed.allSatisfy { $0["status"] as? String == "active" && $0["max_uses"] != nil && $0["valid_until"] != nil })
            #expect(try await grants(scenario, for: People.otherElder).isEmpty, "only the grants made in the person's own name")

            // Another elderly person at the terminal cannot withdraw it, and learns nothing of it.
            let foreign = try await GuardianshipFlowTests.atTerminal(
                scenario, "/v1/terminal/grants/\(byGuardian.id)/withdrawal", for: People.otherElder)
            let unknown = try await GuardianshipFlowTests.atTerminal(scenario, "/v1/terminal/grants/\(UUID())/withdrawal", for: People.otherElder)
            try expectProblem(foreign, .notFound, "not-found")
            #expect(foreign.body == unknown.body, "another person's grant answers as an unknown one")
            #expect(try await scenario.ledger().contains { $0.record.kind == .grantRefused && $0.record.result == "not-found" })

            let withdrawn = try await GuardianshipFlowTests.atTerminal(scenario, "/v1/terminal/grants/\(byGuardian.id)/withdrawal", for: People.elder)
            #expect(withdrawn.status == .noContent, "\(withdrawn.body)")
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: byGuardian.token), .forbidden, "consent-withdrawn")
            let after = try await grants(scenario, for: People.elder)
            #expect(after.first { $0["id"] as? String == byGuardian.id }?["status"] as? String == "withdrawn")
            #expect(after.filter { $0["status"] as? String == "active" }.count == 1, "the other grant still acts")
            let record = try #require(try await scenario.ledger().last { $0.record.kind == .grantWithdrawn })
            #expect(record.record.result == "withdrawn-by-subject" && record.record.grantID?.uuidString.lowercased() == byGuardian.id.lowercased())
        }
    }

    @Test("a child cannot be served at a terminal alone, and a card whose name does not fit is an unknown person")
    func whoMayAsk() async throws {
        try await Scenario.run { scenario in
            let child = try await GuardianshipFlowTests.atTerminal(scenario, "/v1/terminal/grants", for: People.child)
            try expectProblem(child, .forbidden, "self-service-elderly-only")
            let wrongName = try await scenario.send(
                .post, "/v1/terminal/grants", as: .terminal, person: nil,
                body: ["method": "id-card", "id_number": People.elder.idNumber, "name": "李四"])
            try expectProblem(wrongName, .notFound, "unknown-subject")
            let helper = try await scenario.send(
                .post, "/v1/terminal/grants", as: .helper, person: nil,
                body: ["method": "id-card", "id_number": People.elder.idNumber, "name": People.elder.name])
            #expect(helper.status == .forbidden, "only a terminal's key")
        }
    }
}
