import Consent
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import ThrowawayPostgres

@testable import LookupAPI

@Suite("System routes, errors and metrics", .timeLimit(.minutes(5)))
struct SystemAPITests {
    @Test("healthz and readyz answer 200 when the database answers")
    func ready() async throws {
        let (components, _) = try await TestApp.postgres()
        try await buildApplication(components).test(.router) { client in
            let health = try await client.send(.get, "/healthz")
            let readiness = try await client.send(.get, "/readyz")
            #expect(health.status == .ok)
            #expect(readiness.status == .ok)
            // Each trusted identity provider, with its usable keys and their age.
            let line = try #require(readiness.body.split(separator: "\n").first { $0.hasPrefix("provider \(DevelopmentIdentityProvider.issuer) ") })
            #expect(line.contains("keys=1 ") && line.hasSuffix("s"), "\(line)")
        }
    }

    @Test("readyz and metrics name the instance (PASSBY_INSTANCE), so an operator behind a load balancer knows who answered")
    func instanceName() async throws {
        var components = try await TestApp.memory()
        components.configuration.instanceName = "passby-b:8081"
        try await buildApplication(components).test(.router) { client in
            let readiness = try await client.send(.get, "/readyz")
            #expect(readiness.body.split(separator: "\n").contains("instance passby-b:8081"))
            let metrics = try await client.send(.get, "/metrics")
            #expect(metrics.body.contains(#"passby_instance_info{name="passby-b:8081"} 1"#))
        }
        #expect(try PassbyConfiguration.fromEnvironment(["PASSBY_INSTANCE": "node-2.eu_1:8080"]).instanceName == "node-2.eu_1:8080")
        for bad in ["a b", "x\"}", String(repeating: "a", count: 65), "名"] {
            #expect(throws: PassbyConfiguration.InvalidSetting.self, "\(bad)") { try PassbyConfiguration.fromEnvironment(["PASSBY_INSTANCE": bad]) }
        }
        // Read on its own, not only beside PASSBY_MAX_STATUS_BATCH.
        #expect(try PassbyConfiguration.fromEnvironment(["PASSBY_EXPORT_MAX_ROWS": "7"]).maxExportRows == 7)
    }

    @Test("unknown routes and methods are problems too")
    func unknownRoutes() async throws {
        try await buildApplication(try await TestApp.memory()).test(.router) { client in
            try expectProblem(try await client.send(.get, "/v1/nothing-here"), .notFound, "not-found")
            try expectProblem(try await client.send(.get, "/nothing"), .notFound, "not-found")
        }
    }

    @Test("metrics count requests by route and status, and carry no ID number")
    func metrics() async throws {
        let components = try await TestApp.memory()
        let gateway = try await components.clients.create(name: "g", role: .gateway)
        try await buildApplication(components).test(.router) { client in
            let body = #"[{"id_number":"11010519491231002X","name":"王秀英","status":"green","as_of":"2026-01-01T00:00:00Z"}]"#
            #expect(try await client.send(.put, "/v1/health-statuses", key: gateway.key, body: body).status == .ok)
            _ = try await client.send(.put, "/v1/health-statuses", body: body)
            let metrics = try await client.send(.get, "/metrics")
            #expect(metrics.status == .ok)
            #expect(metrics.body.contains(#"http_route="/v1/health-statuses""#))
            #expect(metrics.body.contains(#"http_response_status_code="401""#))
            #expect(metrics.body.contains("http_server_request_duration_bucket"))
            #expect(!metrics.body.contains("11010519491231002X"))
            #expect(!metrics.body.contains("19491231"))
        }
    }

    @Test("with PASSBY_METRICS_TOKEN, /metrics needs that bearer token; without, only local peers read it")
    func metricsAccess() async throws {
        var components = try await TestApp.memory()
        components.configuration.metricsToken = String(repeating: "m", count: 40)
        let reviewer = try await components.clients.create(name: "r", role: .reviewer)
        try await buildApplication(components).test(.router) { client in
            try expectProblem(try await client.send(.get, "/metrics"), .unauthorized, "missing-credentials")
            try expectProblem(try await client.send(.get, "/metrics", key: String(repeating: "m", count: 39)), .unauthorized, "invalid-credentials")
            try expectProblem(try await client.send(.get, "/metrics", key: reviewer.key), .unauthorized, "invalid-credentials")
            let read = try await client.send(.get, "/metrics", key: String(repeating: "m", count: 40))
            #expect(read.status == .ok && read.body.contains("http_server_request_duration_bucket"))
        }
        #expect(SystemController.isLocal(try SocketAddress(ipAddress: "127.0.0.1", port: 5000)))
        #expect(SystemController.isLocal(try SocketAddress(ipAddress: "::1", port: 5000)))
        #expect(!SystemController.isLocal(try SocketAddress(ipAddress: "10.0.0.7", port: 5000)))
        #expect(!SystemController.isLocal(try SocketAddress(ipAddress: "192.168.1.127", port: 5000)))
        #expect(!SystemController.isLocal(try SocketAddress(ipAddress: "fe80::1", port: 5000)))
        #expect(throws: PassbyConfiguration.InvalidSetting.self) { try PassbyConfiguration.fromEnvironment(["PASSBY_METRICS_TOKEN": "short"]) }
    }

    @Test("the demo seeds once: a second run keeps the keys and adds no client")
    func demoSeedOnce() async throws {
        let (components, _) = try await TestApp.postgres()
        let directory = TestDirectory.path("demo")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let seed = DemoSeed(dataDirectory: directory, components: components)
        try await buildApplication(components).test(.router) { client in
            let first = try await seed.run(clients: components.clients, logger: .init(label: "test"))
            let second = try await seed.run(clients: components.clients, logger: .init(label: "test"))
            #expect(first.keys == second.keys)
            #expect(try await components.clients.list().count == 5)
            let today = components.configuration.agePolicy.today()
            let groups = try first.subjects.map { subject in
                let id = try IdentityNumber(parsing: subject.idNumber, today: today)
                return components.configuration.agePolicy.group(forAge: components.configuration.agePolicy.age(of: id.birthDate, on: today))
            }
            #expect(groups == [.elder, .child, nil])
            for subject in first.subjects {
                let key = TestApp.personalData.subjectKey(try IdentityNumber(parsing: subject.idNumber, today: today))
                #expect(try await components.statuses.record(for: key)?.status == subject.status)
            }
            let gateway = try #require(first.keys["demo-gateway"])
            #expect(try await client.send(.put, "/v1/health-statuses", key: gateway, body: "[]").status == .ok)
        }
    }
}

@Suite("passby id inspect", .timeLimit(.minutes(5)))
struct IdentityReportTests {
    let today = CivilDate(year: 2026, month: 11, day: 29)!

    func render(_ input: String) throws -> [String: Any] {
        let encoder = JSONEncoder()
        let data = try encoder.encode(IdentityReport(input, today: today, policy: AgePolicy()))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("a valid number prints every field")
    func valid() throws {
        let report = try render("110105491231002")
        #expect(report["valid"] as? Bool == true)
        #expect(report["normalized"] as? String == "11010519491231002X")
        #expect(report["kind"] as? String == "legacy-15")
        #expect(report["birth_date"] as? String == "1949-12-31")
        #expect(report["sex"] as? String == "female")
        #expect(report["masked"] as? String == "1101**********002X")
        #expect(report["age"] as? Int == 76)
        #expect(report["group"] as? String == "elder")
        #expect(report["reason"] == nil)
    }

    @Test("an invalid number prints its reason and nulls")
    func invalid() throws {
        let report = try render("110105194912310021")
        #expect(report["valid"] as? Bool == false)
        #expect(report["reason"] as? String == "checksum")
        #expect(report["normalized"] is NSNull)
        #expect(report["group"] is NSNull)
    }

    @Test("an adult has a null group")
    func adult() throws {
        #expect(try render("350203195510101235")["group"] as? String == "elder")
        let adult = try render("440305199005200716")
        #expect(adult["valid"] as? Bool == true)
        #expect(adult["group"] is NSNull)
        #expect(adult["age"] as? Int == 36)
    }
}
