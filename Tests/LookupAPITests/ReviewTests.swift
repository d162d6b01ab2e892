import Consent
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import LookupAPI

@Suite("Reviewer queries over the sealed ledger", .timeLimit(.minutes(5)))
struct ReviewTests {
    func seal(_ scenario: Scenario) async throws {
        _ = try await LedgerSealer.seal(tree: scenario.components.ledgerTree, key: scenario.components.ledgerKey)
    }

    @Test("paging while lookups run and seals happen returns every entry exactly once")
    func pagingUnderLoad() async throws {
        try await Scenario.run(configuration: .withoutLookupLimits) { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder, extra: ["max_uses": 100])
            try await seal(scenario)
            var seen: [Int64] = []
            var cursor: String?
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for _ in 0..<30 {
                        _ = try await scenario.lookup(People.elder.idNumber, token: grant.token)
                        try await seal(scenario)
                    }
                }
                for _ in 0..<40 {
                    let uri = "/v1/records?limit=3" + (cursor.map { "&cursor=\($0)" } ?? "")
                    let page = try json(try await scenario.client.send(.get, uri, key: scenario.keys[.reviewer]).body)
                    let records = try #require(page["records"] as? [[String: String]])
                    seen += records.compactMap { $0["seq"].flatMap { Int64($0) } }
                    if let next = page["next_cursor"] as? String { cursor = next } else if let last = records.last?["leaf_index"] { cursor = last }
                }
                try await group.waitForAll()
            }
            try await seal(scenario)
            while true {
                let uri = "/v1/records?limit=1000" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try json(try await scenario.client.send(.get, uri, key: scenario.keys[.reviewer]).body)
                let records = try #require(page["records"] as? [[String: String]])
                seen += records.compactMap { $0["seq"].flatMap { Int64($0) } }
                guard let next = page["next_cursor"] as? String else { break }
                cursor = next
            }
            #expect(Set(seen).count == seen.count, "an entry came twice")
            let sealed = try await scenario.components.ledgerTree.latestHead()?.size ?? 0
            #expect(seen.count == sealed)
        }
    }

    @Test("a CSV export stops at PASSBY_EXPORT_MAX_ROWS, says so, and goes on from a cursor")
    func exportLimit() async throws {
        var configuration = PassbyConfiguration()
        configuration.maxExportRows = 3
        try await Scenario.run(configuration: configuration) { scenario in
            for _ in 0..<5 { _ = try await scenario.lookup(People.elder.idNumber, token: "0000-0000-0000-0000") }
            try await seal(scenario)
            let reviewer = try #require(scenario.keys[.reviewer])
            let first = try await scenario.client.send(.get, "/v1/records?format=csv", key: reviewer)
            #expect(first.headers[HTTPField.Name("Passby-Export-Limit")!] == "3")
            let rows = first.body.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }
            #expect(rows.count == 3)
            let last = try #require(rows.last?.split(separator: ",").first)
            let next = try await scenario.client.send(.get, "/v1/records?format=csv&cursor=\(last)", key: reviewer)
            let more = next.body.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }
            #expect(more.count == 2 && more.first?.hasPrefix("\(Int(last)! + 1),") == true, "\(more)")
        }
    }

    @Test("filters by subject, kind and result; every query is itself recorded; CSV exports are byte-identical")
    func filtersAndExports() async throws {
        try await Scenario.run { scenario in
            let grant = try await scenario.guardianGrant(for: People.elder)
            _ = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            _ = try await scenario.lookup(People.elder.idNumber, token: grant.token)
            _ = try await scenario.lookup(People.otherElder.idNumber, token: "0000-0000-0000-0000")
            try await seal(scenario)
            let reviewer = try #require(scenario.keys[.reviewer])
            let bySubject = try json(
                try await scenario.client.send(.get, "/v1/records?subject_id_number=\(People.elder.idNumber)", key: reviewer).body)
            let records = try #require(bySubject["records"] as? [[String: String]])
            #expect(records.allSatisfy { $0["subject_masked"] == "1101**********002X" })
            #expect(
                records.map { $0["kind"]! } == ["family-member-added", "family-member-confirmed", "grant-created", "lookup-issued", "lookup-refused"])
            #expect(!bySubject.description.contains(People.elder.idNumber))
            let refused = try json(try await scenario.client.send(.get, "/v1/records?kind=lookup-refused&result=consent-used", key: reviewer).body)
            #expect((refused["records"] as? [[String: String]])?.count == 1)
            let helperID = try #require(try await scenario.components.clients.list().first { $0.role == .helper }).id
            let byClient = try json(try await scenario.client.send(.get, "/v1/records?client=\(helperID)", key: reviewer).body)
            #expect((byClient["records"] as? [[String: String]])?.map { $0["kind"]! } == ["lookup-issued", "lookup-refused", "lookup-refused"])
            let future = try json(try await scenario.client.send(.get, "/v1/records?from=2999-01-01T00:00:00Z", key: reviewer).body)
            #expect((future["records"] as? [[String: String]])?.isEmpty == true)
            let past = try json(try await scenario.client.send(.get, "/v1/records?to=2000-01-01T00:00:00Z", key: reviewer).body)
            #expect((past["records"] as? [[String: String]])?.isEmpty == true)

            let size = try #require(bySubject["head_size"] as? Int)
            let first = try await scenario.client.send(.get, "/v1/records?format=csv&size=\(size)", key: reviewer)
            try await seal(scenario)  // the reviews above are sealed now, after `size`
            let second = try await scenario.client.send(.get, "/v1/records?size=\(size)", key: reviewer, headers: [.accept: "text/csv"])
            #expect(first.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(first.body == second.body)
            #expect(first.body.hasPrefix("leaf_index,seq,kind,at,client_id,staff_id,requester_masked,subject_masked,"))
            #expect(first.body.components(separatedBy: "\r\n").count == size + 2)

            let reviews = try await scenario.ledger().filter { $0.record.kind == .review }
            #expect(reviews.count == 7)
            #expect(
                reviews[0].record.subjectKey
                    == TestApp.personalData.subjectKey(try IdentityNumber(parsing: People.elder.idNumber, today: People.today)))

            try expectProblem(try await scenario.client.send(.get, "/v1/records", key: scenario.keys[.helper]), .forbidden, "wrong-role")
            try expectProblem(try await scenario.client.send(.get, "/v1/records?limit=5000", key: reviewer), .badRequest, "malformed-request")
            try expectProblem(
                try await scenario.client.send(.get, "/v1/records?subject_id_number=110105194912310021", key: reviewer),
                .unprocessableContent, "checksum")
            try expectProblem(try await scenario.client.send(.get, "/v1/records?size=99999", key: reviewer), .notFound, "unknown-head")
        }
    }
}
