import Foundation
import Logging
import PostgresNIO

/// A private PostgreSQL cluster in a directory, reached only through a Unix socket in that directory.
///
/// PostgreSQL refuses to run as root, so when this process is root the cluster runs as an
/// unprivileged system user (Debian's `postgres`) and the directory belongs to that user.
public struct EmbeddedCluster: Sendable {
    /// The cluster's data directory; its Unix socket lives here too.
    public let directory: URL
    /// Where `initdb`, `pg_ctl` and `postgres` live.
    public let binDirectory: URL
    /// `false` for throwaway test clusters: no fsync, which is much faster and loses data on a crash.
    public let durable: Bool
    /// The port number names the socket file (`.s.PGSQL.<port>`); no TCP port is opened.
    public static let port = 5432
    /// The superuser that `initdb` creates and Passby connects as through the socket.
    public static let superuser = "postgres"
    /// Files in the cluster directory holding the roles' passwords (32 random bytes each, as hex):
    /// 0600, readable by Passby's user only. Every role gives its password (scram-sha-256), so a
    /// process that reaches the socket cannot come in as the superuser.
    static let superuserSecretFile = "passby-superuser.secret"
    static let applicationSecretFile = "passby-app.secret"

    public enum ClusterError: Error, CustomStringConvertible {
        case binariesNotFound
        case socketPathTooLong(String)
        case noUnprivilegedUser(String)
        case noSuperuserPassword(String)

        public var description: String {
            switch self {
            case .binariesNotFound:
                "PostgreSQL server binaries not found; run scripts/bootstrap.sh or set PASSBY_PG_BIN"
            case .socketPathTooLong(let path):
                "the socket path \(path) is longer than Unix allows (107 bytes); use a shorter --data-dir"
            case .noUnprivilegedUser(let user):
                "running as root, but the user '\(user)' to run PostgreSQL as does not exist"
            case .noSuperuserPassword(let path):
                "the embedded cluster's superuser password (\(path)) is missing or damaged; restore it, or move the cluster away to make a new one"
            }
        }
    }

    public init(directory: URL, binDirectory: URL? = nil, durable: Bool = true) throws {
        self.directory = directory.standardizedFileURL
        guard let bin = binDirectory ?? Self.locateBinaries() else { throw ClusterError.binariesNotFound }
        self.binDirectory = bin
        self.durable = durable
        let socket = self.socketPath
        guard socket.utf8.count <= 107 else { throw ClusterError.socketPathTooLong(socket) }
    }

    /// The path of the socket file a client connects to.
    public var socketPath: String { directory.appendingPathComponent(".s.PGSQL.\(Self.port)").path }

    var logFile: URL { directory.appendingPathComponent("server.log") }
    var pidFile: URL { directory.appendingPathComponent("postmaster.pid") }

    /// Finds the newest installed PostgreSQL, or the one `PASSBY_PG_BIN` names.
    public static func locateBinaries() -> URL? {
        if let explicit = ProcessInfo.processInfo.environment["PASSBY_PG_BIN"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let newest = versions.compactMap(Int.init).sorted().last { version in
            FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb")
        }
        return newest.map { URL(fileURLWithPath: "\(root)/\($0)/bin") }
    }

    static var isRoot: Bool { getuid() == 0 }
    static let unprivilegedUser = ProcessInfo.processInfo.environment["PASSBY_PG_USER"] ?? "postgres"

    /// Starts a detached watcher that stops this cluster and deletes its directory once process
    /// `pid` has ended, however it ends: throwaway clusters of tests use it.
    public func removeWhenProcessEnds(_ pid: Int32) async throws {
        let stop = asClusterOwner("pg_ctl", ["stop", "-D", directory.path, "-m", "immediate"]).map { "'\($0)'" }.joined(separator: " ")
        try await Tool.spawnDetached(script: "while kill -0 \(pid) 2>/dev/null; do sleep 0.5; done; \(stop); rm -rf '\(directory.path)'")
    }

    /// Prefixes a command so that it runs as the unprivileged user when we are root.
    func asClusterOwner(_ tool: String, _ arguments: [String]) -> [String] {
        let path = binDirectory.appendingPathComponent(tool).path
        if Self.isRoot {
            return ["/usr/sbin/runuser", "-u", Self.unprivilegedUser, "--", path] + arguments
        }
        return [path] + arguments
    }

    /// Creates the cluster with `initdb` unless it exists already.
    public func initializeIfNeeded() async throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: directory.appendingPathComponent("PG_VERSION").path) { return }
        // The parents keep default permissions: the unprivileged owner must be able to reach the cluster.
        try fm.createDirectory(at: directory.deletingLastPathComponent(), withIntermediateDirectories: true)
        try fm.createDirectory(at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        if Self.isRoot {
            guard getpwnam(Self.unprivilegedUser) != nil else { throw ClusterError.noUnprivilegedUser(Self.unprivilegedUser) }
            try fm.setAttributes([.ownerAccountName: Self.unprivilegedUser], ofItemAtPath: directory.path)
        }
        var arguments = [
            "-D", directory.path, "-U", Self.superuser, "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale",
        ]
        if !durable { arguments.append("--no-sync") }
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // initdb reads the password from a file its user can open (a pipe of ours it cannot),
        // in a private directory beside the cluster's, removed at once.
        let handover = directory.deletingLastPathComponent().appendingPathComponent(".\(directory.lastPathComponent).initdb-\(getpid())")
        try? fm.removeItem(at: handover)
        try fm.createDirectory(at: handover, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? fm.removeItem(at: handover) }
        let passwordFile = handover.appendingPathComponent("password")
        try SecretFile.writePrivate(Array((Self.hex(secret) + "\n").utf8), to: passwordFile)
        if Self.isRoot {
            for item in [handover, passwordFile] {
                try fm.setAttributes([.ownerAccountName: Self.unprivilegedUser], ofItemAtPath: item.path)
            }
        }
        arguments.append("--pwfile=\(passwordFile.path)")
        try await Tool.run(asClusterOwner("initdb", arguments))
        try SecretFile.writePrivate(secret, to: directory.appendingPathComponent(Self.superuserSecretFile))
    }

    /// The superuser's password.
    public func superuserPassword() throws -> String {
        let file = directory.appendingPathComponent(Self.superuserSecretFile)
        guard let data = FileManager.default.contents(atPath: file.path), data.count == 32 else {
            throw ClusterError.noSuperuserPassword(file.path)
        }
        return Self.hex(Array(data))
    }

    /// The password of the role the service logs in as; made on first use.
    public func applicationPassword() throws -> String {
        Self.hex(try SecretFile.loadOrCreate(at: directory.appendingPathComponent(Self.applicationSecretFile), length: 32))
    }

    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }

    var hbaFile: URL { directory.appendingPathComponent("pg_hba.conf") }

    /// Clusters made before passwords used trust authentication on the socket: give the superuser
    /// a password, then ask every role for one. Safe to repeat if a step was interrupted.
    func requirePasswords(logger: Logger?) async throws {
        let hba = (try? String(contentsOf: hbaFile, encoding: .utf8)) ?? ""
        let trusting = hba.split(separator: "\n").contains { line in
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return content.split(whereSeparator: \.isWhitespace).contains("trust")
        }
        guard trusting else { return }
        let password = Self.hex(try SecretFile.loadOrCreate(at: directory.appendingPathComponent(Self.superuserSecretFile), length: 32))
        let trusted = PostgresClient.Configuration(unixSocketPath: socketPath, username: Self.superuser, password: nil, database: "postgres")
        try await PostgresAdmin.withClient(trusted, logger: logger ?? Logger(label: "passby.database")) { client in
            // A utility statement takes no parameters; the password is hex, so it needs no quoting.
            try await client.query(
                "ALTER ROLE \"\(unescaped: Self.superuser)\" PASSWORD '\(unescaped: password)'", logger: Logger(label: "passby.database"))
            try replaceHBAFile()
            try await client.query("SELECT pg_reload_conf()", logger: Logger(label: "passby.database"))
        }
        logger?.notice("the embedded cluster asked for no passwords; every role now needs one", metadata: ["directory": "\(directory.path)"])
    }

    /// Writes `pg_hba.conf` beside itself and renames it into place: a crash leaves the old file
    /// or the new one, never an empty one PostgreSQL would refuse to start with.
    func replaceHBAFile() throws {
        let temporary = directory.appendingPathComponent(".pg_hba.conf.\(getpid())")
        try? FileManager.default.removeItem(at: temporary)
        try Data(Self.passwordsOnly.utf8).write(to: temporary)
        if Self.isRoot { try FileManager.default.setAttributes([.ownerAccountName: Self.unprivilegedUser], ofItemAtPath: temporary.path) }
        guard rename(temporary.path, hbaFile.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown)
        }
    }

    static let passwordsOnly = """
        # Written by Passby: the server listens on its socket only, and every role gives its password.
        local all all scram-sha-256

        """

    /// Whether a postmaster is serving this directory now.
    public func isRunning() -> Bool {
        guard let pid = postmasterPID() else { return false }
        return Self.processIsPostgres(pid)
    }

    /// Starts the cluster unless it runs already. Returns `true` when this call started it.
    @discardableResult
    public func start(logger: Logger? = nil) async throws -> Bool {
        try await initializeIfNeeded()
        if isRunning() {
            try await requirePasswords(logger: logger)
            return false
        }
        removeStaleLocks(logger: logger)
        var settings = "-k '\(directory.path)' -p \(Self.port) -c listen_addresses=''"
        // A throwaway cluster serves every test of a run at once, each with its own pool.
        if !durable { settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" }
        let result = try await Tool.run(
            asClusterOwner("pg_ctl", ["start", "-w", "-t", "60", "-D", directory.path, "-l", logFile.path, "-o", settings]),
            allowFailure: true
        )
        if !result.succeeded {
            // Another process may have started it between our check and our start.
            if isRunning() {
                try await requirePasswords(logger: logger)
                return false
            }
            let log = (try? String(contentsOf: logFile, encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
            throw Tool.Failure(command: "pg_ctl start", status: "failure", output: result.output + log)
        }
        logger?.info("embedded PostgreSQL started", metadata: ["directory": "\(directory.path)"])
        try await requirePasswords(logger: logger)
        return true
    }

    /// Stops the cluster if it runs; `immediate` skips the shutdown checkpoint (for throwaway clusters).
    public func stop(immediate: Bool = false, logger: Logger? = nil) async throws {
        guard isRunning() else { return }
        try await Tool.run(asClusterOwner("pg_ctl", ["stop", "-w", "-t", "60", "-D", directory.path, "-m", immediate ? "immediate" : "fast"]))
        logger?.info("embedded PostgreSQL stopped", metadata: ["directory": "\(directory.path)"])
    }

    func postmasterPID() -> pid_t? {
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let first = text.split(separator: "\n").first,
            let pid = pid_t(first.trimmingCharacters(in: .whitespaces))
        else { return nil }
        return pid
    }

    /// A crash leaves `postmaster.pid` behind; after a restart its PID may belong to another
    /// process, and a killed postmaster that nobody reaped lingers as a zombie.
    static func processIsPostgres(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // "PID (comm) STATE ...": comm may hold spaces, so read around the last parenthesis.
        guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return false }
        let comm = stat[stat.index(after: open)..<close]
        let state = stat[stat.index(after: close)...].split(separator: " ").first ?? ""
        return comm.hasPrefix("postgres") && state != "Z" && state != "X"
    }

    func removeStaleLocks(logger: Logger?) {
        let fm = FileManager.default
        let socketLock = directory.appendingPathComponent(".s.PGSQL.\(Self.port).lock")
        for lock in [pidFile, socketLock, URL(fileURLWithPath: socketPath)] where fm.fileExists(atPath: lock.path) {
            try? fm.removeItem(at: lock)
            logger?.warning("removed a stale lock left by a crash", metadata: ["file": "\(lock.lastPathComponent)"])
        }
    }
}
