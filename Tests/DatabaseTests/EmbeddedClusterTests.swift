import Foundation
import Logging
import PostgresNIO
import Testing
import ThrowawayPostgres

@testable import Database

@Suite("Embedded PostgreSQL", .timeLimit(.minutes(5)))
struct EmbeddedClusterTests {
    let logger = Logger(label: "test")

    /// A short, world-traversable directory: the cluster may run as another user, and socket paths are short.
    func scratch() throws -> URL {
        let url = URL(fileURLWithPath: "/tmp/pb-ec-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        return url
    }

    @Test("PostgreSQL is started without Passby's settings in its environment: no key-encryption key, secret or URL")
    func cleanEnvironment() async throws {
        setenv("PASSBY_TEST_CANARY", "kek-canary", 1)
        setenv("OTHER_TEST_VARIABLE", "kept", 1)
        let scratch = try scratch()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let cluster = try EmbeddedCluster(directory: scratch.appendingPathComponent("pg"), durable: false)
        try await cluster.start()
        let pid = try #require(
            try String(contentsOf: scratch.appendingPathComponent("pg/postmaster.pid"), encoding: .utf8).split(separator: "\n").first)
        let environment = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
        try await cluster.stop()
        #expect(!environment.contains(Data("kek-canary".utf8)))
        #expect(environment.contains(Data("OTHER_TEST_VARIABLE=kept".utf8)), "the rest of the environment is passed on")
    }

    @Test("opening creates, starts and migrates the cluster; closing stops what it started")
    func openAndClose() async throws {
        let scratch = try scratch()
        defer { try? FileManager.default.removeItem(at: scratch) }
        // A data directory that does not exist yet, two levels down: the cluster's owner must still reach it.
        let data = scratch.appendingPathComponent("nested/data")
        let handle = try await DatabaseHandle.open(.embedded(dataDirectory: data), logger: logger)
        let cluster = try #require(handle.cluster)
        #expect(cluster.isRunning())
        #expect(handle.stopsClusterOnClose)
        let tables = try await PostgresAdmin.withClient(handle.configuration, logger: logger) { client in
            let rows = try await client.query("SELECT count(*)::int FROM schema_migrations", logger: logger)
            for try await count in rows.decode(Int.self) { return count }
            return 0
        }
        #expect(tables >= 2)

        // A second opener finds it running and leaves it running when it closes.
        let second = try await DatabaseHandle.open(.embedded(dataDirectory: data), logger: logger)
        #expect(!second.stopsClusterOnClose)
        try await second.close()
        #expect(cluster.isRunning())

        try await handle.close()
        #expect(!cluster.isRunning())
    }

    /// Whether `configuration` may connect: one connection, which fails at once when refused.
    func connects(_ configuration: PostgresClient.Configuration) async -> Bool {
        let single = PostgresConnection.Configuration(
            unixSocketPath: configuration.unixSocketPath ?? "", username: configuration.username, password: configuration.password,
            database: configuration.database)
        guard let connection = try? await PostgresConnection.connect(configuration: single, id: 1, logger: logger) else { return false }
        try? await connection.close()
        return true
    }

    @Test("every role of the embedded cluster gives its password: the socket lets no process in on trust")
    func passwordsRequired() async throws {
        let scratch = try scratch()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let handle = try await DatabaseHandle.open(.embedded(dataDirectory: scratch.appendingPathComponent("data")), logger: logger)
        defer { Task { [handle] in try? await handle.close() } }
        let cluster = try #require(handle.cluster)
        #expect(await connects(handle.configuration))
        #expect(await connects(handle.applicationConfiguration))
        for var configuration in [handle.configuration, handle.applicationConfiguration] {
            configuration.password = nil
            #expect(!(await connects(configuration)), "\(configuration.username) came in without a password")
            configuration.password = String(repeating: "0", count: 64)
            #expect(!(await connects(configuration)), "\(configuration.username) came in with a wrong password")
        }
        for file in [EmbeddedCluster.superuserSecretFile, EmbeddedCluster.applicationSecretFile] {
            let mode =
                try FileManager.default.attributesOfItem(atPath: cluster.directory.appendingPathComponent(file).path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file)")
        }
        try await handle.close()
    }

    @Test("a cluster made with trust authentication asks for passwords from its next start on")
    func trustClusterUpgraded() async throws {
        let data = try scratch()
        defer { try? FileManager.default.removeItem(at: data) }
        let cluster = try EmbeddedCluster(directory: data.appendingPathComponent("pg"), durable: false)
        // As clusters were made before: trust on the socket, no password files.
        try FileManager.default.createDirectory(at: cluster.directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        if EmbeddedCluster.isRoot {
            try FileManager.default.setAttributes([.ownerAccountName: EmbeddedCluster.unprivilegedUser], ofItemAtPath: cluster.directory.path)
        }
        try await Tool.run(
            cluster.asClusterOwner("initdb", ["-D", cluster.directory.path, "-U", "postgres", "--auth=trust", "--no-sync", "--no-locale"]))
        let passwordless = PostgresClient.Configuration(
            unixSocketPath: cluster.socketPath, username: "postgres", password: nil, database: "postgres")
        #expect(try await cluster.start())
        defer { Task { try? await cluster.stop(immediate: true) } }
        #expect(!(await connects(passwordless)), "the superuser still came in on trust")
        #expect(await connects(try DatabaseSettings.clientConfiguration(cluster: cluster, database: "postgres")))
        try await cluster.stop(immediate: true)
        #expect(try await cluster.start(), "the upgraded cluster starts again")
        #expect(await connects(try DatabaseSettings.clientConfiguration(cluster: cluster, database: "postgres")))
        try await cluster.stop(immediate: true)
    }

    @Test("a stale postmaster.pid left by a crash is recovered on the next start")
    func staleLock() async throws {
        let data = try scratch()
        defer { try? FileManager.default.removeItem(at: data) }
        let cluster = try EmbeddedCluster(directory: data.appendingPathComponent("pg"), durable: false)
        try await cluster.initializeIfNeeded()
        // A lock naming a PID that is not a postmaster: this very test process.
        let pidFile = cluster.directory.appendingPathComponent("postmaster.pid")
        try "\(getpid())\n\(cluster.directory.path)\n".write(to: pidFile, atomically: true, encoding: .utf8)
        #expect(!cluster.isRunning())
        #expect(try await cluster.start())
        #expect(cluster.isRunning())
        try await cluster.stop(immediate: true)
        #expect(!cluster.isRunning())
    }

    @Test("DATABASE_URL wins over the embedded cluster and is parsed")
    func databaseURL() throws {
        let data = URL(fileURLWithPath: "/tmp/x")
        guard case .url = DatabaseSettings.resolve(dataDirectory: data, environment: ["DATABASE_URL": "postgres://u@h/db"]) else {
            Issue.record("DATABASE_URL was ignored")
            return
        }
        guard case .embedded = DatabaseSettings.resolve(dataDirectory: data, environment: [:]) else {
            Issue.record("no DATABASE_URL should mean the embedded cluster")
            return
        }
        let tcp = try DatabaseSettings.clientConfiguration(url: "postgres://alice:secret@db.internal:6543/passby?sslmode=disable")
        #expect(tcp.host == "db.internal")
        #expect(tcp.port == 6543)
        #expect(tcp.username == "alice")
        #expect(tcp.password == "secret")
        #expect(tcp.database == "passby")
        // Off this machine TLS is required unless the URL says otherwise; on loopback it is preferred.
        #expect("\(try DatabaseSettings.clientConfiguration(url: "postgres://alice@db.internal/passby").tls)".contains("require"))
        #expect("\(try DatabaseSettings.clientConfiguration(url: "postgres://alice@127.0.0.1/passby").tls)".contains("prefer"))
        #expect("\(try DatabaseSettings.clientConfiguration(url: "postgres://alice@127.db.example/passby").tls)".contains("require"))
        #expect("\(try DatabaseSettings.clientConfiguration(url: "postgres://alice@db.internal/passby?sslmode=disable").tls)".contains("disable"))
        let socket = try DatabaseSettings.clientConfiguration(url: "postgres://postgres@localhost/passby?host=/tmp/pg")
        #expect(socket.unixSocketPath == "/tmp/pg/.s.PGSQL.5432")
        #expect(throws: DatabaseSettings.SettingsError.self) { try DatabaseSettings.clientConfiguration(url: "mysql://u@h/db") }
        #expect(throws: DatabaseSettings.SettingsError.self) { try DatabaseSettings.clientConfiguration(url: "postgres://h/db") }
        #expect(throws: DatabaseSettings.SettingsError.self) {
            try DatabaseSettings.clientConfiguration(url: "postgres://u@h/db?sslmode=sometimes")
        }
    }

    @Test("a data directory whose socket path is too long is refused with a clear error")
    func longPath() {
        let long = URL(fileURLWithPath: "/tmp/" + String(repeating: "d", count: 120))
        #expect(throws: EmbeddedCluster.ClusterError.self) { try EmbeddedCluster(directory: long) }
    }
}
