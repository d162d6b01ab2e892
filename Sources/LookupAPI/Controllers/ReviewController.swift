import Consent
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /v1/records`: compliance reviewers query the sealed ledger, as JSON pages or one CSV export.
/// Filters on ID numbers are hashed here and never logged; every query is itself recorded.
struct ReviewController {
    let dependencies: PassbyDependencies
    static let columns = ["leaf_index", "seq", "kind", "at", "client_id", "staff_id", "requester_masked", "subject_masked",
                          "grant_id", "method", "legal_basis", "result", "cti", "code_exp"]

    struct Page: Encodable {
        var records: [[String: String]]
        var nextCursor: String?
        var headSize: Int
        enum CodingKeys: String, CodingKey { case records, nextCursor = "next_cursor", headSize = "head_size" }
    }

    func addRoutes(to v1: RouterGroup<PassbyRequestContext>) {
        v1.group("records").add(middleware: RequireRole(.reviewer)).get(use: records)
    }

    static func values(_ entry: ReviewedEntry) -> [String] {
        ["\(entry.leafIndex)", "\(entry.seq)", entry.kind, entry.at, entry.clientID, entry.staffID, entry.requesterMasked,
         entry.subjectMasked, entry.grantID, entry.method, entry.legalBasis, entry.result, entry.codeID, entry.codeExpiry]
    }

    /// RFC 4180 quoting where needed.
    static func csvLine(_ fields: [String]) -> String {
        fields.map { field in
            field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }.joined(separator: ",") + "\r\n"
    }

    @Sendable func records(request: Request, context: PassbyRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var filter = LedgerFilter()
        if let number = query.get("subject_id_number") {
            filter.subjectKey = dependencies.personalData.subjectKey(try dependencies.identityNumber(number, field: "subject_id_number"))
        }
        if let number = query.get("requester_id_number") {
            filter.requesterKey = dependencies.personalData.subjectKey(try dependencies.identityNumber(number, field: "requester_id_number"))
        }
        filter.kind = query.get("kind")
        filter.result = query.get("result")
        if let text = query.get("client") {
            guard let id = UUID(uuidString: text) else { throw Problem.malformedRequest("`client` must be a client id") }
            filter.clientID = id
        }
        for (name, keyPath) in [("from", \LedgerFilter.from), ("to", \LedgerFilter.to)] {
            if let text = query.get(name) {
                guard let date = HealthStatusController.parseTimestamp(text) else { throw Problem.malformedRequest("`\(name)` must be an RFC 3339 time") }
                filter[keyPath: keyPath] = date
            }
        }
        let limit = query.get("limit", as: Int.self) ?? 100
        guard (1...1000).contains(limit) else { throw Problem.malformedRequest("`limit` must be 1 to 1000") }
        let after: Int64
        if let cursor = query.get("cursor") {
            guard let value = Int64(cursor), value >= -1 else { throw Problem.malformedRequest("`cursor` is not one this API gave") }
            after = value
        } else {
            after = -1
        }
        let csv = query.get("format") == "csv" || (request.headers[.accept]?.contains("text/csv") ?? false)
        // Bounded by a signed head, so that the same filter and `size` give the same answer.
        let tree = dependencies.ledgerTree
        let size: Int
        if let requested = query.get("size", as: Int.self) {
            guard try await dependencies.storage({ try await tree.head(size: requested) }) != nil else {
                throw Problem(.notFound, "unknown-head", "No signed head has that size")
            }
            size = requested
        } else {
            size = try await dependencies.storage { try await tree.latestHead() }?.size ?? 0
        }

        let review = LedgerRecord(
            kind: .review, clientID: context.identity?.id, requesterKey: filter.requesterKey, subjectKey: filter.subjectKey,
            result: csv ? "export" : "query")
        try await dependencies.storage { try await dependencies.consents.record(review) }

        let reviews = dependencies.reviews
        let finalFilter = filter
        if csv {
            let storage = dependencies
            let body = ResponseBody { writer in
                try await writer.write(ByteBuffer(string: Self.csvLine(Self.columns)))
                var cursor = after
                while true {
                    let page = try await storage.storage { [cursor] in
                        try await reviews.entries(matching: finalFilter, afterLeaf: cursor, beforeLeaf: Int64(size), limit: 1000)
                    }
                    guard let last = page.last else { break }
                    try await writer.write(ByteBuffer(string: page.map { Self.csvLine(Self.values($0)) }.joined()))
                    cursor = last.leafIndex
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .cacheControl: "no-store"], body: body)
        }
        let page = try await dependencies.storage {
            try await reviews.entries(matching: finalFilter, afterLeaf: after, beforeLeaf: Int64(size), limit: limit)
        }
        let records = page.map { Dictionary(uniqueKeysWithValues: zip(Self.columns, Self.values($0))) }
        let next = page.count == limit ? page.last.map { "\($0.leafIndex)" } : nil
        return try context.responseEncoder.encode(Page(records: records, nextCursor: next, headSize: size), from: request, context: context)
    }
}
