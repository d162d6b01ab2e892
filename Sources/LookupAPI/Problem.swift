import Foundation
import Hummingbird

/// An RFC 9457 problem: every failure a client sees. `reason` is stable and ends the `type` URI.
struct Problem: Error, HTTPResponseError, Encodable {
    var status: HTTPResponse.Status
    /// The stable reason, for example `not-eligible`.
    var reason: String
    var title: String
    var detail: String?
    /// Extra response headers such as `Retry-After`.
    var headers: HTTPFields = [:]
    /// Extra members, such as the field that was wrong. Never personal data.
    var extensions: [String: String] = [:]

    init(_ status: HTTPResponse.Status, _ reason: String, _ title: String, detail: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.reason = reason
        self.title = title
        self.detail = detail
        self.headers = headers
    }

    var type: String { "/problems/\(reason)" }

    struct CodingKeys: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .init(stringValue: "type"))
        try container.encode(title, forKey: .init(stringValue: "title"))
        try container.encode(Int(status.code), forKey: .init(stringValue: "status"))
        try container.encode(reason, forKey: .init(stringValue: "reason"))
        try container.encodeIfPresent(detail, forKey: .init(stringValue: "detail"))
        for (key, value) in extensions.sorted(by: { $0.key < $1.key }) {
            try container.encode(value, forKey: .init(stringValue: key))
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = try encoder.encode(self)
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension Problem {
    static func malformedRequest(_ detail: String) -> Problem {
        Problem(.badRequest, "malformed-request", "The request body is not valid for this route", detail: detail)
    }
    static let missingCredentials = Problem(.unauthorized, "missing-credentials", "An API client key is required",
        headers: [.wwwAuthenticate: "Bearer"])
    static let invalidCredentials = Problem(.unauthorized, "invalid-credentials", "The API client key is unknown or revoked",
        headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
    static let wrongRole = Problem(.forbidden, "wrong-role", "This client's role may not use this route")
    static let bodyTooLarge = Problem(.contentTooLarge, "body-too-large", "The request body is larger than this route accepts")
    static let notFound = Problem(.notFound, "not-found", "No such resource")
    static let requestTimeout = Problem(.requestTimeout, "request-timeout", "The request body did not arrive in time")
    static let methodNotAllowed = Problem(.methodNotAllowed, "method-not-allowed", "This method is not allowed here")
    static let databaseUnavailable = Problem(.serviceUnavailable, "database-unavailable",
        "The database cannot be reached; nothing was done", headers: [.retryAfter: "1"])
    static let internalError = Problem(.internalServerError, "internal", "Something went wrong on our side; nothing was issued")
}
