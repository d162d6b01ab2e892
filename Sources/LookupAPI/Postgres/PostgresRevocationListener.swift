import Logging
import PostgresNIO
import ServiceLifecycle

/// Keeps `APIClientCache` subscribed to revocation notices (`sql/0007`) on one pooled connection,
/// resubscribing after a lost connection; the cache is off whenever the subscription is.
struct APIClientRevocationListener: Service {
    static let channel = "passby_api_clients"
    let client: PostgresClient
    let cache: APIClientCache
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: Self.channel) { notices in
                            cache.invalidate(listening: true)
                            for try await _ in notices { cache.invalidate() }
                        }
                    }
                } catch {
                    if !Task.isCancelled {
                        logger.warning("API client revocation notices lost; authenticating against the database until they resume")
                    }
                }
                cache.invalidate(listening: false)
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
