import Consent
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import LookupAPI

@Suite("PUT /v1/health-statuses", .timeLimit(.minutes(5)))
struct HealthStatusAPITests {
    static let elder = "11010519491231002X"
    static let other = "350203195510101235"

    func item(_ id: String, _ status: String = "green", asOf: String = "2026-01-01T00:00:00Z", name: String = "王秀英") -> String {
        #"{"id_number":"\#(id)","name":"\#(name)","status":"\#(status)","as_of":"\#(asOf)"}"#
    }

    @Test("authentication: no key 401, unknown key 401, wrong role 403, revoked key 401 at once")
    func authentication() async throws {
        let (components, _) = try await TestApp.postgres()
        try await buildApplication(components).test(.router) { client in
            // Inside the test: the PostgreSQL pool runs only while the application does.
            let gateway = try await components.clients.create(name: "g", role: .gateway)
            let helper = try await components.clients.create(name: "h", role: .helper)
            try expectProblem(try await client.send(.put, "/v1/health-statuses", body: "[]"), .unauthorized, "missing-credentials")
            try expectProblem(
                try await client.send(.put, "/v1/health-statuses", key: "pbk_unknown", body: "[]"), .unauthorized, "invalid-credentials")
            try expectProblem(
                try await client.send(.put, "/v1/health-statuses", body: "[]", headers: [.authorization: "Basic dTpw"]),
                .unauthorized, "invalid-credentials")
            try expectProblem(try await client.send(.put, "/v1/health-statuses", key: helper.key, body: "[]"), .forbidden, "wrong-role")
            #expect(try await client.send(.put, "/v1/health-statuses", key: gateway.key, body: "[]").status == .ok)
            #expect(try await components.clients.revoke(id: gateway.client.id))
            try expectProblem(
                try await client.send(.put, "/v1/health-statuses", key: gateway.key, body: "[]"), .unauthorized, "invalid-credentials")
        }
    }

    @Test("malformed JSON and wrong types get 400 problem+json that names no value")
    func malformed() async throws {
        let components = try await TestApp.memory()
        let gateway = try await components.clients.create(name: "g", role: .gateway)
        try await buildApplication(components).test(.router) { client in
            for body in ["[{", "", "null", "{\"id_number\":\"\(Self.elder)\"}", "\"text\"", "[1,2"] {
                let response = try await client.send(.put, "/v1/health-statuses", key: gateway.key, body: body)
                try expectProblem(response, .badRequest, "malformed-request")
                #expect(!response.body.contains(Self.elder))
            }
        }
    }

    @Test("one bad item is rejected with its reason; the others are stored")
    func partialBatch() async throws {
        let (components, _) = try await TestApp.postgres()
        let batch =
            "["
            + [
                item(Self.elder),
                item("110105194912310021"),
                item(Self.other, "purple"),
                item(Self.other, asOf: "yesterday"),
                item(Self.other, asOf: "2999-01-01T00:00:00Z"),
                item(Self.other, name: "  "),
                #"{"name":"x","status":"green","as_of":"2026-01-01T00:00:00Z"}"#,
                #"{"id_number":12,"name":"x","status":"green","as_of":"2026-01-01T00:00:00Z"}"#,
                "7",
                item("1101051949123100"),
                item(Self.other, "yellow", asOf: "2026-01-01T08:00:00.250+08:00"),
            ].joined(separator: ",") + "]"
        try await buildApplication(components).test(.router) { client in
            let gateway = try await components.clients.create(name: "g", role: .gateway)
            let response = try await client.send(.put, "/v1/health-statuses", key: gateway.key, body: batch)
            #expect(response.status == .ok)
            let results = try #require(try json(response.body)["results"] as? [[String: Any]])
            let summary = results.map { ($0["result"] as? String ?? "") + (($0["reason"] as? String).map { ":" + $0 } ?? "") }
            #expect(
                summary == [
                    "accepted", "rejected:checksum", "rejected:invalid-status", "rejected:invalid-as-of", "rejected:future-as-of",
                    "rejected:invalid-name", "rejected:missing-id-number", "rejected:missing-id-number", "rejected:not-an-object",
                    "rejected:length", "accepted",
                ])
            #expect(results[0]["masked_id"] as? String == "1101**********002X")
            #expect(!response.body.contains(Self.elder))
            let key = TestApp.personalData.subjectKey(try IdentityNumber(parsing: Self.other, today: AgePolicy().today()))
            #expect(try await components.statuses.record(for: key)?.status == .yellow)
        }
    }

    @Test("an older status is ignored and says so")
    func olderIgnored() async throws {
        let components = try await TestApp.memory()
        let gateway = try await components.clients.create(name: "g", role: .gateway)
        try await buildApplication(components).test(.router) { client in
            _ = try await client.send(
                .put, "/v1/health-statuses", key: gateway.key, body: "[\(item(Self.elder, "red", asOf: "2026-03-01T00:00:00Z"))]")
            let response = try await client.send(
                .put, "/v1/health-statuses", key: gateway.key, body: "[\(item(Self.elder, "green", asOf: "2026-02-01T00:00:00Z"))]")
            let body = try json(response.body)
            #expect(body["ignored"] as? Int == 1)
            #expect(((body["results"] as? [[String: Any]])?.first?["result"] as? String) == "ignored-older")
        }
    }

    @Test("bodies over the byte limit and batches over the item limit get 413")
    func limits() async throws {
        var configuration = PassbyConfiguration()
        configuration.maxStatusBatch = 3
        let components = try await TestApp.memory(configuration: configuration)
        let gateway = try await components.clients.create(name: "g", role: .gateway)
        try await buildApplication(components).test(.router) { client in
            let huge = "[" + Array(repeating: item(Self.elder), count: 1000).joined(separator: ",") + "]"
            try expectProblem(try await client.send(.put, "/v1/health-statuses", key: gateway.key, body: huge), .contentTooLarge, "body-too-large")
            let four = "[" + Array(repeating: item(Self.elder), count: 4).joined(separator: ",") + "]"
            try expectProblem(try await client.send(.put, "/v1/health-statuses", key: gateway.key, body: four), .contentTooLarge, "batch-too-large")
            #expect(try await client.send(.put, "/v1/health-statuses", key: gateway.key, body: "[\(item(Self.elder))]").status == .ok)
        }
    }

    @Test("a database that cannot be reached gets 503 problem+json, not 500 and not a hang")
    func databaseDown() async throws {
        let app = buildApplication(try await TestApp.unreachable())
        try await app.test(.router) { client in
            try expectProblem(
                try await client.send(.put, "/v1/health-statuses", key: "pbk_anything", body: "[]"), .serviceUnavailable, "database-unavailable")
            try expectProblem(try await client.send(.get, "/readyz"), .serviceUnavailable, "database-unavailable")
            #expect(try await client.send(.get, "/healthz").status == .ok)
        }
    }
}
