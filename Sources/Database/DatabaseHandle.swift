import Foundation
import Logging
import PostgresNIO

/// A reachable, migrated database, and the embedded cluster behind it when there is one.
///
/// `open` starts the embedded cluster when it is not running; `close` stops it again only
/// when this handle started it (or when `ownsCluster` says so, as `passby serve` does).
public struct DatabaseHandle: Sendable {
    /// The owner's connection: migrations and operator commands.
    public let configuration: PostgresClient.Configuration
    /// The running service's connection, as the `passby_app` role, which may only add to and read
    /// the ledger: through the embedded cluster's socket, or `PASSBY_APP_DATABASE_URL` (else
    /// `DATABASE_URL` itself) for an external server.
    public var applicationConfiguration: PostgresClient.Configuration
    public let cluster: EmbeddedCluster?
    /// Whether `close()` stops the embedded cluster.
    public let stopsClusterOnClose: Bool

    /// Finds or starts the database, creates it inside the embedded cluster if needed, and migrates it.
    public static func open(
        _ settings: DatabaseSettings, ownsCluster: Bool = false, migrate: Bool = true, logger: Logger
    ) async throws -> DatabaseHandle {
        let handle: DatabaseHandle
        switch settings {
        case .url(let url):
            let owner = try DatabaseSettings.clientConfiguration(url: url)
            let applicationURL = ProcessInfo.processInfo.environment["PASSBY_APP_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
            handle = .init(
                configuration: owner, applicationConfiguration: try applicationURL.map(DatabaseSettings.clientConfiguration(url:)) ?? owner,
                cluster: nil, stopsClusterOnClose: false)
        case .embedded(let dataDirectory):
            let cluster = try EmbeddedCluster(directory: DatabaseSettings.clusterDirectory(in: dataDirectory))
            let started = try await cluster.start(logger: logger)
            let owner = try DatabaseSettings.clientConfiguration(cluster: cluster, database: DatabaseSettings.embeddedDatabaseName)
            var application = owner
            application.username = Self.applicationRole
            application.password = try cluster.applicationPassword()
            handle = .init(
                configuration: owner, applicationConfiguration: application, cluster: cluster, stopsClusterOnClose: started || ownsCluster)
            do {
                try await PostgresAdmin.createDatabaseIfMissing(DatabaseSettings.embeddedDatabaseName, cluster: cluster, logger: logger)
            } catch {
                try? await handle.close(logger: logger)
                throw error
            }
        }
        if migrate {
            do {
                try await Migrator(directory: Migrator.defaultDirectory).migrate(configuration: handle.configuration, logger: logger)
                if let cluster = handle.cluster { try await PostgresAdmin.setApplicationPassword(cluster: cluster, logger: logger) }
            } catch {
                try? await handle.close(logger: logger)
                throw error
            }
        }
        return handle
    }

    /// The role the service connects as (created by the migrations).
    public static let applicationRole = "passby_app"

    /// Stops the embedded cluster if this handle is responsible for it.
    public func close(logger: Logger? = nil) async throws {
        if stopsClusterOnClose, let cluster { try await cluster.stop(logger: logger) }
    }
}
