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

@Suite("Consent and the passer-by lookup", .timeLimit(.minutes(5)))
struct LookupFlowTests {
    @Test("a guardian registers and grants; a helper looks up once; the code verifies and expires; a replay is refused")
    func happyPath() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            #expect(grant.token.count == 19 && grant.token.split(separator: "-").count == 4)
            let lower = grant.token.lowercased().replacingOccurrences(of: "-", with: " ")
            let answer = try await scenario.lookup(People.elder.idNumber, token: lower)
            #expect(answer.status == .created, "\(answer.body)")
            let body = try json(answer.body)
            let code = try #require(body["code"] as? String)
            #expect(body["masked_name"] as? String == "王*英")
            #expect(body["masked_id"] as? String == "1101**********002X")
            #expect(body["group"] as? String == "elder")
            #expect(body["status"] as? String == "green")
            #expect((body["rendering"] as? [String: Any])?["format"] as? String == "svg")
            #expect(((body["rendering"] as? [String: Any])?["data"] as? String)?.hasPrefix("<svg") == true)
            #expect(!answer.body.contains(People.elder.idNumber))

            let verifier = CodeVerifier(keys: scenario.components.keys.current.verification)
            let claims = try CodeFormat.decode(code).claims
            #expect(verifier.verify(code, now: claims.issuedAt).verdict == .valid)
            #expect(claims.expiresAt - claims.issuedAt == 10)
            #expect(verifier.verify(code, now: claims.issuedAt + 13).verdict == .expired)

            let replay = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            try expectProblem(replay, .forbidden, "consent-used")

            let records = try await scenario.ledger()
            #expect(records.map(\.record.kind) == [.familyMemberAdded, .familyMemberConfirmed, .grantCreated, .lookupIssued, .lookupRefused])
            #expect(records[3].record.codeID == claims.codeID)
            #expect(records[4].record.result == "consent-used")
        }
    }

    @Test("refusals happen on cue, each recorded in the ledger with its reason")
    func refusals() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            try expectProblem(try await scenario.lookup(People.otherElder.idNumber, token: grant.token), .forbidden, "consent-invalid")
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0000"), .forbidden, "consent-invalid")
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: "not a token"), .forbidden, "consent-invalid")
            try expectProblem(try await scenario.lookup(People.adult.idNumber, token: grant.token), .forbidden, "not-eligible")
            try expectProblem(try await scenario.lookup("110105194912310021", token: grant.token), .unprocessableContent, "checksum")
            try expectProblem(try await scenario.lookup(People.unknownElder.idNumber, token: grant.token), .forbidden, "consent-invalid")
            try expectProblem(
                try await scenario.send(
                    .post, "/v1/lookups", as: .helper, person: nil,
                    body: ["id_number": People.elder.idNumber, "consent_token": grant.token]),
                .unauthorized, "assertion-missing")
            try expectProblem(
                try await scenario.send(
                    .post, "/v1/lookups", as: .guardian, person: People.passerby,
                    body: ["id_number": People.elder.idNumber, "consent_token": grant.token]),
                .forbidden, "wrong-role")
            // The grant is still unused: every refusal above left it alone. The two without a
            // verified assertion were counted in metrics, not written to the ledger.
            #expect(try await scenario.lookup(People.elder.idNumber, token: grant.token, role: .gateway).status == .created)
            let refused = try await scenario.ledger().filter { $0.record.kind == .lookupRefused }.map(\.record.result)
            #expect(
                refused == [
                    "consent-invalid", "consent-invalid", "consent-invalid", "not-eligible", "checksum", "consent-invalid",
                ])
            let metrics = try await scenario.client.send(.get, "/metrics").body
            #expect(metrics.contains(#"passby_lookup_refusals{reason="consent-invalid"}"#))
            #expect(metrics.contains(#"passby_lookup_refusals{reason="assertion-missing"}"#))
        }
    }

    @Test("bad assertions get 401 with their reason")
    func assertions() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            let stranger = DevelopmentIdentityProvider(key: Curve25519.Signing.PrivateKey())
            let cases: [(assertion: String, reason: String)] = [
                (
                    try await TestApp.identityProvider.mint(
                        name: People.passerby.name, idNumber: People.passerby.idNumber, now: Date().addingTimeInterval(-700)),
                    "assertion-expired"
                ),
                (
                    try await TestApp.identityProvider.mint(name: People.passerby.name, idNumber: People.passerby.idNumber, ttl: 3600),
                    "assertion-lifetime-too-long"
                ),
                (
                    try await TestApp.identityProvider.mint(
                        name: People.passerby.name, idNumber: People.passerby.idNumber, now: Date().addingTimeInterval(300)),
                    "assertion-not-yet-valid"
                ),
                (
                    try await TestApp.identityProvider.mint(name: People.passerby.name, idNumber: People.passerby.idNumber, realNameVerified: false),
                    "assertion-not-verified"
                ),
                (try await TestApp.identityProvider.mint(name: People.passerby.name, idNumber: "110105194912310021"), "assertion-bad-id-number"),
                (try await stranger.mint(name: People.passerby.name, idNumber: People.passerby.idNumber), "assertion-bad-signature"),
                (Self.unsigned(People.passerby), "assertion-algorithm-refused"),
                ("not.a.jws", "assertion-malformed"),
            ]
            for (assertion, reason) in cases {
                let response = try await scenario.client.send(
                    .post, "/v1/lookups", key: scenario.keys[.helper],
                    body: #"{"id_number":"\#(People.elder.idNumber)","consent_token":"\#(grant.token)"}"#,
                    headers: [PassbyHeaders.assertion: assertion])
                try expectProblem(response, .unauthorized, reason)
            }
        }
    }

    /// A well-formed assertion with `alg: none` and no signature.
    static func unsigned(_ person: TestPerson) -> String {
        func part(_ object: [String: Any]) -> String {
            (try! JSONSerialization.data(withJSONObject: object)).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let now = Int(Date().timeIntervalSince1970)
        return part(["alg": "none", "typ": "JWT"]) + "."
            + part([
                "iss": DevelopmentIdentityProvider.issuer, "sub": "x", "name": person.name, "idn": person.idNumber, "rnv": true, "iat": now,
                "exp": now + 60,
            ]) + "."
    }

    @Test("a withdrawn grant is refused from the moment the withdrawal answers; only the grantor may withdraw")
    func withdrawal() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 5])
            #expect(try await scenario.lookup(People.elder.idNumber, token: grant.token).status == .created)
            let stranger = try await scenario.send(.delete, "/v1/consents/\(grant.id)", as: .guardian, person: People.otherPasserby)
            try expectProblem(stranger, .notFound, "not-found")
            let withdrawn = try await scenario.send(.delete, "/v1/consents/\(grant.id)", as: .guardian, person: People.guardian)
            #expect(withdrawn.status == .noContent)
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: grant.token), .forbidden, "consent-withdrawn")
            // The receipt says so, signed.
            let receipt = try await scenario.send(.get, "/v1/consents/\(grant.id)/receipt", as: .guardian, person: People.guardian)
            #expect(receipt.status == .ok)
            let code = try #require(try json(receipt.body)["receipt"] as? String)
            // Signed with the receipt key, which the code keys do not hold: a verifier of codes that
            // overlooked the kind would still refuse it.
            let now = Int64(Date().timeIntervalSince1970)
            var codes = CodeVerifier(keys: scenario.components.keys.current.verification)
            codes.acceptedKinds = [.receipt]
            #expect(codes.verify(code, now: now).verdict == .unknownKey)
            let published = try await scenario.client.send(.get, "/.well-known/passby-receipt-keys.json")
            let receiptKeys = try JSONDecoder().decode(JWKSet.self, from: Data(published.body.utf8))
            let receiptKey = try #require(receiptKeys.keys.first { $0.use == "receipt" }?.verificationKey)
            var verifier = CodeVerifier(keys: [receiptKey.kid: receiptKey])
            verifier.acceptedKinds = [.receipt]
            #expect(verifier.verify(code, now: now).verdict == .valid)
            let claims = try CodeFormat.decode(code).claims
            #expect(claims.kind == .receipt)
            #expect(claims.extra["grant"] == .text(grant.id.lowercased()))
            #expect(claims.extra["status"] == .text("withdrawn"))
            #expect(claims.extra["method"] == .text("guardian-app"))
            #expect(claims.extra["uses"] == .int(1))
        }
    }

    @Test("removing a family member stops the grants made through it")
    func removedFamilyMember() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 3])
            let list = try await scenario.send(.get, "/v1/family-members", as: .guardian, person: People.guardian)
            let members = try #require(try json(list.body)["family_members"] as? [[String: Any]])
            #expect(members.count == 1)
            #expect(members[0]["masked_id"] as? String == "1101**********002X")
            #expect(!list.body.contains(People.elder.idNumber))
            let id = try #require(members[0]["id"] as? String)
            #expect(try await scenario.send(.delete, "/v1/family-members/\(id)", as: .guardian, person: People.guardian).status == .noContent)
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: grant.token), .forbidden, "consent-withdrawn")
            try expectProblem(
                try await scenario.send(.delete, "/v1/family-members/\(id)", as: .guardian, person: People.guardian),
                .notFound, "not-found")
        }
    }

    @Test("attested consent for someone Passby does not know counts as a failed try, so it is no free oracle")
    func attestedUnknown() async throws {
        var configuration = PassbyConfiguration()
        configuration.consentFailuresPerHour = 2
        try await Scenario.run(configuration: configuration) { scenario in
            func attest() async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String) {
                try await scenario.send(
                    .post, "/v1/consents/attested", as: .helper, person: People.passerby,
                    body: ["id_number": People.unknownElder.idNumber, "statement": "She said yes."])
            }
            try expectProblem(try await attest(), .notFound, "unknown-subject")
            try expectProblem(try await attest(), .notFound, "unknown-subject")
            try expectProblem(try await attest(), .tooManyRequests, "consent-attempts-exceeded")
        }
    }

    @Test("attested consent: elderly only, bound to the requester, one use, rate-limited; children need a guardian")
    func attested() async throws {
        try await Scenario.run { scenario in
            func attest(_ subject: TestPerson, by person: TestPerson = People.passerby) async throws
                -> (status: HTTPResponse.Status, headers: HTTPFields, body: String)
            {
                try await scenario.send(
                    .post, "/v1/consents/attested", as: .helper, person: person,
                    body: ["id_number": subject.idNumber, "statement": "She said yes, out loud, at gate 3."])
            }
            try expectProblem(try await attest(People.child), .forbidden, "guardian-consent-required")
            let first = try json(try await attest(People.elder).body)
            let token = try #require(first["token"] as? String)
            try expectProblem(
                try await scenario.lookup(People.elder.idNumber, token: token, by: People.otherPasserby), .forbidden, "consent-invalid")
            #expect(try await scenario.lookup(People.elder.idNumber, token: token).status == .created)
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: token), .forbidden, "consent-used")
            #expect(try await attest(People.elder).status == .created)
            #expect(try await attest(People.otherElder).status == .created)
            let limited = try await attest(People.elder)
            try expectProblem(limited, .tooManyRequests, "rate-limited")
            #expect(limited.headers[.retryAfter] != nil)
        }
    }

    @Test("in a public-health emergency a child can be looked up on an attested grant, and the grant says why")
    func emergency() async throws {
        var configuration = PassbyConfiguration()
        configuration.publicHealthEmergency = true
        try await Scenario.run(configuration: configuration) { scenario in
            let answer = try await scenario.send(
                .post, "/v1/consents/attested", as: .helper, person: People.passerby,
                body: ["id_number": People.child.idNumber, "statement": "Her mother is in the ambulance."])
            #expect(answer.status == .created)
            #expect(try json(answer.body)["legal_basis"] as? String == "public-health-emergency")
            let token = try #require(try json(answer.body)["token"] as? String)
            let lookup = try await scenario.lookup(People.child.idNumber, token: token)
            #expect(lookup.status == .created)
            #expect(try json(lookup.body)["group"] as? String == "child")
        }
    }

    @Test("50 concurrent lookups on one single-use token give exactly one code and one issued record")
    func concurrentSingleUse() async throws {
        try await Scenario.run(configuration: .withoutLookupLimits) { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await scenario.lookup(People.elder.idNumber, token: grant.token, by: People.passerby).status }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .created }.count == 1)
            #expect(statuses.allSatisfy { $0 == .created || $0 == .forbidden })
            let issued = try await scenario.ledger().filter {
                $0.record.kind == .lookupIssued && $0.record.grantID?.uuidString == grant.id.uppercased()
            }
            #expect(issued.count == 1)
            #expect(try await scenario.ledger().filter { $0.record.kind == .lookupRefused }.count == 49)
        }
    }

    @Test("30 concurrent lookups on a three-use grant give exactly three codes, each with its issued record")
    func concurrentMultiUse() async throws {
        try await Scenario.run(configuration: .withoutLookupLimits) { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 3])
            let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String).self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        let answer = try await scenario.lookup(People.elder.idNumber, token: grant.token, by: People.passerby)
                        return (answer.status, answer.body)
                    }
                }
                return try await group.reduce(into: [(HTTPResponse.Status, String)]()) { $0.append($1) }
            }
            #expect(answers.filter { $0.0 == .created }.count == 3)
            #expect(answers.filter { $0.0 != .created }.allSatisfy { $0.0 == .forbidden && $0.1.contains("consent-used") })
            let ledger = try await scenario.ledger().filter { $0.record.grantID?.uuidString == grant.id.uppercased() }
            #expect(ledger.filter { $0.record.kind == .lookupIssued }.count == 3)
            #expect(ledger.filter { $0.record.kind == .lookupRefused && $0.record.result == "consent-used" }.count == 27)
        }
    }

    @Test("an Idempotency-Key is 1 to 128 visible ASCII characters; anything else is 400 and uses nothing")
    func idempotencyKeyLimits() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            for bad in [String(repeating: "k", count: 129), "two words", "tab\tbed", "ключ"] {
                let answer = try await scenario.lookup(People.elder.idNumber, token: grant.token, headers: [PassbyHeaders.idempotencyKey: bad])
                try expectProblem(answer, .badRequest, "malformed-request")
            }
            let longest = String(repeating: "k", count: 128)
            let answer = try await scenario.lookup(People.elder.idNumber, token: grant.token, headers: [PassbyHeaders.idempotencyKey: longest])
            #expect(answer.status == .created, "\(answer.body)")
        }
    }

    @Test("concurrent copies of one idempotent lookup, with one code left in the person's window, all get the same code")
    func idempotentRetriesAtTheSubjectLimit() async throws {
        var configuration = PassbyConfiguration.withoutLookupLimits
        configuration.lookupsPerMinutePerSubject = 1
        try await Scenario.run(configuration: configuration) { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 5])
            let key: HTTPFields = [PassbyHeaders.idempotencyKey: "retry-at-limit"]
            let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let answer = try await scenario.lookup(People.elder.idNumber, token: grant.token, headers: key)
                        return (answer.status, try? json(answer.body)["code"] as? String)
                    }
                }
                return try await group.reduce(into: [(HTTPResponse.Status, String?)]()) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.0 == .created }, "\(answers.map(\.0))")
            #expect(Set(answers.compactMap(\.1)).count == 1)
            #expect(try await scenario.ledger().filter { $0.record.kind == .lookupIssued }.count == 1)
            #expect(try await scenario.ledger().filter { $0.record.kind == .lookupRefused }.isEmpty)
            // The window is full: another lookup of the person waits for the next minute.
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: grant.token), .tooManyRequests, "rate-limited")
        }
    }

    @Test("an idempotent retry returns the same code and uses nothing; another body with the key is 422")
    func idempotency() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 2])
            let key: HTTPFields = [PassbyHeaders.idempotencyKey: "retry-1"]
            let first = try await scenario.lookup(People.elder.idNumber, token: grant.token, headers: key)
            let second = try await scenario.lookup(People.elder.idNumber, token: grant.token, headers: key)
            #expect(first.status == .created && second.status == .created)
            #expect(try json(first.body)["code"] as? String == json(second.body)["code"] as? String)
            let other = try await scenario.lookup(People.elder.idNumber, token: grant.token, headers: key, format: "text")
            try expectProblem(other, .unprocessableContent, "idempotency-key-reused")
            // One use left: the retry consumed nothing.
            #expect(try await scenario.lookup(People.elder.idNumber, token: grant.token).status == .created)
            try expectProblem(try await scenario.lookup(People.elder.idNumber, token: grant.token), .forbidden, "consent-used")
            #expect(try await scenario.ledger().filter { $0.record.kind == .lookupIssued }.count == 2)

            // Consents too: the same key and body give the same grant and token.
            _ = try await scenario.send(
                .post, "/v1/family-members", as: .guardian, person: People.guardian,
                body: ["id_number": People.otherElder.idNumber, "name": People.otherElder.name, "relationship": "parent"])
            try await scenario.confirmGuardian(People.guardian, of: People.otherElder)
            let grantKey: HTTPFields = [PassbyHeaders.idempotencyKey: "grant-1"]
            let a = try await scenario.send(
                .post, "/v1/consents", as: .guardian, person: People.guardian,
                body: ["id_number": People.otherElder.idNumber], headers: grantKey)
            let b = try await scenario.send(
                .post, "/v1/consents", as: .guardian, person: People.guardian,
                body: ["id_number": People.otherElder.idNumber], headers: grantKey)
            #expect(a.status == .created && b.status == .ok)
            #expect(try json(a.body)["token"] as? String == json(b.body)["token"] as? String)
            #expect(try json(a.body)["id"] as? String == json(b.body)["id"] as? String)
            let c = try await scenario.send(
                .post, "/v1/consents", as: .guardian, person: People.guardian,
                body: ["id_number": People.otherElder.idNumber, "max_uses": 2], headers: grantKey)
            try expectProblem(c, .unprocessableContent, "idempotency-key-reused")
        }
    }

    @Test("an Idempotency-Key on a grant holds for a day and the next; days later the same request makes a new grant and token")
    func grantKeyExpires() async throws {
        let clock = MovableClock(Date())
        try await Scenario.run(clock: clock) { scenario in
            _ = try await scenario.send(
                .post, "/v1/family-members", as: .guardian, person: People.guardian,
                body: ["id_number": People.elder.idNumber, "name": People.elder.name, "relationship": "parent"])
            try await scenario.confirmGuardian(People.guardian, of: People.elder)
            func grant() async throws -> (status: HTTPResponse.Status, id: String?, token: String?) {
                // An assertion of the moved day, as the guardian's app would send it then.
                let assertion = try await TestApp.identityProvider.mint(
                    name: People.guardian.name, idNumber: People.guardian.idNumber, now: clock.now())
                let headers: HTTPFields = [PassbyHeaders.idempotencyKey: "grant-days", PassbyHeaders.assertion: assertion]
                let answer = try await scenario.send(
                    .post, "/v1/consents", as: .guardian, person: nil, body: ["id_number": People.elder.idNumber], headers: headers)
                let body = try json(answer.body)
                return (answer.status, body["id"] as? String, body["token"] as? String)
            }
            let first = try await grant()
            clock.advance(by: 86_400)
            let nextDay = try await grant()
            #expect(first.status == .created && nextDay.status == .ok)
            #expect(nextDay.id == first.id && nextDay.token == first.token, "the next day a retry still finds the grant")
            clock.advance(by: 3 * 86_400)
            let later = try await grant()
            #expect(later.status == .created)
            #expect(later.id != first.id && later.token != first.token, "days later the old token never comes back")
        }
    }

    @Test("an elderly person grants for themselves at a terminal; a child cannot")
    func terminalGrant() async throws {
        try await Scenario.run { scenario in
            let own = try await scenario.send(.post, "/v1/consents", as: .terminal, person: People.elder, body: ["id_number": People.elder.idNumber])
            #expect(own.status == .created)
            #expect(try json(own.body)["method"] as? String == "terminal")
            let forOther = try await scenario.send(
                .post, "/v1/consents", as: .terminal, person: People.guardian, body: ["id_number": People.elder.idNumber])
            try expectProblem(forOther, .forbidden, "self-consent-elderly-only")
            let child = try await scenario.send(
                .post, "/v1/consents", as: .terminal, person: People.child, body: ["id_number": People.child.idNumber])
            try expectProblem(child, .forbidden, "self-consent-elderly-only")
        }
    }

    @Test("lookups are rate-limited per requester with Retry-After")
    func rateLimit() async throws {
        var configuration = PassbyConfiguration()
        configuration.lookupsPerMinutePerRequester = 2
        try await Scenario.run(configuration: configuration) { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 10])
            #expect(try await scenario.lookup(People.elder.idNumber, token: grant.token).status == .created)
            #expect(try await scenario.lookup(People.elder.idNumber, token: grant.token).status == .created)
            let limited = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            try expectProblem(limited, .tooManyRequests, "rate-limited")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
        }
    }

    @Test("the rendering follows format or Accept")
    func renderings() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 3])
            let png = try json(try await scenario.lookup(People.elder.idNumber, token: grant.token, format: "png").body)
            let pngBase64 = try #require((png["rendering"] as? [String: Any])?["data"] as? String)
            let pngData = try #require(Data(base64Encoded: pngBase64))
            #expect(Array(pngData.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
            let text = try json(try await scenario.lookup(People.elder.idNumber, token: grant.token, headers: [.accept: "text/plain"]).body)
            #expect((text["rendering"] as? [String: Any])?["content_type"] as? String == "text/plain; charset=utf-8")
            let bad = try await scenario.lookup(People.elder.idNumber, token: grant.token, format: "gif")
            try expectProblem(bad, .badRequest, "malformed-request")
        }
    }

    @Test("no table holds a plain-text ID number or name after the whole flow")
    func privacy() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            _ = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            _ = try await scenario.lookup(People.otherElder.idNumber, token: grant.token)
            // The application itself is connected as passby_app, which cannot change the ledger.
            var appConnections = 0
            for try await count in try await scenario.postgres.query(
                "SELECT count(*)::int FROM pg_stat_activity WHERE usename = 'passby_app' AND datname = current_database()",
                logger: Logger(label: "test")
            ).decode(Int.self) { appConnections = count }
            #expect(appConnections > 0)
            let everything = try await TestDump.allRows(scenario.postgres)
            for person in [People.elder, People.otherElder, People.guardian, People.passerby] {
                #expect(!everything.contains(person.idNumber))
                #expect(!everything.contains(person.name))
                #expect(!everything.contains(String(person.idNumber.dropFirst(6).prefix(8))))
            }
            #expect(!everything.contains(grant.token.replacingOccurrences(of: "-", with: "")))
        }
    }
}

/// Every row of every table of Passby's schema, as JSON text.
enum TestDump {
    static func allRows(_ client: PostgresClient) async throws -> String {
        let logger = Logger(label: "test")
        var tables: [String] = []
        for try await name in try await client.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", logger: logger
        ).decode(String.self) {
            tables.append(name)
        }
        #expect(tables.contains("ledger") && tables.contains("consent_grants") && tables.contains("guardianships"))
        var dump = ""
        for table in tables {
            let rows = try await client.query("SELECT row_to_json(t)::text FROM \(unescaped: table) t", logger: logger)
            for try await row in rows.decode(String.self) { dump += row + "\n" }
        }
        return dump
    }
}
