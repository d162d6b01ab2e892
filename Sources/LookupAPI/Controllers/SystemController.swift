import Hummingbird
import Prometheus

/// `GET /healthz` (the process answers), `GET /readyz` (the database answers), `GET /metrics`.
struct SystemController {
    let database: any DatabaseProbe
    let registry: PrometheusCollectorRegistry

    func addRoutes(to router: Router<PassbyRequestContext>) {
        router.get("healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("readyz") { _, _ in
            do {
                try await database.ping()
            } catch {
                throw Problem.databaseUnavailable
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
}
