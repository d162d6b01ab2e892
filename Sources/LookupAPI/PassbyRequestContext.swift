import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import NIOCore

/// The request context of every Passby route: the authenticated API client, if any.
struct PassbyRequestContext: AuthRequestContext, RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The API client that the bearer key names; nil until `ClientAuthenticator` has run.
    var identity: APIClient?
    /// The peer's address, for per-address limits; behind a proxy it is the proxy's.
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.remoteAddress = source.channel.remoteAddress
    }

    /// The peer's IP address as text, or `unknown`.
    var peer: String { remoteAddress?.ipAddress ?? "unknown" }

    /// A safety net for any decode that does not go through `JSONBody`, which applies the configured limit.
    var maxUploadSize: Int { 64 * 1024 }

    /// Responses are typed and written in snake_case, times in RFC 3339.
    var responseEncoder: JSONEncoder { PassbyJSON.encoder() }

    /// The authenticated client; every route that calls this sits behind `RequireRole`.
    var client: APIClient {
        get throws {
            guard let identity else { throw Problem.missingCredentials }
            return identity
        }
    }

    /// Encodes `value` as the answer; personal answers are never cached.
    func respond(_ value: some Encodable, status: HTTPResponse.Status = .ok, from request: Request, cacheable: Bool = false) throws -> Response {
        var response = try responseEncoder.encode(value, from: request, context: self)
        response.status = status
        if !cacheable { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// The headers Passby reads besides the standard ones.
enum PassbyHeaders {
    /// A person's real-name assertion.
    static let assertion = HTTPField.Name("Passby-Assertion")!
    /// A client's key for retrying a request safely.
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// The longest `Idempotency-Key` kept: it is stored with every answer.
    static let maxIdempotencyKeyLength = 128
}

extension Request {
    /// The `Idempotency-Key`, if sent: 1 to 128 visible ASCII characters, else 400 `malformed-request`.
    func idempotencyKey() throws -> String? {
        guard let key = headers[PassbyHeaders.idempotencyKey] else { return nil }
        guard (1...PassbyHeaders.maxIdempotencyKeyLength).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw Problem.malformedRequest("Idempotency-Key must be 1 to \(PassbyHeaders.maxIdempotencyKeyLength) visible ASCII characters")
        }
        return key
    }
}

/// The JSON conventions of the API: snake_case keys both ways, RFC 3339 times.
enum PassbyJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

extension Request {
    /// The path parameter as a UUID, or 404: a malformed id names nothing.
    func uuid(_ parameter: String, context: PassbyRequestContext) throws -> UUID {
        guard let text = context.parameters.get(parameter), let id = UUID(uuidString: text) else { throw Problem.notFound }
        return id
    }

    var assertion: String? { headers[PassbyHeaders.assertion] }
}
