import Database
import Foundation
import Logging
import PostgresNIO

/// Throwaway databases for tests: one non-durable embedded cluster per test process, and a fresh
/// database in it per call, so suites may run in parallel without seeing each other's rows.
///
/// A detached watchdog stops the cluster and deletes its directory when the test process exits,
/// however it exits.
public enum ThrowawayDatabase {
    /// A fresh database; migrated (from a template migrated once per process) unless `migrated` is false.
    public static func create(migrated: Bool = true) async throws -> PostgresClient.Configuration {
        try await SharedCluster.shared.newDatabase(migrated: migrated)
    }

    /// The cluster behind the throwaway databases, for tests that need to stop or inspect it.
    public static func cluster() async throws -> EmbeddedCluster {
        try await SharedCluster.shared.started()
    }
}

actor SharedCluster {
    static let shared = SharedCluster()
    // Tasks, not values: the actor is re-entered while they run, and each must run only once.
    private var clusterTask: Task<EmbeddedCluster, any Error>?
    private var templateTask: Task<Void, any Error>?
    private var counter = 0
    private static let logger = Logger(label: "passby.test-database")

    func started() async throws -> EmbeddedCluster {
        if clusterTask == nil {
            clusterTask = Task {
                let directory = URL(fileURLWithPath: "/tmp/passby-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
                let cluster = try EmbeddedCluster(directory: directory, durable: false)
                try await cluster.start()
                try await cluster.removeWhenProcessEnds(getpid())
                return cluster
            }
        }
        return try await clusterTask!.value
    }

    func migratedTemplate(in cluster: EmbeddedCluster) async throws {
        if templateTask == nil {
            templateTask = Task {
                try await PostgresAdmin.createDatabaseIfMissing("passby_template", cluster: cluster, logger: Self.logger)
                let template = try DatabaseSettings.clientConfiguration(cluster: cluster, database: "passby_template")
                try await Migrator(directory: Migrator.defaultDirectory).migrate(configuration: template, logger: Self.logger)
                try await PostgresAdmin.setApplicationPassword(cluster: cluster, logger: Self.logger)
            }
        }
        try await templateTask!.value
    }

    func newDatabase(migrated: Bool) async throws -> PostgresClient.Configuration {
        let cluster = try await started()
        if migrated { try await migratedTemplate(in: cluster) }
        counter += 1
        let name = "t\(counter)_\(UInt32.random(in: 0...UInt32.max))"
        try await PostgresAdmin.createDatabaseIfMissing(
            name, cluster: cluster, template: migrated ? "passby_template" : nil, logger: Self.logger)
        return try DatabaseSettings.clientConfiguration(cluster: cluster, database: name)
    }
}

extension PostgresClient.Configuration {
    /// This database as the service's role, `passby_app`, with its password.
    public func asApplicationRole() async throws -> PostgresClient.Configuration {
        var application = self
        application.username = DatabaseHandle.applicationRole
        application.password = try await ThrowawayDatabase.cluster().applicationPassword()
        return application
    }
}

extension PostgresClient {
    /// This client as the stores take it, without a deadline, as an operator's command has it.
    public var timed: TimedPostgres { TimedPostgres(client: self) }
}
