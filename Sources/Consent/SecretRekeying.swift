import Foundation

/// How many rows of each table still hold keyed hashes under each server-secret version.
public struct SecretVersionCounts: Sendable, Equatable {
    /// `table → version → rows`.
    public var rows: [String: [Int16: Int]] = [:]

    public init(rows: [String: [Int16: Int]] = [:]) { self.rows = rows }

    /// Rows under a version older than `version`, in every table.
    public func behind(_ version: Int16) -> Int {
        rows.values.reduce(0) { total, perVersion in total + perVersion.filter { $0.key < version }.reduce(0) { $0 + $1.value } }
    }
}

/// Where rows with keyed hashes are moved from one server-secret version to the next: the
/// tables that keep them past a rotation (subjects, family registrations, grants) and the
/// short-lived ones (failed-try counts, assertion bindings). The append-only ledger is not moved.
public protocol SecretRekeyStore: Sendable {
    /// Rows per table and version.
    func versionCounts() async throws -> SecretVersionCounts
    /// Moves up to `limit` rows of each table from `version` to `version + 1`, each hash
    /// replaced by `step(hash)`, and returns how many it took. A short-lived row whose moved key
    /// is taken already (a count or binding made under the new version meanwhile) is dropped
    /// instead, so every row taken leaves `version` and a pass always ends.
    func moveBatch(from version: Int16, limit: Int, step: @escaping @Sendable ([UInt8]) -> [UInt8]) async throws -> Int
}

/// Moves every row's keyed hashes to the server secret's current version, without the plain ID
/// numbers or names: a hash under version n+1 is HMAC under its secret of the hash under n.
public struct SecretRekeying: Sendable {
    public let store: any SecretRekeyStore
    public let versions: [ServerSecretVersion]
    public var batchSize = 1_000

    public init(store: any SecretRekeyStore, versions: [ServerSecretVersion]) {
        self.store = store
        self.versions = versions.sorted { $0.number < $1.number }
    }

    /// Why a new version may not be added now, or nil if it may: the newest version must be in
    /// force (one rotation at a time), and no row may still be under a version older than the
    /// current one, since the version before the current one stops being tried.
    public static func refusalToRotate(versions: [ServerSecretVersion], counts: SecretVersionCounts, now: Int64) -> String? {
        let snapshot = ServerSecretRing(versions, clock: { now }).snapshot()
        if let newest = snapshot.versions.last, newest.number != snapshot.current.number {
            return "version \(newest.number) is announced and not yet in force; run `passby secret rekey` once it is"
        }
        let behind = counts.behind(snapshot.current.number)
        if behind > 0 { return "\(behind) rows are still under an earlier version; run `passby secret rekey` first" }
        return nil
    }

    /// Moves rows up to `target`, one version at a time; returns the rows moved.
    public func run(to target: Int16) async throws -> Int {
        var moved = 0
        for version in versions where version.number > 1 && version.number <= target {
            let key = version.key
            while true {
                let count = try await store.moveBatch(from: version.number - 1, limit: batchSize) { ServerSecretRing.step($0, under: key) }
                moved += count
                if count == 0 { break }
            }
        }
        return moved
    }
}
