import Consent
import Display
import Foundation
import Hummingbird
import HummingbirdTesting
import PassbyTestSupport
import Synchronization
import Testing

@testable import LookupAPI

@Suite("Keys and POST /v1/verifications", .timeLimit(.minutes(5)))
struct VerificationAPITests {
    func claims(kind: CodeKind = .display, now: Int64 = Int64(Date().timeIntervalSince1970)) -> CodeClaims {
        CodeClaims(
            issuer: "passby", issuedAt: now, expiresAt: now + 10, codeID: Array(repeating: 5, count: 16), kind: kind,
            maskedName: "王*英", maskedID: "1101**********002X", ageGroup: "elder",
            status: kind == .display ? "green" : nil, statusTime: kind == .display ? now - 60 : nil,
            generation: kind == .offline ? 1 : nil, subjectReference: kind == .offline ? Array(repeating: 1, count: 8) : nil)
    }

    @Test("the key set is published with an ETag, answers 304 to a match, and shows a rotation without a restart")
    func keySet() async throws {
        let (store, ring) = try TestApp.keys()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        try await buildApplication(try await TestApp.memory(keys: ring)).test(.router) { client in
            let first = try await client.send(.get, "/.well-known/passby-keys.json")
            #expect(first.status == .ok)
            #expect(first.headers[.contentType] == "application/jwk-set+json")
            #expect(first.headers[.cacheControl]?.contains("max-age") == true)
            let eTag = try #require(first.headers[.eTag])
            let set = try JSONDecoder().decode(JWKSet.self, from: Data(first.body.utf8))
            let codeKeys = set.keys.filter { $0.use == "sig" }
            #expect(codeKeys.count == 1)
            #expect(codeKeys[0].alg == "EdDSA")
            // The ledger's key is published too, marked so that it never verifies a code.
            #expect(set.keys.filter { $0.use == "ledger" }.count == 1)
            #expect(set.verificationKeys.count == 1)
            #expect(try await client.send(.get, "/.well-known/passby-keys.json", headers: [.ifNoneMatch: eTag]).status == .notModified)

            let rotated = try store.rotate(.es256)
            let second = try await client.send(.get, "/.well-known/passby-keys.json", headers: [.ifNoneMatch: eTag])
            #expect(second.status == .ok)
            let after = try JSONDecoder().decode(JWKSet.self, from: Data(second.body.utf8))
            #expect(after.keys.map(\.kid).contains(rotated.kidString))
            #expect(after.keys.filter { $0.use == "sig" }.count == 2)
        }
    }

    @Test("a checkpoint gets the verdict and, for a valid code, the masked details")
    func verify() async throws {
        let (store, ring) = try TestApp.keys()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let components = try await TestApp.memory(keys: ring)
        let checkpoint = try await components.clients.create(name: "gate", role: .checkpoint)
        let helper = try await components.clients.create(name: "h", role: .helper)
        let signer = try #require(ring.current.signing)
        let good = try CodeFormat.encode(claims(), with: signer)
        let offline = try CodeFormat.encode(claims(kind: .offline), with: signer)
        let receipt = try CodeFormat.encode(claims(kind: .receipt), with: signer)
        let old = try CodeFormat.encode(claims(now: 1_700_000_000), with: signer)
        let foreign = try CodeFormat.encode(claims(), with: SigningKey.generate(.edDSA))
        try await buildApplication(components).test(.router) { client in
            func verdict(_ code: String) async throws -> [String: Any] {
                let body = String(decoding: try JSONEncoder().encode(["code": code]), as: UTF8.self)
                let response = try await client.send(.post, "/v1/verifications", key: checkpoint.key, body: body)
                #expect(response.status == .ok)
                return try json(response.body)
            }
            let valid = try await verdict(good)
            #expect(valid["verdict"] as? String == "valid")
            #expect(valid["masked_name"] as? String == "王*英")
            #expect(valid["masked_id"] as? String == "1101**********002X")
            #expect(valid["group"] as? String == "elder")
            #expect(valid["status"] as? String == "green")
            // No generation was ever issued for this subject reference: the code is not current.
            #expect(try await verdict(offline)["verdict"] as? String == "replaced")
            #expect(try await verdict(receipt)["verdict"] as? String == "wrong-kind")
            #expect(try await verdict(old)["verdict"] as? String == "expired")
            let forged = try await verdict(foreign)
            #expect(forged["verdict"] as? String == "unknown-key")
            #expect(forged["masked_name"] == nil)
            #expect(try await verdict("PB1:nonsense")["verdict"] as? String == "malformed")
            #expect(try await verdict(String(repeating: "X", count: 10_000))["verdict"] as? String == "malformed")

            let ledger = try await components.consents.ledger(after: 0, limit: 100).map(\.record)
            #expect(ledger.count == 7)
            #expect(ledger.allSatisfy { $0.kind == .verification && $0.clientID == checkpoint.client.id })
            #expect(ledger.map(\.result) == ["valid", "replaced", "wrong-kind", "expired", "unknown-key", "malformed", "malformed"])
            #expect(ledger[0].codeID == Array(repeating: 5, count: 16))
            try expectProblem(try await client.send(.post, "/v1/verifications", key: checkpoint.key, body: "{}"), .badRequest, "malformed-request")
            try expectProblem(
                try await client.send(.post, "/v1/verifications", key: checkpoint.key, body: #"{"code":5}"#), .badRequest, "malformed-request")
            try expectProblem(
                try await client.send(.post, "/v1/verifications", key: checkpoint.key, body: #"{"code":"#), .badRequest, "malformed-request")
            try expectProblem(try await client.send(.post, "/v1/verifications", key: helper.key, body: #"{"code":"x"}"#), .forbidden, "wrong-role")
            try expectProblem(try await client.send(.post, "/v1/verifications", body: #"{"code":"x"}"#), .unauthorized, "missing-credentials")
        }
    }

    /// Finding 2: forged codes with absurd times once trapped the process, and any record batched
    /// with one failed. Verified concurrently on PostgreSQL, so that the ledger writer batches them.
    @Test("codes with absurd times, signed or forged, are malformed and every record beside them is kept (PostgreSQL)")
    func absurdTimes() async throws {
        let (store, ring) = try TestApp.keys()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        var (components, _) = try await TestApp.postgres()
        components.keys = ring
        let withKeys = components
        let signer = try #require(ring.current.signing)
        let stranger = try SigningKey.generate(.edDSA)
        var hostile: [String] = []
        for value: Int64 in [.max, .max - 2, .min, -1, 253_402_300_800] {
            var claims = claims()
            claims.expiresAt = value
            hostile += [try CodeFormat.encode(claims, with: signer), try CodeFormat.encode(claims, with: stranger)]
            claims = self.claims()
            claims.issuedAt = value
            hostile.append(try CodeFormat.encode(claims, with: stranger))
        }
        let good = try CodeFormat.encode(claims(), with: signer)
        let codes = hostile + Array(repeating: good, count: hostile.count)
        let hostileCount = hostile.count
        try await buildApplication(withKeys).test(.router) { client in
            // The PostgreSQL client runs with the application.
            let checkpoint = try await withKeys.clients.create(name: "gate", role: .checkpoint)
            let verdicts = try await withThrowingTaskGroup(of: String.self) { group in
                for code in codes {
                    group.addTask {
                        let body = String(decoding: try JSONEncoder().encode(["code": code]), as: UTF8.self)
                        let response = try await client.send(.post, "/v1/verifications", key: checkpoint.key, body: body)
                        #expect(response.status == .ok)
                        return try json(response.body)["verdict"] as? String ?? "none"
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(verdicts.filter { $0 == "malformed" }.count == hostileCount)
            #expect(verdicts.filter { $0 == "valid" }.count == hostileCount)
            let ledger = try await withKeys.consents.ledger(after: 0, limit: 1_000).map(\.record)
            #expect(ledger.count == codes.count)
            #expect(ledger.filter { $0.result == "malformed" }.allSatisfy { $0.codeID == nil && $0.codeExpiry == nil })
        }
    }

    @Test("2,000 random and mutated codes through the route give typed verdicts, never a 500")
    func fuzzRoute() async throws {
        let (store, ring) = try TestApp.keys()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let components = try await TestApp.memory(keys: ring)
        let checkpoint = try await components.clients.create(name: "gate", role: .checkpoint)
        let good = Array(try CodeFormat.encode(claims(), with: try #require(ring.current.signing)))
        // The inputs are made up front with a fixed seed, so a failure repeats.
        var generator = SplitMix64(seed: 99)
        let inputs = (0..<2_000).map { round in
            var characters = good
            for _ in 0..<(1 + round % 5) {
                characters[Int.random(in: 0..<characters.count, using: &generator)] =
                    Character(UnicodeScalar(UInt8.random(in: 32...126, using: &generator)))
            }
            return String(characters)
        }
        let verdicts = Set(Verdict.allCases.map(\.rawValue))
        try await buildApplication(components).test(.router) { client in
            for input in inputs {
                let body = String(decoding: try JSONEncoder().encode(["code": input]), as: UTF8.self)
                let response = try await client.send(.post, "/v1/verifications", key: checkpoint.key, body: body)
                #expect(response.status == .ok)
                #expect(verdicts.contains(try json(response.body)["verdict"] as? String ?? ""))
            }
        }
    }
}
