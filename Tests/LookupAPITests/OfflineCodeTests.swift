import Consent
import Display
import Foundation
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import Testing

@testable import LookupAPI

extension Scenario {
    /// A staff account with a cheap bcrypt cost, and a logged-in session token.
    func staffSession(_ username: String = "gate-7", password: String = "correct horse") async throws -> String {
        _ = try await components.staff.add(username: username, passwordHash: Bcrypt.hash(password, cost: 4))
        let login = try await client.send(.post, "/v1/staff/sessions", body: #"{"username":"\#(username)","password":"\#(password)"}"#)
        #expect(login.status == .created, "\(login.body)")
        return try #require(try json(login.body)["token"] as? String)
    }

    func verify(_ code: String, with key: String) async throws -> [String: Any] {
        let body = String(decoding: try JSONEncoder().encode(["code": code]), as: UTF8.self)
        let response = try await client.send(.post, "/v1/verifications", key: key, body: body)
        #expect(response.status == .ok, "\(response.body)")
        return try json(response.body)
    }

    func terminal(_ path: String, _ person: TestPerson, name: String? = nil) async throws
        -> (status: HTTPResponse.Status, headers: HTTPFields, body: String)
    {
        try await send(
            .post, path, as: .terminal, person: nil,
            body: ["method": "id-card", "id_number": person.idNumber, "name": name ?? person.name])
    }
}

@Suite("Offline codes, terminals and checkpoint staff", .timeLimit(.minutes(5)))
struct OfflineCodeTests {
    @Test("a guardian saves a code; staff verify it with the current status, which follows status changes")
    func guardianSaves() async throws {
        try await Scenario.run { scenario in
            _ = try await scenario.guardianGrant(for: People.elder)
            let saved = try await scenario.send(
                .post, "/v1/offline-codes", as: .guardian, person: People.guardian, body: ["id_number": People.elder.idNumber])
            #expect(saved.status == .created, "\(saved.body)")
            let code = try #require(try json(saved.body)["code"] as? String)
            #expect(try json(saved.body)["generation"] as? Int == 1)
            let again = try await scenario.send(
                .post, "/v1/offline-codes", as: .guardian, person: People.guardian, body: ["id_number": People.elder.idNumber])
            #expect(again.status == .ok)
            #expect(try json(again.body)["generation"] as? Int == 1)
            #expect(try json(again.body)["code"] as? String == code)

            let staff = try await scenario.staffSession()
            let first = try await scenario.verify(code, with: staff)
            #expect(first["verdict"] as? String == "valid")
            #expect(first["kind"] as? String == "offline")
            #expect(first["status"] as? String == "green")
            let push = #"[{"id_number":"\#(People.elder.idNumber)","name":"\#(People.elder.name)","status":"red","as_of":"2026-06-01T00:00:00Z"}]"#
            #expect(try await scenario.client.send(.put, "/v1/health-statuses", key: scenario.keys[.gateway], body: push).status == .ok)
            let second = try await scenario.verify(code, with: staff)
            #expect(second["status"] as? String == "red")

            let verifications = try await scenario.ledger().filter { $0.record.kind == .verification }
            #expect(verifications.count == 2)
            #expect(verifications.allSatisfy { $0.record.staffID != nil && $0.record.clientID == nil && $0.record.result == "valid" })
        }
    }

    @Test("a terminal replaces a code: the old one is replaced, the new one valid, both signatures still good")
    func replace() async throws {
        try await Scenario.run { scenario in
            let view = try await scenario.terminal("/v1/terminal/identify", People.elder)
            #expect(view.status == .ok)
            #expect(try json(view.body)["has_code"] as? Bool == false)
            #expect(try json(view.body)["masked_id"] as? String == "1101**********002X")
            let applied = try json(try await scenario.terminal("/v1/offline-codes", People.elder).body)
            let old = try #require(applied["code"] as? String)
            #expect(try json(try await scenario.terminal("/v1/terminal/identify", People.elder).body)["generation"] as? Int == 1)
            let replaced = try await scenario.terminal("/v1/offline-codes/replace", People.elder)
            #expect(replaced.status == .created)
            let new = try #require(try json(replaced.body)["code"] as? String)
            #expect(try json(replaced.body)["generation"] as? Int == 2)

            let checkpoint = try #require(scenario.keys[.checkpoint])
            #expect(try await scenario.verify(old, with: checkpoint)["verdict"] as? String == "replaced")
            #expect(try await scenario.verify(new, with: checkpoint)["verdict"] as? String == "valid")
            // Replacement is a server-side check: the old signature itself is as good as ever.
            let verifier = CodeVerifier(keys: scenario.components.keys.current.verification)
            #expect(verifier.verify(old, now: Int64(Date().timeIntervalSince1970)).verdict == .valid)
        }
    }

    @Test("ten concurrent replaces end ten generations on, and only the last code verifies")
    func concurrentReplaces() async throws {
        // The ten queue on the person's lock one after another; on a machine busy with every other
        // suite the last waited past the 5 s database deadline (an honest 503, not what this tests).
        var configuration = PassbyConfiguration()
        configuration.databaseTimeout = .seconds(60)
        try await Scenario.run(configuration: configuration) { scenario in
            _ = try await scenario.terminal("/v1/offline-codes", People.elder)
            let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        let answer = try await scenario.terminal("/v1/offline-codes/replace", People.elder)
                        let body = try json(answer.body)
                        // A refusal keeps its status and body, for the message below.
                        return (body["generation"] as? Int ?? -1, body["code"] as? String ?? "\(answer.status) \(answer.body)")
                    }
                }
                return try await group.reduce(into: [(Int, String)]()) { $0.append($1) }
            }
            #expect(results.map(\.0).sorted() == Array(2...11), "\(results.filter { $0.0 < 0 }.map(\.1))")
            let checkpoint = try #require(scenario.keys[.checkpoint])
            for (generation, code) in results {
                let verdict = try await scenario.verify(code, with: checkpoint)["verdict"] as? String
                #expect(verdict == (generation == 11 ? "valid" : "replaced"))
            }
        }
    }

    @Test("terminals serve only elderly people for themselves, with a matching name, and a wrong name tells nothing")
    func terminalRules() async throws {
        try await Scenario.run { scenario in
            try expectProblem(try await scenario.terminal("/v1/offline-codes", People.child), .forbidden, "self-service-elderly-only")
            try expectProblem(try await scenario.terminal("/v1/offline-codes", People.adult), .forbidden, "not-eligible")
            // A name that does not fit answers as an unknown person does: the terminal cannot test names.
            let wrongName = try await scenario.terminal("/v1/offline-codes", People.elder, name: "王秀华")
            try expectProblem(wrongName, .notFound, "unknown-subject")
            let unknown = try await scenario.terminal("/v1/offline-codes", People.unknownElder)
            #expect(wrongName.body == unknown.body)
            try expectProblem(try await scenario.terminal("/v1/offline-codes/replace", People.elder, name: "王秀华"), .notFound, "unknown-subject")
            // By app code: the person's own assertion.
            let byApp = try await scenario.send(.post, "/v1/offline-codes", as: .terminal, person: People.otherElder, body: ["method": "app-code"])
            #expect(byApp.status == .created)
            try expectProblem(
                try await scenario.send(.post, "/v1/offline-codes", as: .terminal, person: nil, body: ["method": "app-code"]),
                .unauthorized, "assertion-missing")
            try expectProblem(
                try await scenario.send(
                    .post, "/v1/offline-codes/replace", as: .helper, person: People.guardian,
                    body: ["method": "app-code"]), .forbidden, "wrong-role")
            // A guardian saves only for a registered family member.
            try expectProblem(
                try await scenario.send(
                    .post, "/v1/offline-codes", as: .guardian, person: People.guardian,
                    body: ["id_number": People.child.idNumber]), .forbidden, "not-a-guardian")
        }
    }

    @Test("staff login: one generic 401, a lock after repeated failures, and disabling ends sessions at once")
    func staffLogin() async throws {
        var configuration = PassbyConfiguration()
        configuration.staffLoginAttempts = 3
        try await Scenario.run(configuration: configuration) { scenario in
            let session = try await scenario.staffSession("gate-1", password: "right password")
            func login(_ user: String, _ password: String) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String) {
                try await scenario.client.send(.post, "/v1/staff/sessions", body: #"{"username":"\#(user)","password":"\#(password)"}"#)
            }
            try expectProblem(try await login("gate-1", "wrong password"), .unauthorized, "invalid-login")
            try expectProblem(try await login("nobody", "wrong password"), .unauthorized, "invalid-login")
            try expectProblem(try await login("gate-1", "wrong again"), .unauthorized, "invalid-login")
            try expectProblem(try await login("gate-1", "and again"), .unauthorized, "invalid-login")
            let locked = try await login("gate-1", "right password")
            try expectProblem(locked, .tooManyRequests, "login-locked")
            #expect(Int(locked.headers[.retryAfter] ?? "") ?? 0 > 0)

            let code = try CodeFormat.encode(
                CodeClaims(
                    issuer: "passby", issuedAt: Int64(Date().timeIntervalSince1970), expiresAt: Int64(Date().timeIntervalSince1970) + 10,
                    codeID: Array(repeating: 1, count: 16), kind: .display, maskedName: "王*英", maskedID: "1101**********002X",
                    ageGroup: "elder", status: "green", statusTime: 0),
                with: try #require(scenario.components.keys.current.signing))
            #expect(try await scenario.verify(code, with: session)["verdict"] as? String == "valid")
            #expect(try await scenario.components.staff.disable(username: "gate-1"))
            let body = String(decoding: try JSONEncoder().encode(["code": code]), as: UTF8.self)
            try expectProblem(
                try await scenario.client.send(.post, "/v1/verifications", key: session, body: body), .unauthorized, "invalid-credentials")
            try expectProblem(try await scenario.client.send(.post, "/v1/lookups", key: session, body: "{}"), .unauthorized, "invalid-credentials")
        }
    }

    @Test("the printable card is a 54 x 86 mm SVG with the QR at level Q; PDF and PNG come from rsvg-convert")
    func printCard() async throws {
        try await Scenario.run { scenario in
            let applied = try json(try await scenario.terminal("/v1/offline-codes", People.elder).body)
            let url = try #require(applied["print_url"] as? String)
            let svg = try await scenario.client.send(.get, url, key: scenario.keys[.terminal])
            #expect(svg.status == .ok)
            #expect(svg.headers[.contentType] == "image/svg+xml")
            #expect(svg.body.contains(#"width="54mm" height="86mm" viewBox="0 0 638 1016""#))
            #expect(svg.body.contains("1101**********002X") && svg.body.contains("王*英") && svg.body.contains("Generation 1"))
            #expect(!svg.body.contains(People.elder.idNumber))
            let png = try await scenario.client.execute(
                uri: url + "?format=png", method: .get,
                headers: [.authorization: "Bearer \(scenario.keys[.terminal]!)"]
            ) { $0 }
            #expect(png.status == .ok)
            #expect(Array(png.body.readableBytesView.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
            let pdf = try await scenario.client.execute(
                uri: url, method: .get,
                headers: [.authorization: "Bearer \(scenario.keys[.terminal]!)", .accept: "application/pdf"]
            ) { $0 }
            #expect(pdf.status == .ok)
            #expect(String(buffer: pdf.body).hasPrefix("%PDF"))
            try expectProblem(
                try await scenario.client.send(.get, url + "?format=gif", key: scenario.keys[.terminal]), .notAcceptable, "unsupported-format")
            try expectProblem(
                try await scenario.client.send(.get, "/v1/offline-codes/\(UUID())/print", key: scenario.keys[.terminal]), .notFound, "not-found")
        }
    }
}
