import Foundation
import Logging

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

    public enum ClusterError: Error, CustomStringConvertible {
        case binariesNotFound
        case socketPathTooLong(String)
        case noUnprivilegedUser(String)

        public var description: String {
            switch self {
            case .binariesNotFound:
                "PostgreSQL server binaries not found; run scripts/bootstrap.sh or set PASSBY_PG_BIN"
            case .socketPathTooLong(let path):
                "the socket path \(path) is longer than Unix allows (107 bytes); use a shorter --data-dir"
            case .noUnprivilegedUser(let user):
                "running as root, but the user '\(user)' to run PostgreSQL as does not exist"
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
            "-D", directory.path, "-U", Self.superuser, "--auth=trust", "--encoding=UTF8", "--no-locale",
        ]
        if !durable { arguments.append("--no-sync") }
        try await Tool.run(asClusterOwner("initdb", arguments))
    }

    /// Whether a postmaster is serving this directory now.
    public func isRunning() -> Bool {
        guard let pid = postmasterPID() else { return false }
        return Self.processIsPostgres(pid)
    }

    /// Starts the cluster unless it runs already. Returns `true` when this call started it.
    @discardableResult
    public func start(logger: Logger? = nil) async throws -> Bool {
        try await initializeIfNeeded()
        if isRunning() { return false }
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
            if isRunning() { return false }
            let log = (try? String(contentsOf: logFile, encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
            throw Tool.Failure(command: "pg_ctl start", status: "failure", output: result.output + log)
        }
        logger?.info("embedded PostgreSQL started", metadata: ["directory": "\(directory.path)"])
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
