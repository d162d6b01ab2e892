import Consent
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /v1/records`: compliance reviewers query the sealed ledger, as JSON pages or one CSV export.
struct ReviewController {
    let service: ReviewService
    /// Rows in one CSV export at most, so that one request cannot carry off the whole ledger.
    let exportLimit: Int
    static let exportLimitHeader = HTTPField.Name("Passby-Export-Limit")!
    static let columns = [
        "leaf_index", "seq", "kind", "at", "client_id", "staff_id", "requester_masked", "subject_masked",
        "grant_id", "method", "legal_basis", "result", "cti", "code_exp",
    ]

    struct Page: Encodable {
        var records: [[String: String]]
        var nextCursor: String?
        var headSize: Int
    }

    func addRoutes(to v1: RouterGroup<PassbyRequestContext>) {
        v1.group("records").add(middleware: RequireRole(.reviewer)).get(use: records)
    }

    static func values(_ entry: ReviewedEntry) -> [String] {
        [
            "\(entry.leafIndex)", "\(entry.seq)", entry.kind, entry.at, entry.clientID, entry.staffID, entry.requesterMasked,
            entry.subjectMasked, entry.grantID, entry.method, entry.legalBasis, entry.result, entry.codeID, entry.codeExpiry,
        ]
    }

    /// RFC 4180 quoting where needed.
    static func csvLine(_ fields: [String]) -> String {
        fields.map { field in
            field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }.joined(separator: ",") + "\r\n"
    }

    /// The query parameters, checked for form; the service checks their meaning.
    static func query(_ request: Request) throws -> (ReviewService.Query, limit: Int) {
        let parameters = request.uri.queryParameters
        func text(_ name: String) -> String? { parameters.get(name).map { String($0) } }
        var query = ReviewService.Query(
            subjectIdNumber: text("subject_id_number"), requesterIdNumber: text("requester_id_number"),
            kind: text("kind"), result: text("result"))
        if let client = text("client") {
            guard let id = UUID(uuidString: client) else { throw Problem.malformedRequest("`client` must be a client id") }
            query.clientID = id
        }
        for (name, keyPath) in [("from", \ReviewService.Query.from), ("to", \ReviewService.Query.to)] {
            guard let value = text(name) else { continue }
            guard let date = RFC3339.date(value) else { throw Problem.malformedRequest("`\(name)` must be an RFC 3339 time") }
            query[keyPath: keyPath] = date
        }
        let limit = parameters.get("limit", as: Int.self) ?? 100
        guard ReviewService.pageLimits.contains(limit) else { throw Problem.malformedRequest("`limit` must be 1 to 1000") }
        if let cursor = text("cursor") {
            guard let value = Int64(cursor), value >= -1 else { throw Problem.malformedRequest("`cursor` is not one this API gave") }
            query.afterLeaf = value
        }
        query.headSize = parameters.get("size", as: Int.self)
        query.isExport = text("format") == "csv" || (request.headers[.accept]?.contains("text/csv") ?? false)
        return (query, limit)
    }

    @Sendable func records(request: Request, context: PassbyRequestContext) async throws -> Response {
        let (query, limit) = try Self.query(request)
        let bounded = try await service.begin(query, clientID: try context.client.id)
        if query.isExport {
            let (service, exportLimit) = (service, exportLimit)
            let body = ResponseBody { writer in
                try await writer.write(ByteBuffer(string: Self.csvLine(Self.columns)))
                var cursor = query.afterLeaf
                var left = exportLimit
                while left > 0 {
                    let page = try await service.entries(bounded, afterLeaf: cursor, limit: min(left, ReviewService.pageLimits.upperBound))
                    guard let last = page.last else { break }
                    try await writer.write(ByteBuffer(string: page.map { Self.csvLine(Self.values($0)) }.joined()))
                    cursor = last.leafIndex
                    left -= page.count
                }
                try await writer.finish(nil)
            }
            var headers: HTTPFields = [.contentType: "text/csv; charset=utf-8", .cacheControl: "no-store", Self.exportLimitHeader: "\(exportLimit)"]
            bounded.source.headers(into: &headers)
            return Response(status: .ok, headers: headers, body: body)
        }
        let page = try await service.entries(bounded, afterLeaf: query.afterLeaf, limit: limit)
        let records = page.map { Dictionary(uniqueKeysWithValues: zip(Self.columns, Self.values($0))) }
        let next = page.count == limit ? page.last.map { "\($0.leafIndex)" } : nil
        var response = try context.respond(Page(records: records, nextCursor: next, headSize: bounded.headSize), from: request)
        bounded.source.headers(into: &response.headers)
        return response
    }
}
