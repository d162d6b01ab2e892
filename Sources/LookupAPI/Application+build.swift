import Consent
import Display
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// Where to listen.
struct ListenSettings: Sendable {
    var host = "127.0.0.1"
    var port = 8080
}

/// What the application is built from: its settings and the stores behind it.
struct PassbyDependencies: Sendable {
    var configuration: PassbyConfiguration
    var personalData: PersonalData
    var clients: any APIClientRepository
    var statuses: any HealthStatusRepository
    var database: any DatabaseProbe
    /// The code-signing keys, reloaded from their store every few seconds.
    var keys: LiveKeyRing
    var consents: any ConsentStore
    /// Refusals and verifications: records that need no transaction of their own, written in
    /// batches (each call still returns only after its record commits).
    var ledgerWriter: LedgerBatchWriter
    var offlineCodes: any OfflineCodeStore
    var staff: any StaffRepository
    var ledgerTree: any LedgerTreeStore
    var reviews: any LedgerReviewStore
    var ledgerKey: LedgerKey
    var assertions: AssertionVerifier
    var rateLimiter = RateLimiter()
    /// Present while the development identity provider is trusted: `/helper`'s demo sign-in mints with it.
    var developmentIdentityProvider: DevelopmentIdentityProvider?
    /// Passby's own pages and their assets.
    var webFiles: WebFiles?
    /// Services that must run alongside the server, such as the PostgreSQL pool.
    var services: [any Service] = []

    /// Runs a storage call with the configured deadline, so that a database that hangs or is
    /// gone turns into a 503 instead of a request that never ends.
    func storage<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withDeadline(configuration.databaseTimeout, operation)
    }

    /// The production wiring: every store in PostgreSQL through one pool.
    static func postgres(
        _ postgres: PostgresClient, configuration: PassbyConfiguration, personalData: PersonalData, keys: LiveKeyRing,
        ledgerKey: LedgerKey, assertions: AssertionVerifier, logger: Logger
    ) -> PassbyDependencies {
        let ledgerTree = PostgresLedgerTreeStore(client: postgres, logger: logger)
        let consents = PostgresConsentStore(client: postgres, logger: logger)
        let clientCache = APIClientCache()
        return PassbyDependencies(
            configuration: configuration,
            personalData: personalData,
            clients: CachedAPIClientRepository(base: PostgresAPIClientRepository(client: postgres, logger: logger), cache: clientCache),
            statuses: PostgresHealthStatusRepository(client: postgres, logger: logger),
            database: PostgresProbe(client: postgres, timeout: configuration.databaseTimeout, logger: logger),
            keys: keys,
            consents: consents,
            ledgerWriter: LedgerBatchWriter(store: consents),
            offlineCodes: PostgresOfflineCodeStore(client: postgres, logger: logger),
            staff: PostgresStaffRepository(client: postgres, logger: logger),
            ledgerTree: ledgerTree,
            reviews: ledgerTree,
            ledgerKey: ledgerKey,
            assertions: assertions,
            services: [
                postgres,
                APIClientRevocationListener(client: postgres, cache: clientCache, logger: logger),
                LedgerSealer(tree: ledgerTree, key: ledgerKey, interval: configuration.sealInterval, logger: logger),
            ])
    }
}

/// The process-wide Prometheus registry; swift-metrics may be bootstrapped only once per process.
enum PassbyMetrics {
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}

/// Builds the Passby HTTP application. `beforeServerStarts` runs once the services (the
/// PostgreSQL pool) run and before the port opens: the demo seeds there.
func buildApplication(
    _ dependencies: PassbyDependencies, listen: ListenSettings = .init(), logger: Logger = Logger(label: "passby"),
    beforeServerStarts: (@Sendable () async throws -> Void)? = nil
) -> some ApplicationProtocol {
    let router = buildRouter(dependencies)
    let settings = dependencies.configuration
    var app = Application(
        router: router,
        server: .http1(configuration: .init(
            idleTimeout: .seconds(Int64(settings.idleTimeoutSeconds)),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 32 * 1024, maxHeaderFieldCount: 100))),
        configuration: .init(
            address: .hostname(listen.host, port: listen.port), serverName: "passby",
            availableConnectionsDelegate: MaximumAvailableConnections(settings.maxConnections)),
        logger: logger)
    for service in dependencies.services { app.addServices(service) }
    if let beforeServerStarts { app.beforeServerStarts(perform: beforeServerStarts) }
    return app
}

func buildRouter(_ dependencies: PassbyDependencies) -> Router<PassbyRequestContext> {
    let router = Router(context: PassbyRequestContext.self)
    // Outermost first: metrics and the access log see the status that the problem middleware chose.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: ProblemMiddleware())
    SystemController(database: dependencies.database, registry: PassbyMetrics.registry).addRoutes(to: router)
    KeysController(keys: dependencies.keys, ledgerKey: dependencies.ledgerKey).addRoutes(to: router)

    let v1 = router.group("v1").add(middleware: ClientAuthenticator(dependencies: dependencies))
    HealthStatusController(dependencies: dependencies).addRoutes(to: v1.group().add(middleware: RequireRole(.gateway)))
    VerificationController(dependencies: dependencies, keys: dependencies.keys)
        .addRoutes(to: v1.group().add(middleware: RequireRole(.checkpoint)))
    FamilyMemberController(dependencies: dependencies).addRoutes(to: v1.group("family-members").add(middleware: RequireRole(.guardian)))
    ConsentController(dependencies: dependencies).addRoutes(to: v1.group("consents"))
    LookupController(dependencies: dependencies).addRoutes(to: v1.group("lookups").add(middleware: RequireRole(.helper, .gateway)))
    OfflineCodeController(dependencies: dependencies).addRoutes(to: v1)
    LedgerController(dependencies: dependencies).addRoutes(to: v1)
    ReviewController(dependencies: dependencies).addRoutes(to: v1)
    StaffSessionController(dependencies: dependencies).addRoutes(to: router)
    if let files = dependencies.webFiles { WebController(dependencies: dependencies, files: files).addRoutes(to: router) }
    return router
}
