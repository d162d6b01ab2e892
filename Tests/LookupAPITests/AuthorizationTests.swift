import Consent
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import LookupAPI

/// The security review's findings, one test each: who may call what, and whose objects.
@Suite("Authorization: roles per route and ownership of objects", .timeLimit(.minutes(5)))
struct AuthorizationTests {
    /// The roles each /v1 route serves; an empty set is a route that needs no key.
    static let allowed: [String: Set<Role>] = [
        "PUT /v1/health-statuses": [.gateway],
        "POST /v1/verifications": [.checkpoint],
        "POST /v1/family-members": [.guardian], "GET /v1/family-members": [.guardian], "DELETE /v1/family-members/{id}": [.guardian],
        "POST /v1/consents": [.guardian, .terminal], "POST /v1/consents/attested": [.helper],
        "DELETE /v1/consents/{id}": [.guardian, .terminal, .helper], "GET /v1/consents/{id}/receipt": [.guardian, .terminal, .helper],
        "POST /v1/lookups": [.helper, .gateway],
        "POST /v1/terminal/identify": [.terminal], "POST /v1/offline-codes": [.terminal, .guardian],
        "POST /v1/offline-codes/replace": [.terminal, .guardian], "GET /v1/offline-codes/{id}/print": [.terminal, .guardian],
        "GET /v1/family-members/{id}/guardians": [.guardian], "POST /v1/guardianship-confirmations": [.gateway],
        "POST /v1/terminal/guardianships": [.terminal], "POST /v1/terminal/grants": [.terminal],
        "POST /v1/terminal/grants/{id}/withdrawal": [.terminal], "POST /v1/terminal/guardianships/{id}/confirmation": [.terminal],
        "POST /v1/terminal/guardianships/{id}/removal": [.terminal],
        "GET /v1/ledger/head": [.reviewer], "GET /v1/ledger/consistency": [.reviewer], "GET /v1/records/{seq}/proof": [.reviewer],
        "GET /v1/records": [.reviewer],
        "POST /v1/staff/sessions": [], "DELETE /v1/staff/sessions": [],
    ]

    @Test("every /v1 route answers 401 without a key and 403 to every role it does not serve, a staff session included")
    func rolesPerRoute() async throws {
        try await Scenario.run { scenario in
            let routed = OpenAPIContractTests.routedOperations(buildRouter(scenario.components), files: WebFiles(byPath: [:]))
                .filter { $0.contains(" /v1/") }
            #expect(routed == Set(Self.allowed.keys), "a /v1 route without an entry here has not been reviewed")
            let session = try await scenario.staffSession()
            for (operation, roles) in Self.allowed where !roles.isEmpty {
                let parts = operation.split(separator: " ")
                let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                let uri = parts[1].replacingOccurrences(of: "{id}", with: UUID().uuidString).replacingOccurrences(of: "{seq}", with: "1")
                try expectProblem(try await scenario.client.send(method, uri, body: "{}"), .unauthorized, "missing-credentials")
                for role in Role.allCases where !roles.contains(role) {
                    let answer = try await scenario.client.send(method, uri, key: scenario.keys[role], body: "{}")
                    try expectProblem(answer, .forbidden, "wrong-role")
                }
                if !roles.contains(.checkpoint) {
                    try expectProblem(try await scenario.client.send(method, uri, key: session, body: "{}"), .forbidden, "wrong-role")
                }
            }
        }
    }

    @Test("a guardian can neither read the receipt of, nor withdraw, another guardian's grant")
    func otherGuardiansGrant() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            for (method, path) in [(HTTPRequest.Method.get, "/v1/consents/\(grant.id)/receipt"), (.delete, "/v1/consents/\(grant.id)")] {
                try expectProblem(try await scenario.send(method, path, as: .guardian, person: People.otherPasserby), .notFound, "not-found")
            }
            #expect(try await scenario.lookup(People.elder.idNumber, token: grant.token).status == .created, "the grant still works")
        }
    }

    @Test("a guardian cannot remove another guardian's family member")
    func otherGuardiansFamilyMember() async throws {
        try await Scenario.run { scenario in
            let added = try await scenario.send(
                .post, "/v1/family-members", as: .guardian, person: People.guardian,
                body: ["id_number": People.elder.idNumber, "name": People.elder.name, "relationship": "parent"])
            let id = try #require(try json(added.body)["id"] as? String)
            try expectProblem(
                try await scenario.send(.delete, "/v1/family-members/\(id)", as: .guardian, person: People.otherPasserby),
                .notFound, "not-found")
            let listed = try json(try await scenario.send(.get, "/v1/family-members", as: .guardian, person: People.guardian).body)
            #expect((listed["family_members"] as? [Any])?.count == 1)
        }
    }

    @Test("a guardian prints only the cards of people they are a confirmed guardian of")
    func otherGuardiansCard() async throws {
        try await Scenario.run { scenario in
            let applied = try json(try await scenario.terminal("/v1/offline-codes", People.elder).body)
            let url = try #require(applied["print_url"] as? String)
            // Another guardian, with a valid assertion but no registration for this person.
            try expectProblem(try await scenario.send(.get, url, as: .guardian, person: People.otherPasserby), .notFound, "not-found")
            _ = try await scenario.send(
                .post, "/v1/family-members", as: .guardian, person: People.guardian,
                body: ["id_number": People.elder.idNumber, "name": People.elder.name, "relationship": "parent"])
            try expectProblem(try await scenario.send(.get, url, as: .guardian, person: People.guardian), .notFound, "not-found")
            try await scenario.confirmGuardian(People.guardian, of: People.elder)
            #expect(try await scenario.send(.get, url, as: .guardian, person: People.guardian).status == .ok, "once confirmed")
            try expectProblem(try await scenario.client.send(.get, url, key: scenario.keys[.guardian]), .unauthorized, "assertion-missing")
        }
    }

    @Test("a code is replaced only by a terminal or a guardian with an assertion; no other client may")
    func replaceNeedsATerminal() async throws {
        try await Scenario.run { scenario in
            let body = #"{"method":"id-card","id_number":"\#(People.elder.idNumber)","name":"\#(People.elder.name)"}"#
            try expectProblem(try await scenario.client.send(.post, "/v1/offline-codes/replace", body: body), .unauthorized, "missing-credentials")
            try expectProblem(
                try await scenario.client.send(.post, "/v1/offline-codes/replace", key: "pbk_forged", body: body),
                .unauthorized, "invalid-credentials")
            try expectProblem(
                try await scenario.client.send(.post, "/v1/offline-codes/replace", key: scenario.keys[.helper], body: body),
                .forbidden, "wrong-role")
            try expectProblem(
                try await scenario.client.send(.post, "/v1/offline-codes/replace", key: scenario.keys[.guardian], body: body),
                .unauthorized, "assertion-missing")
            #expect(try await scenario.client.send(.post, "/v1/offline-codes/replace", key: scenario.keys[.terminal], body: body).status == .created)
        }
    }

    @Test("no private key or secret is served: the key set holds public keys only")
    func noSecretsServed() async throws {
        try await Scenario.run { scenario in
            let keys = try json(try await scenario.client.send(.get, "/.well-known/passby-keys.json").body)
            let published = try #require(keys["keys"] as? [[String: Any]])
            #expect(!published.isEmpty && published.allSatisfy { $0["d"] == nil })
            for path in ["/secret", "/keys", "/.passby/secret", "/assets/../secret", "/dev-idp.key"] {
                #expect(try await scenario.client.send(.get, path).status == .notFound)
            }
        }
    }
}
