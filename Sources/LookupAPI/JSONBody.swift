import Foundation
import Hummingbird
import NIOCore

/// Reads a JSON request body with a size limit and turns every way it can be wrong into a 4xx
/// problem. Only a body sent as JSON is read (415 otherwise; curl's `-d` alone sends a form type).
enum JSONBody {
    /// How large a body may be, and how long it may take to arrive.
    struct Limits: Sendable {
        var maxBytes: Int
        var timeout: Duration

        init(_ configuration: PassbyConfiguration) {
            maxBytes = configuration.maxBodyBytes
            timeout = configuration.bodyTimeout
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from request: Request, within limits: Limits) async throws -> T {
        try decode(T.self, from: try await collect(request, within: limits))
    }

    /// The whole body, at most `maxBodyBytes` (else 413), arriving within `bodyTimeout` (else 408,
    /// so a client that trickles its body does not hold a request open).
    ///
    /// The race is structured: a request body may have only one reader at a time, so the reader
    /// is cancelled and awaited before the 408 goes out and Hummingbird drains what is left.
    static func collect(_ request: Request, within limits: Limits) async throws -> ByteBuffer {
        guard isJSON(request.headers[.contentType]) else { throw Problem.unsupportedMediaType }
        do {
            return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
                group.addTask { try await request.body.collect(upTo: limits.maxBytes) }
                group.addTask {
                    try await Task.sleep(for: limits.timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let body = first else { throw Problem.requestTimeout }
                return body
            }
        } catch is NIOTooManyBytesError {
            throw Problem.bodyTooLarge
        }
    }

    /// Decodes a body already collected (when the caller also needs its bytes).
    /// `application/json` or a `+json` type, parameters allowed. Anything else is refused before
    /// the body is read: a form or `text/plain` post, which another site can make a visitor's
    /// browser send without asking, never reaches a route.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json"))
    }

    static func decode<T: Decodable>(_ type: T.Type, from body: ByteBuffer) throws -> T {
        do {
            return try PassbyJSON.decoder().decode(T.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw Problem.malformedRequest(Self.describe(error))
        }
    }

    /// Says where the body was wrong without quoting any of its values.
    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty ? "the body" : "`" + codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") + "`"
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty: return "The body is not valid JSON"
        case .dataCorrupted(let context): return "\(path(context.codingPath)) has an invalid value"
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is required"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)) must not be null"
        case .typeMismatch(let type, let context): return "\(path(context.codingPath)) must be \(Self.jsonName(of: type))"
        @unknown default: return "The body could not be read"
        }
    }

    static func jsonName(of type: Any.Type) -> String {
        switch ObjectIdentifier(type) {
        case ObjectIdentifier(String.self): "a string"
        case ObjectIdentifier(Int.self), ObjectIdentifier(Double.self): "a number"
        case ObjectIdentifier(Bool.self): "a boolean"
        case ObjectIdentifier([Any].self): "an array"
        case ObjectIdentifier([String: Any].self): "an object"
        default: "of another type"
        }
    }
}
