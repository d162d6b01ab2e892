import ArgumentParser
import AsyncHTTPClient
import Consent
import Database
import Display
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import UnixSignals

/// `passby serve`: migrates, optionally seeds the demo, and serves until SIGINT or SIGTERM,
/// then stops the embedded PostgreSQL it runs on.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server.")

    @OptionGroup var data: DataOptions
    @Option(help: "Address to listen on (env PASSBY_HOST).")
    var host: String = ProcessInfo.processInfo.environment["PASSBY_HOST"] ?? "127.0.0.1"
    @Option(help: "Port to listen on (env PASSBY_PORT).")
    var port: Int = Int(ProcessInfo.processInfo.environment["PASSBY_PORT"] ?? "") ?? 8080
    @Flag(help: "Seed demo clients and subjects (once), print a walk-through, and trust the development identity provider (loopback only).")
    var demo = false

    func run() async throws {
        CommandLogging.bootstrap(level: .info)
        let logger = Logger(label: "passby")
        var configuration = try PassbyConfiguration.fromEnvironment()
        if ProcessInfo.processInfo.environment["PASSBY_INSTANCE", default: ""].isEmpty {
            let host = ProcessInfo.processInfo.hostName.filter { PassbyConfiguration.isInstanceName(String($0)) }
            configuration.instanceName = String("\(host.prefix(50)):\(port)")
        }
        let development = try IdentityProviders.developmentProviderTrusted(demo: demo, host: host, configuration: configuration)
        // `serve` owns the embedded cluster: it stops it on the way out even if it found it running.
        let database = try await DatabaseHandle.open(.resolve(dataDirectory: data.dataDirectory), ownsCluster: true, logger: logger)
        // Fetches providers' metadata and keys; no redirects, short timeouts; shut down on the way out.
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(3), read: .seconds(5))))
        do {
            // Every instance on this database shares these; the owner's connection stores them on first use.
            let secrets = try await PostgresAdmin.withClient(database.configuration, logger: logger) { owner in
                try await SharedSecrets.load(vault: data.vault(TimedPostgres(client: owner), logger: logger), data: data, development: development)
            }
            let assertions = try await AssertionVerifier(
                providers: IdentityProviders.load(configuration, development: secrets.developmentProvider, http: http),
                audience: configuration.assertionAudience)
            let webSignIn = try await IdentityProviders.webSignIn(configuration, http: http, logger: logger)
            if development {
                logger.warning(
                    """
                    demo: the development identity provider is trusted, and /helper offers its sign-in to anyone who reaches \
                    this loopback address; without --demo it is never trusted
                    """)
            }
            var poolConfiguration = database.applicationConfiguration
            poolConfiguration.options.maximumConnections = 16
            // PostgreSQL itself ends a statement that outlives the request's deadline, so a lookup
            // answered 503 does not go on to consume its token afterwards.
            let timeout = configuration.databaseTimeout.components
            let milliseconds = timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000
            poolConfiguration.options.additionalStartupParameters = [("statement_timeout", "\(milliseconds)")]
            let postgres = PostgresClient(configuration: poolConfiguration, backgroundLogger: logger)
            // Reviewers' reads, from a hot standby (PASSBY_READ_DATABASE_URL) while it keeps up.
            let replica = try Self.readReplica(statementTimeout: milliseconds, logger: logger)
            let keys = LiveKeyRing(keys: secrets.codeKeys, maxCodeLifetime: configuration.maxCodeLifetime)
            let serverSecret = ServerSecretRing(secrets.serverSecret)
            var components = PassbyComponents.postgres(
                postgres, replica: replica, configuration: configuration, personalData: PersonalData(ring: serverSecret), keys: keys,
                ledgerKey: secrets.ledgerKey, assertions: assertions, logger: logger)
            components.receiptKey = secrets.receiptKey
            components.services.append(
                KeyMaterialWatcher(
                    client: postgres,
                    codeKeys: SharedCodeKeys(
                        vault: try data.vault(TimedPostgres(client: postgres, timeout: configuration.databaseTimeout), logger: logger)),
                    ring: keys, serverSecret: serverSecret, logger: logger))
            do {
                components.webFiles = try WebFiles.bundled()
            } catch {
                // A binary copied without its resource bundle still serves the API.
                logger.warning("the pages and openapi.yaml were not found next to the binary; serving the API only")
            }
            components.webSignIn = webSignIn
            components.developmentIdentityProvider = secrets.developmentProvider
            let owner = database.configuration
            let retention =
                configuration.retentionDays == 0
                ? nil
                : RetentionPurge(
                    policy: RetentionPolicy(days: configuration.retentionDays), interval: .seconds(86_400), clock: components.clock,
                    purge: { cutoff in
                        try await PostgresAdmin.withClient(owner, logger: logger) { ownerClient in
                            try await PostgresConsentStore(client: TimedPostgres(client: ownerClient), logger: logger).purge(before: cutoff)
                        }
                    }, logger: logger)
            if let retention { components.services.append(retention) }
            let seed = demo ? DemoSeed(dataDirectory: data.dataDirectory, components: components) : nil
            let baseURL = "http://\(host):\(port)"
            let personalData = components.personalData
            let app = buildApplication(components, listen: .init(host: host, port: port), logger: logger) {
                try await postgres.withConnection { try await ApplicationRole.check(on: $0, logger: logger) }
                // The first purge before the first request; the service repeats it daily.
                do {
                    try await retention?.runOnce()
                } catch {
                    logger.warning("retention purge failed", metadata: ["error.type": "\(String(describing: type(of: error)))"])
                }
                // Clients are created with the owner's connection, for a moment: the service's role may not.
                let walkthrough = try await PostgresAdmin.withClient(owner, logger: logger) { ownerClient in
                    let clients = PostgresAPIClientRepository(client: TimedPostgres(client: ownerClient), logger: logger)
                    try await WebHelperClient.ensure(in: clients, personalData: personalData)
                    return try await seed?.run(clients: clients, logger: logger)
                }
                guard let walkthrough else { return }
                // Written straight to the file descriptor: print() would sit in a buffer when stdout is a pipe.
                FileHandle.standardOutput.write(Data(walkthrough.render(baseURL: baseURL).utf8))
            }
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            try? await http.shutdown()
            try? await database.close(logger: logger)
            throw error
        }
        try? await http.shutdown()
        try await database.close(logger: logger)
    }

    /// A pool on `PASSBY_READ_DATABASE_URL`, nil when it is unset.
    static func readReplica(statementTimeout milliseconds: Int64, logger: Logger) throws -> PostgresClient? {
        guard let url = ProcessInfo.processInfo.environment["PASSBY_READ_DATABASE_URL"], !url.isEmpty else { return nil }
        var configuration = try DatabaseSettings.clientConfiguration(url: url)
        configuration.options.maximumConnections = 8
        configuration.options.additionalStartupParameters = [("statement_timeout", "\(milliseconds)")]
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }
}
