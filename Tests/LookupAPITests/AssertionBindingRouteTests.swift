import Consent
import Foundation
import HTTPTypes
import Testing

@testable import LookupAPI

/// A captured assertion does not work through another client key (issue 13, finding 6), on
/// PostgreSQL, for lookups and for a guardian's routes alike.
@Suite("An assertion works only through the client that first sent it", .timeLimit(.minutes(5)))
struct AssertionBindingRouteTests {
    @Test("a helper's assertion replayed through the gateway's key is 401 assertion-other-client, and recorded")
    func lookup() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            let captured = try await scenario.assertion(People.passerby)
            let body = #"{"id_number":"\#(People.elder.idNumber)","consent_token":"\#(grant.token)"}"#
            let first = try await scenario.client.send(
                .post, "/v1/lookups", key: scenario.keys[.gateway],
                body: #"{"id_number":"\#(People.elder.idNumber)","consent_token":"0000-0000-0000-0000"}"#,
                headers: [PassbyHeaders.assertion: captured])
            try expectProblem(first, .forbidden, "consent-invalid")
            let replayed = try await scenario.client.send(
                .post, "/v1/lookups", key: scenario.keys[.helper], body: body, headers: [PassbyHeaders.assertion: captured])
            try expectProblem(replayed, .unauthorized, "assertion-other-client")
            let refused = try await scenario.ledger().filter { $0.record.kind == .lookupRefused }.map(\.record.result)
            #expect(refused == ["consent-invalid", "assertion-other-client"])
            // The grant was left alone: the gateway, through which the assertion came first, uses it.
            let honest = try await scenario.client.send(
                .post, "/v1/lookups", key: scenario.keys[.gateway], body: body, headers: [PassbyHeaders.assertion: captured])
            #expect(honest.status == .created, "\(honest.body)")
        }
    }

    @Test("a guardian's assertion sent through another guardian client cannot list or register family members")
    func guardianRoutes() async throws {
        try await Scenario.run { scenario in
            let other = try await scenario.components.clients.create(name: "other-guardian-app", role: .guardian).key
            let captured = try await scenario.assertion(People.guardian)
            let listed = try await scenario.client.send(
                .get, "/v1/family-members", key: scenario.keys[.guardian], headers: [PassbyHeaders.assertion: captured])
            #expect(listed.status == .ok)
            let stolen = try await scenario.client.send(.get, "/v1/family-members", key: other, headers: [PassbyHeaders.assertion: captured])
            try expectProblem(stolen, .unauthorized, "assertion-other-client")
            let register = #"{"id_number":"\#(People.elder.idNumber)","name":"\#(People.elder.name)","relationship":"child"}"#
            let registered = try await scenario.client.send(
                .post, "/v1/family-members", key: other, body: register, headers: [PassbyHeaders.assertion: captured])
            try expectProblem(registered, .unauthorized, "assertion-other-client")
        }
    }
}
