import Consent
import Database
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

/// Every store the application keeps state in, behind its protocol.
struct PassbyStores: Sendable {
    var clients: any APIClientRepository
    var statuses: any HealthStatusRepository
    var consents: any ConsentStore
    var offlineCodes: any OfflineCodeStore
    var staff: any StaffRepository
    var ledgerTree: any LedgerTreeStore
    var reviews: any LedgerReviewStore
    var database: any DatabaseProbe
    /// Rate-limit windows; PostgreSQL's are shared by every instance on the database.
    var rateLimits: any RateLimitCounter = InMemoryRateLimitCounter()
    /// Where reviewers read the ledger; nil reads `ledgerTree` and `reviews`.
    var reviewReads: ReviewReads?

    /// Reviewer reads: a read replica's when there is one, else this primary's stores.
    var reads: ReviewReads { reviewReads ?? ReviewReads(primary: .init(tree: ledgerTree, reviews: reviews)) }

    /// Every store in PostgreSQL through one pool, each call within `timeout`; the client cache
    /// listens to revocation notices on a connection of its own. With `replica`, reviewers read
    /// from that hot standby while it is at most `maxLag` seconds behind.
    static func postgres(
        _ client: PostgresClient, replica: PostgresClient? = nil, maxLag: Double = 5, timeout: Duration, logger: Logger
    ) -> (stores: PassbyStores, services: [any Service]) {
        let database = TimedPostgres(client: client, timeout: timeout)
        let tree = PostgresLedgerTreeStore(client: database, logger: logger)
        let cache = APIClientCache()
        let rateLimits = PostgresRateLimitCounter(client: database, logger: logger)
        var stores = PassbyStores(
            clients: CachedAPIClientRepository(base: PostgresAPIClientRepository(client: database, logger: logger), cache: cache),
            statuses: PostgresHealthStatusRepository(client: database, logger: logger),
            consents: PostgresConsentStore(client: database, logger: logger),
            offlineCodes: PostgresOfflineCodeStore(client: database, logger: logger),
            staff: PostgresStaffRepository(client: database, logger: logger),
            ledgerTree: tree, reviews: tree, database: PostgresProbe(database: database, logger: logger),
            rateLimits: rateLimits)
        var services: [any Service] = [
            client, APIClientRevocationListener(client: client, cache: cache, logger: logger),
            RateWindowSweeper(counter: rateLimits, clock: SystemClock()),
        ]
        if let replica {
            let standby = PostgresLedgerTreeStore(client: TimedPostgres(client: replica, timeout: timeout), logger: logger)
            let reads = ReviewReads(primary: .init(tree: tree, reviews: tree), replica: .init(tree: standby, reviews: standby), maxLag: maxLag)
            stores.reviewReads = reads
            services += [replica, ReplicaLagMonitor(primary: client, replica: replica, reads: reads, logger: logger)]
        }
        return (stores, services)
    }
}

/// What the application is built from: settings, secrets, keys and stores. Only the composition
/// below reads it; each controller and service is handed exactly what it uses.
struct PassbyComponents: Sendable {
    var configuration: PassbyConfiguration
    var personalData: PersonalData
    /// The code-signing keys, reloaded from their store every few seconds.
    var keys: LiveKeyRing
    var ledgerKey: LedgerKey
    /// Signs consent receipts, and nothing else; tests get a fresh one.
    var receiptKey = SigningKey.generate(.edDSA)
    var assertions: AssertionVerifier
    var stores: PassbyStores
    var clock: any PassbyClock = SystemClock()
    /// Present while the development identity provider is trusted: `/helper`'s demo sign-in mints with it.
    var developmentIdentityProvider: DevelopmentIdentityProvider?
    /// Present when `/helper` signs in through an OpenID provider (`PASSBY_WEB_OIDC_*`).
    var webSignIn: WebSignInProvider?
    /// Passby's own pages and their assets.
    var webFiles: WebFiles?
    /// Services that run beside the server: the PostgreSQL pool, the revocation listener, the sealer.
    var services: [any Service] = []

    /// The production wiring: every store in PostgreSQL through one pool, and the ledger sealer.
    static func postgres(
        _ client: PostgresClient, replica: PostgresClient? = nil, configuration: PassbyConfiguration, personalData: PersonalData,
        keys: LiveKeyRing, ledgerKey: LedgerKey, assertions: AssertionVerifier, logger: Logger
    ) -> PassbyComponents {
        let (stores, services) = PassbyStores.postgres(
            client, replica: replica, maxLag: configuration.readMaxLagSeconds, timeout: configuration.databaseTimeout, logger: logger)
        return PassbyComponents(
            configuration: configuration, personalData: personalData, keys: keys, ledgerKey: ledgerKey, assertions: assertions,
            stores: stores,
            services: services + [LedgerSealer(tree: stores.ledgerTree, key: ledgerKey, interval: configuration.sealInterval, logger: logger)])
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
    _ components: PassbyComponents, listen: ListenSettings = .init(), logger: Logger = Logger(label: "passby"),
    beforeServerStarts: (@Sendable () async throws -> Void)? = nil
) -> some ApplicationProtocol {
    let router = buildRouter(components)
    let settings = components.configuration
    var app = Application(
        router: router,
        server: .http1(
            configuration: .init(
                idleTimeout: .seconds(Int64(settings.idleTimeoutSeconds)),
                httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 32 * 1024, maxHeaderFieldCount: 100))),
        configuration: .init(
            address: .hostname(listen.host, port: listen.port), serverName: "passby",
            availableConnectionsDelegate: MaximumAvailableConnections(settings.maxConnections)),
        logger: logger)
    for service in components.services { app.addServices(service) }
    if let beforeServerStarts { app.beforeServerStarts(perform: beforeServerStarts) }
    return app
}

func buildRouter(_ components: PassbyComponents) -> Router<PassbyRequestContext> {
    let settings = components.configuration
    let stores = components.stores
    let clock = components.clock
    let limits = JSONBody.Limits(settings)
    let identities = Identities(
        personalData: components.personalData, agePolicy: settings.agePolicy, assertions: components.assertions,
        bindings: AssertionBindings(store: stores.consents, personalData: components.personalData), statuses: stores.statuses)
    let signer = CodeSigner(keys: components.keys, issuer: settings.issuer, receiptKey: components.receiptKey)
    // Refusals and verifications need no transaction of their own: they are written in batches,
    // and each caller still returns only after its own record has committed.
    let ledger = LedgerBatchWriter(store: stores.consents)
    let reviews = ReviewService(identities: identities, reads: stores.reads, consents: stores.consents, clock: clock)
    let staffSessions = StaffSessionService(staff: stores.staff, configuration: settings, clock: clock, rateLimits: stores.rateLimits)

    let router = Router(context: PassbyRequestContext.self)
    // Outermost first: metrics and the access log see the status that the problem middleware chose.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: ProblemMiddleware(catalogue: ProblemCatalogue(configuration: settings)))
    SystemController(
        database: stores.database, registry: PassbyMetrics.registry, metricsToken: settings.metricsToken, assertions: components.assertions,
        instanceName: settings.instanceName
    ).addRoutes(to: router)
    KeysController(keys: components.keys, ledgerKey: components.ledgerKey, receiptKey: components.receiptKey.publicKey).addRoutes(to: router)

    let v1 = router.group("v1").add(middleware: ClientAuthenticator(clients: stores.clients, staffSessions: staffSessions))
    HealthStatusController(
        service: HealthStatusService(statuses: stores.statuses, personalData: components.personalData, configuration: settings, clock: clock),
        limits: limits
    ).addRoutes(to: v1.group().add(middleware: RequireRole(.gateway)))
    VerificationController(
        service: VerificationService(
            keys: components.keys, offlineCodes: stores.offlineCodes, statuses: stores.statuses, ledger: ledger,
            skew: settings.verificationSkew, clock: clock),
        limits: limits
    ).addRoutes(to: v1.group().add(middleware: RequireRole(.checkpoint)))
    let refusals = RefusalRecorder(ledger: ledger)
    let checkIn = TerminalCheckIn(identities: identities)
    FamilyMemberController(
        service: GuardianshipService(
            identities: identities, consents: stores.consents, refusals: refusals, quotas: settings.quotas, clock: clock),
        checkIn: checkIn, refusals: refusals, limits: limits, clock: clock
    ).addRoutes(to: v1)
    TerminalGrantController(
        service: TerminalGrantService(consents: stores.consents, clock: clock), checkIn: checkIn, refusals: refusals, limits: limits,
        clock: clock
    ).addRoutes(to: v1)
    ConsentController(
        service: ConsentService(
            identities: identities, consents: stores.consents, refusals: refusals, signer: signer, configuration: settings, clock: clock),
        limits: limits
    ).addRoutes(to: v1.group("consents"))
    LookupController(
        service: LookupService(
            identities: identities, consents: stores.consents, ledger: ledger, rateLimits: stores.rateLimits, signer: signer,
            configuration: settings, clock: clock),
        limits: limits
    ).addRoutes(to: v1.group("lookups").add(middleware: RequireRole(.helper, .gateway)))
    OfflineCodeController(
        service: OfflineCodeService(
            identities: identities, checkIn: checkIn, consents: stores.consents, offlineCodes: stores.offlineCodes, refusals: refusals,
            signer: signer, configuration: settings, clock: clock),
        limits: limits, timeZone: settings.agePolicy.timeZone
    ).addRoutes(to: v1)
    LedgerController(service: reviews).addRoutes(to: v1)
    ReviewController(service: reviews, exportLimit: settings.maxExportRows).addRoutes(to: v1)
    StaffSessionController(service: staffSessions, limits: limits).addRoutes(to: router)
    if let files = components.webFiles {
        let signIn = components.developmentIdentityProvider.map {
            DevelopmentSignIn(provider: $0, identities: identities, clock: clock, audience: components.assertions.audience)
        }
        let providerSignIn = components.webSignIn.map { ProviderSignIn(provider: $0, identities: identities, clock: clock) }
        WebController(
            files: files, helperKey: WebHelperClient.key(components.personalData), signIn: signIn, providerSignIn: providerSignIn != nil,
            limits: limits
        ).addRoutes(to: router)
        if let page = files.byPath["/helper"] {
            WebSignInController(service: providerSignIn, page: page, catalogue: ProblemCatalogue(configuration: settings)).addRoutes(to: router)
        }
    }
    return router
}
