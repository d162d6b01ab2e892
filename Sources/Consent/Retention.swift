import Foundation

/// What one retention purge erased, table by table. One purge covers every table that holds
/// personal data; what each loses is described in `sql/0016_retention.sql` and the README.
public struct PurgeCounts: Sendable, Equatable {
    /// The purge's items, in the order it reports them.
    public static let items = [
        "entries", "grants", "guardianships", "offline_codes", "idempotent_answers", "staff_sessions", "assertion_bindings",
        "consent_failures",
    ]

    /// Rows erased per item; an item that erased nothing may be absent.
    public var erased: [String: Int]

    public init(erased: [String: Int] = [:]) { self.erased = erased }

    public subscript(item: String) -> Int {
        get { erased[item] ?? 0 }
        set { erased[item] = newValue }
    }

    /// Ledger entries whose personal part was erased.
    public var ledgerEntries: Int { self["entries"] }

    /// The purge's own ledger record: `before=<cutoff> entries=N grants=N …`.
    public func summary(before cutoff: Date) -> String {
        (["before=\(ISO8601DateFormatter().string(from: cutoff))"] + Self.items.map { "\($0)=\(self[$0])" }).joined(separator: " ")
    }
}

/// When a scheduled purge runs and what it erases: everything that ended more than `days` ago.
public struct RetentionPolicy: Sendable, Equatable {
    /// How long personal data is kept after it stops being needed; `PASSBY_RETENTION_DAYS`.
    public var days: Int

    public init(days: Int) { self.days = days }

    /// The cutoff of a purge run at `now`.
    public func cutoff(at now: Date) -> Date { now.addingTimeInterval(-Double(days) * 86_400) }
}
