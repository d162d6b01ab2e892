import Foundation
import HTTPTypes
import HummingbirdBcrypt
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

@testable import LookupAPI

/// Staff sign-in (issue 13, finding 5), on PostgreSQL.
@Suite("Staff sign-in holds against guessing, floods and stolen sessions", .timeLimit(.minutes(5)))
struct StaffLoginTests {
    typealias Answer = (status: HTTPResponse.Status, headers: HTTPFields, body: String)

    static func login(_ scenario: Scenario, _ username: String, _ password: String) async throws -> Answer {
        try await scenario.client.send(.post, "/v1/staff/sessions", body: #"{"username":"\#(username)","password":"\#(password)"}"#)
    }

    @Test("the decoy hash for an unknown username has the configured cost")
    func decoyCost() {
        var configuration = PassbyConfiguration()
        configuration.bcryptCost = 6
        let service = StaffSessionService(staff: InMemoryStaffRepository(), configuration: configuration, clock: SystemClock())
        #expect(service.decoyHash.split(separator: "$").dropFirst().first == "06")
        #expect(Bcrypt.verify("decoy password", hash: service.decoyHash))
    }

    @Test("12 wrong passwords at once, with a limit of 3: exactly 3 are checked, the rest are locked out")
    func concurrentGuesses() async throws {
        var configuration = PassbyConfiguration()
        configuration.staffLoginAttempts = 3
        try await Scenario.run(configuration: configuration) { scenario in
            _ = try await scenario.components.stores.staff.add(username: "gate-2", passwordHash: Bcrypt.hash("right", cost: 4))
            let reasons = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<12 {
                    group.addTask { try json(try await Self.login(scenario, "gate-2", "guess \(index)").body)["reason"] as? String ?? "none" }
                }
                return try await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
            }
            #expect(reasons == ["invalid-login": 3, "login-locked": 9])
            try expectProblem(try await Self.login(scenario, "gate-2", "right"), .tooManyRequests, "login-locked")
        }
    }

    @Test("a body that is not sent as JSON is refused before it is read: another site's form cannot lock an account")
    func crossSiteForm() async throws {
        var configuration = PassbyConfiguration()
        configuration.staffLoginAttempts = 2
        try await Scenario.run(configuration: configuration) { scenario in
            _ = try await scenario.components.stores.staff.add(username: "gate-3", passwordHash: Bcrypt.hash("right", cost: 4))
            let body = #"{"username":"gate-3","password":"wrong"}"#
            // What a page elsewhere can make a visitor's browser send without a preflight.
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", nil] {
                var headers = HTTPFields()
                headers[.contentType] = type ?? ""
                let answer = try await scenario.client.send(.post, "/v1/staff/sessions", body: body, headers: type == nil ? [:] : headers)
                if type == nil {
                    // The test client adds application/json when none is given; send none at all.
                    let bare = try await scenario.client.execute(
                        uri: "/v1/staff/sessions", method: .post, headers: [:], body: ByteBuffer(string: body)
                    ) { ($0.status, String(buffer: $0.body)) }
                    #expect(bare.0 == .unsupportedMediaType && bare.1.contains("unsupported-media-type"))
                } else {
                    try expectProblem(answer, .unsupportedMediaType, "unsupported-media-type")
                }
            }
            let signedIn = try await scenario.client.send(
                .post, "/v1/staff/sessions", body: #"{"username":"gate-3","password":"right"}"#,
                headers: [.contentType: "application/json; charset=utf-8"])
            #expect(signedIn.status == .created, "the account is not locked, and JSON with a charset is JSON: \(signedIn.body)")
        }
    }

    @Test("signing out ends the session at once; without a session token it is 401")
    func logout() async throws {
        try await Scenario.run { scenario in
            let session = try await scenario.staffSession("gate-3", password: "pass")
            let head = try await scenario.client.send(.post, "/v1/verifications", key: session, body: #"{"code":"PB1:X"}"#)
            #expect(head.status == .ok)
            #expect(try await scenario.client.send(.delete, "/v1/staff/sessions", key: session).status == .noContent)
            try expectProblem(
                try await scenario.client.send(.post, "/v1/verifications", key: session, body: #"{"code":"PB1:X"}"#), .unauthorized,
                "invalid-credentials")
            #expect(try await scenario.client.send(.delete, "/v1/staff/sessions", key: session).status == .noContent, "again: nothing changes")
            try expectProblem(try await scenario.client.send(.delete, "/v1/staff/sessions"), .unauthorized, "missing-credentials")
            try expectProblem(
                try await scenario.client.send(.delete, "/v1/staff/sessions", key: scenario.keys[.checkpoint]), .unauthorized,
                "missing-credentials")
        }
    }

    @Test("one address gets a few attempts a minute, whatever the usernames")
    func perAddress() async throws {
        var configuration = PassbyConfiguration()
        configuration.staffLoginsPerMinute = 3
        try await Scenario.run(configuration: configuration) { scenario in
            for name in ["a", "b", "c"] { try expectProblem(try await Self.login(scenario, name, "x"), .unauthorized, "invalid-login") }
            let limited = try await Self.login(scenario, "d", "x")
            try expectProblem(limited, .tooManyRequests, "rate-limited")
            #expect(limited.headers[.retryAfter] != nil)
        }
    }

    @Test("bcrypt runs a bounded number at a time; past the queue a login is refused at once")
    func boundedPool() async throws {
        let pool = BcryptPool(width: 1, queueLimit: 1)
        let gate = Mutex(false)
        let blocked: @Sendable () -> Bool = {
            while !gate.withLock({ $0 }) { usleep(1_000) }
            return true
        }
        async let first = pool.run(blocked)
        try await Task.sleep(for: .milliseconds(100))
        async let second = pool.run(blocked)
        try await Task.sleep(for: .milliseconds(100))
        await #expect(throws: Refusal.loginBusy) { try await pool.run(blocked) }
        gate.withLock { $0 = true }
        let (one, two) = try await (first, second)
        #expect(one && two)
        #expect(try await pool.run { true }, "the places are free again")
    }
}
