import Foundation
import Logging
import PostgresNIO

/// Where Passby's database is: a server named by `DATABASE_URL`, or the embedded cluster in the data directory.
public enum DatabaseSettings: Sendable {
    case url(String)
    case embedded(dataDirectory: URL)

    /// The name of the database Passby uses inside the embedded cluster.
    public static let embeddedDatabaseName = "passby"

    public enum SettingsError: Error, CustomStringConvertible {
        case invalidURL
        public var description: String {
            "DATABASE_URL is not a postgres:// URL of the form "
                + "postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require][&host=/socket/dir]"
        }
    }

    /// `DATABASE_URL` when set, else the embedded cluster under `dataDirectory`.
    public static func resolve(dataDirectory: URL, environment: [String: String] = ProcessInfo.processInfo.environment) -> Self {
        if let url = environment["DATABASE_URL"], !url.isEmpty { return .url(url) }
        return .embedded(dataDirectory: dataDirectory)
    }

    /// The embedded cluster's directory inside a data directory.
    public static func clusterDirectory(in dataDirectory: URL) -> URL {
        dataDirectory.appendingPathComponent("postgres")
    }

    /// Parses a `postgres://` URL into a client configuration.
    public static func clientConfiguration(url string: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: string),
            ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let user = components.user, !user.isEmpty
        else { throw SettingsError.invalidURL }
        let database = components.path.count > 1 ? String(components.path.dropFirst()) : nil
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            let port = components.port ?? 5432
            return .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user,
                password: components.password, database: database)
        }
        guard let host = components.host, !host.isEmpty else { throw SettingsError.invalidURL }
        let tls: PostgresClient.Configuration.TLS
        // Without sslmode, TLS is required off this machine: `prefer` lets anyone on the path
        // downgrade the connection to plain text, credentials and personal data included.
        switch query["sslmode"] ?? (isLoopback(host) ? "prefer" : "require") {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw SettingsError.invalidURL
        }
        return .init(host: host, port: components.port ?? 5432, username: user, password: components.password, database: database, tls: tls)
    }

    /// The configuration for a database inside an embedded cluster, as its superuser.
    public static func clientConfiguration(cluster: EmbeddedCluster, database: String) throws -> PostgresClient.Configuration {
        .init(unixSocketPath: cluster.socketPath, username: EmbeddedCluster.superuser, password: try cluster.superuserPassword(), database: database)
    }
}
