import Consent
import Crypto
import Database
import Foundation
import Hummingbird
import Metrics
import NIOCore
import Prometheus

/// `GET /healthz` (the process answers), `GET /readyz` (the database answers), `GET /metrics`.
///
/// `/metrics` says how the service is used (refusals by reason, lookups, logins), which is no
/// stranger's business: with `PASSBY_METRICS_TOKEN` set it needs that bearer token, and without
/// one it answers loopback peers only.
struct SystemController {
    let database: any DatabaseProbe
    let registry: PrometheusCollectorRegistry
    let metricsToken: String?
    /// Says which identity providers have usable keys, and how old they are.
    let assertions: AssertionVerifier
    /// This instance's name (`PASSBY_INSTANCE`), so that an operator behind a load balancer knows who answered.
    let instanceName: String

    /// Whether this request may read the metrics.
    func mayReadMetrics(_ request: Request, _ context: PassbyRequestContext) throws -> Bool {
        if let metricsToken {
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { throw Problem.missingCredentials }
            // Compared as digests, in constant time: the comparison says nothing of how much matched.
            let given = SHA256.hash(data: Array(header.dropFirst("Bearer ".count).utf8))
            let expected = SHA256.hash(data: Array(metricsToken.utf8))
            guard given == expected else { throw Problem.invalidCredentials }
            return true
        }
        return Self.isLocal(context.remoteAddress)
    }

    /// A loopback or Unix-socket peer, or none at all (an in-process test).
    static func isLocal(_ peer: SocketAddress?) -> Bool {
        guard let peer else { return true }
        if case .unixDomainSocket = peer { return true }
        return peer.ipAddress.map(isLoopback) ?? false
    }

    func addRoutes(to router: Router<PassbyRequestContext>) {
        // An info metric: every series this instance exports can be joined to its name.
        Gauge(label: "passby_instance_info", dimensions: [("name", instanceName)]).record(1)
        router.get("healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("readyz") { _, _ in
            do {
                try await database.ping()
            } catch {
                throw Problem.databaseUnavailable
            }
            // One line per identity provider: how many usable keys it has and how long ago they were fetched.
            let providers = assertions.keyStatus(now: Date()).map { "provider \($0.issuer) keys=\($0.keys) age=\($0.ageSeconds)s\n" }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "ready\ninstance \(instanceName)\n" + providers.joined())))
        }
        router.get("metrics") { request, context in
            guard try mayReadMetrics(request, context) else { throw Problem.notFound }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
}
