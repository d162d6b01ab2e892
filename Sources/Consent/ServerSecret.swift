import Crypto
import Database
import Foundation
import Synchronization

/// One version of the server secret. Version 1 is the secret a database started with; each
/// rotation adds the next, in force from `activatesAt` (Unix seconds), which leaves every
/// instance time to learn it before any hash is made with it.
public struct ServerSecretVersion: Sendable {
    public let number: Int16
    let key: SymmetricKey
    public let activatesAt: Int64

    public init(number: Int16, key: SymmetricKey, activatesAt: Int64) {
        self.number = number
        self.key = key
        self.activatesAt = activatesAt
    }
}

/// The versions of the server secret this instance holds, replaced as a whole when the
/// database's key material changes (`KeyMaterialWatcher`).
public final class ServerSecretRing: Sendable {
    private let versions: Mutex<[ServerSecretVersion]>
    private let clock: @Sendable () -> Int64

    /// `versions` must hold version 1 and be numbered without gaps.
    public init(_ versions: [ServerSecretVersion], clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        precondition(ServerSecretRing.isComplete(versions), "server secret versions must run 1, 2, … without gaps")
        self.versions = Mutex(versions.sorted { $0.number < $1.number })
        self.clock = clock
    }

    /// Whether `versions` run 1, 2, … without a gap (the chain of hashes needs every one).
    public static func isComplete(_ versions: [ServerSecretVersion]) -> Bool {
        let numbers = versions.map(\.number).sorted()
        return !numbers.isEmpty && numbers == Array(1...Int16(numbers.count))
    }

    /// Replaces the versions held; a set with a gap, or with fewer versions than held, is ignored
    /// (a version is never taken back: hashes may have been made with it).
    @discardableResult
    public func update(_ new: [ServerSecretVersion]) -> Bool {
        guard Self.isComplete(new) else { return false }
        return versions.withLock { versions in
            guard new.count >= versions.count else { return false }
            versions = new.sorted { $0.number < $1.number }
            return true
        }
    }

    /// The versions and which one is in force now.
    public func snapshot() -> Snapshot {
        Snapshot(versions: versions.withLock { $0 }, now: clock())
    }

    /// HMAC-SHA-256 of a hash under the next version's key: one step of the chain.
    static func step(_ hash: [UInt8], under key: SymmetricKey) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: hash, using: key))
    }

    /// The versions at one moment.
    public struct Snapshot: Sendable {
        public let versions: [ServerSecretVersion]
        /// The index in `versions` of the one in force: the newest whose time has come.
        let currentIndex: Int

        init(versions: [ServerSecretVersion], now: Int64) {
            self.versions = versions
            currentIndex = versions.lastIndex { $0.activatesAt <= now } ?? 0
        }

        public var first: ServerSecretVersion { versions[0] }
        public var current: ServerSecretVersion { versions[currentIndex] }

        /// A hash under each version, oldest first, from its hash under version 1.
        func chain(_ firstHash: [UInt8]) -> [[UInt8]] {
            var hash = firstHash
            var chain = [hash]
            for version in versions.dropFirst() {
                hash = ServerSecretRing.step(hash, under: version.key)
                chain.append(hash)
            }
            return chain
        }

        func current(_ firstHash: [UInt8]) -> [UInt8] {
            var hash = firstHash
            for version in versions[...currentIndex].dropFirst() { hash = ServerSecretRing.step(hash, under: version.key) }
            return hash
        }

        /// What a lookup tries, in order: the current version, a version announced but not yet
        /// in force (another instance's clock may be ahead), the previous one.
        func candidates(_ firstHash: [UInt8]) -> [[UInt8]] {
            let chain = chain(firstHash)
            return [chain[currentIndex]] + chain[(currentIndex + 1)...] + (currentIndex > 0 ? [chain[currentIndex - 1]] : [])
        }

        func hash(_ firstHash: [UInt8], under number: Int16) -> [UInt8]? {
            guard let index = versions.firstIndex(where: { $0.number == number }) else { return nil }
            return chain(firstHash)[index]
        }
    }
}

/// The server secret behind every keyed hash. It lives sealed in the database, shared by every
/// instance; `PASSBY_SECRET` (64 or more hex characters) or an older `<data-dir>/secret` file is
/// imported into an empty database once as version 1. `passby secret rotate` adds versions.
public enum ServerSecret {
    public enum SecretError: Error, Equatable, CustomStringConvertible {
        case badEnvironmentValue
        case differsFromDatabase
        case damagedVersion(String)
        public var description: String {
            switch self {
            case .badEnvironmentValue: "PASSBY_SECRET must be at least 64 hexadecimal characters (32 bytes)"
            case .differsFromDatabase:
                "PASSBY_SECRET differs from the server secret this database holds; unset it, or point this instance at its own database"
            case .damagedVersion(let name):
                "the database's server secret versions are damaged (\(name)): every version from 1 on must be present"
            }
        }
    }

    /// The name of version 1 (as it always was) and of each later version.
    static let firstName = "server-secret"
    static func name(_ number: Int16) -> String { number == 1 ? firstName : "server-secret:v\(number)" }

    /// `PASSBY_SECRET`'s bytes, nil when it is unset.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [UInt8]? {
        guard let hex = environment["PASSBY_SECRET"], !hex.isEmpty else { return nil }
        guard let bytes = Hex.decode(hex), bytes.count >= 32 else { throw SecretError.badEnvironmentValue }
        return bytes
    }

    /// Version 1 as this database holds it, made on first use from `PASSBY_SECRET`, else an older
    /// `<data-dir>/secret`, else 32 random bytes. A `PASSBY_SECRET` that differs from the stored
    /// secret is an error: keyed hashes made under two secrets would never meet.
    public static func load(
        from vault: KeyVault, dataDirectory: URL, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> SymmetricKey {
        let configured = try fromEnvironment(environment)
        let bytes = try await vault.secret(
            firstName, existing: { try configured ?? SecretFile.loadIfPresent(at: dataDirectory.appendingPathComponent("secret"), length: 32) },
            create: { KeyVault.random(32) }, recordsDepend: true)
        if let configured, configured != bytes { throw SecretError.differsFromDatabase }
        return SymmetricKey(data: bytes)
    }

    /// Every version the database holds (version 1 made or imported first, as `load` does).
    public static func versions(
        from vault: KeyVault, dataDirectory: URL, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> [ServerSecretVersion] {
        let first = try await load(from: vault, dataDirectory: dataDirectory, environment: environment)
        return try await laterVersions(from: vault, first: first)
    }

    /// The versions in the database, given version 1: what a running instance reloads.
    static func laterVersions(from vault: KeyVault, first: SymmetricKey) async throws -> [ServerSecretVersion] {
        var versions = [ServerSecretVersion(number: 1, key: first, activatesAt: 0)]
        for (name, payload) in try await vault.opened(prefix: "server-secret:v") {
            guard let number = Int16(name.dropFirst("server-secret:v".count)), number > 1, payload.count == 40 else {
                throw SecretError.damagedVersion(name)
            }
            let activatesAt = payload[..<8].reduce(Int64(0)) { $0 << 8 | Int64($1) }
            versions.append(ServerSecretVersion(number: number, key: SymmetricKey(data: payload[8...]), activatesAt: activatesAt))
        }
        guard ServerSecretRing.isComplete(versions) else { throw SecretError.damagedVersion("a version is missing") }
        return versions.sorted { $0.number < $1.number }
    }

    /// The versions the database holds now, for a ring that holds version 1 already.
    public static func versions(from vault: KeyVault, after ring: ServerSecretRing) async throws -> [ServerSecretVersion] {
        try await laterVersions(from: vault, first: ring.snapshot().first.key)
    }

    /// Adds the next version after `versions`, in force `delay` seconds after `now`. The caller
    /// has made sure that no row still needs the version that stops being the previous one
    /// (`SecretRekeying`). Of two rotations at once, one adds the version and the other's is dropped.
    public static func addVersion(to vault: KeyVault, after versions: [ServerSecretVersion], now: Int64, delay: Int64) async throws {
        let number = (versions.map(\.number).max() ?? 0) + 1
        let activatesAt = now + delay
        let time = (0..<8).map { UInt8(truncatingIfNeeded: activatesAt >> (8 * (7 - $0))) }
        try await vault.add(time + KeyVault.random(32), name: name(number))
    }
}
