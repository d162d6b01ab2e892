import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Fetches what an OpenID provider publishes: its metadata
/// (`issuer` + `/.well-known/openid-configuration`) and its JWK set, over HTTPS (plain HTTP only
/// for a loopback provider with `allow_http`), with a timeout and a bounded body.
struct ProviderFetcher: Sendable {
    let http: HTTPClient
    let allowHTTP: Bool
    static let timeout: TimeAmount = .seconds(5)
    static let maxBodyBytes = 256 * 1024

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct Metadata: Decodable {
        var issuer: String
        var jwksURI: String
        var authorizationEndpoint: String?
        var tokenEndpoint: String?
        enum CodingKeys: String, CodingKey {
            case issuer
            case jwksURI = "jwks_uri"
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
        }
    }

    /// The whole fetch, head and body, within this time: a server that trickles its answer cannot hold one.
    static let deadline: Duration = .seconds(10)

    /// One answer: its status, its body (bounded) and how long it may be cached.
    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var body: ByteBuffer
        var maxAge: Int64
    }

    func get(_ address: String) async throws -> (body: ByteBuffer, maxAge: Int64) {
        let answer = try await send(HTTPClientRequest(url: address))
        guard answer.status == .ok else { throw Failure(description: "\(address) answered \(answer.status.code)") }
        return (answer.body, answer.maxAge)
    }

    /// POSTs a form (`application/x-www-form-urlencoded`) and returns the answer whatever its
    /// status, for the caller to read an OAuth error from.
    func post(_ address: String, form: [(String, String)], headers: HTTPHeaders = [:]) async throws -> Answer {
        var request = HTTPClientRequest(url: address)
        request.method = .POST
        request.headers = headers
        request.headers.replaceOrAdd(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.replaceOrAdd(name: "accept", value: "application/json")
        let body = form.map { "\($0)=\(ProviderSignIn.formEncoded($1))" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: body))
        return try await send(request)
    }

    /// Sends within the deadline: a server that trickles its answer cannot hold one.
    private func send(_ request: HTTPClientRequest) async throws -> Answer {
        let address = request.url
        return try await withThrowingTaskGroup(of: Answer?.self) { group in
            group.addTask { try await fetch(request) }
            group.addTask {
                try await Task.sleep(for: Self.deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let answer = first else {
                throw Failure(description: "\(address) did not answer within \(Self.deadline)")
            }
            return answer
        }
    }

    private func fetch(_ request: HTTPClientRequest) async throws -> Answer {
        let address = request.url
        guard let url = URL(string: address), let scheme = url.scheme?.lowercased(), let host = url.host else {
            throw Failure(description: "\(address) is not a URL")
        }
        guard scheme == "https" || (scheme == "http" && allowHTTP && IdentityProviders.isLoopback(host)) else {
            throw Failure(description: "\(address) is not https (allow_http is for loopback providers only)")
        }
        let response = try await http.execute(request, timeout: Self.timeout)
        let body = try await response.body.collect(upTo: Self.maxBodyBytes)
        return Answer(status: response.status, body: body, maxAge: Self.maxAge(cacheControl: response.headers.first(name: "cache-control")))
    }

    /// How long a key set may be kept: its `Cache-Control: max-age`, within 60 s … 24 h; 300 s
    /// when it says nothing; the least when it says `no-store` or `no-cache`.
    static func maxAge(cacheControl: String?) -> Int64 {
        let directives = (cacheControl ?? "").lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if directives.contains("no-store") || directives.contains("no-cache") { return 60 }
        guard let maxAge = directives.first(where: { $0.hasPrefix("max-age=") }).flatMap({ Int64($0.dropFirst("max-age=".count)) })
        else { return 300 }
        return min(max(maxAge, 60), 86_400)
    }

    /// The provider's metadata, which must name the same issuer.
    func metadata(issuer: String) async throws -> Metadata {
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let (body, _) = try await get(base + "/.well-known/openid-configuration")
        guard let metadata = try? JSONDecoder().decode(Metadata.self, from: Data(body.readableBytesView)) else {
            throw Failure(description: "its metadata has no issuer or jwks_uri")
        }
        guard metadata.issuer == issuer else { throw Failure(description: "its metadata names another issuer, \(metadata.issuer)") }
        return metadata
    }

    /// The provider's `jwks_uri`, from its metadata.
    func discover(issuer: String) async throws -> String {
        try await metadata(issuer: issuer).jwksURI
    }

    /// The JWK set at `address`, and how long it may be cached.
    func keySet(_ address: String) async throws -> (jwksJSON: String, maxAge: Int64) {
        let (body, maxAge) = try await get(address)
        return (String(buffer: body), maxAge)
    }
}
