import Consent
import Foundation
import HTTPTypes
import Synchronization

/// Where a reviewer's read was answered: the primary, or a hot standby that had replayed
/// everything the primary held at most `staleness` seconds earlier.
enum ReadSource: Sendable, Equatable {
    case primary
    case replica(staleness: Double)

    static let sourceHeader = HTTPField.Name("Passby-Read-Source")!
    static let stalenessHeader = HTTPField.Name("Passby-Staleness-Seconds")!

    /// The two headers that tell the caller where the answer came from and how old it may be.
    func headers(into fields: inout HTTPFields) {
        switch self {
        case .primary:
            fields[Self.sourceHeader] = "primary"
            fields[Self.stalenessHeader] = "0"
        case .replica(let staleness):
            fields[Self.sourceHeader] = "replica"
            fields[Self.stalenessHeader] = "\(Int(staleness.rounded(.up)))"
        }
    }
}

/// The ledger as reviewers read it (`PASSBY_READ_DATABASE_URL`): a hot standby's stores while the
/// standby answers and was last seen caught up with the primary at most `maxLag` seconds ago,
/// else the primary's. `ReplicaLagMonitor` says when the standby was last caught up.
final class ReviewReads: Sendable {
    struct Stores: Sendable {
        var tree: any LedgerTreeStore
        var reviews: any LedgerReviewStore
    }

    let primary: Stores
    let replica: Stores?
    let maxLag: Double
    /// When (Unix seconds) the standby had replayed all the primary held; nil while it is unknown or down.
    private let caughtUpAt = Mutex<Double?>(nil)

    init(primary: Stores, replica: Stores? = nil, maxLag: Double = 5) {
        self.primary = primary
        self.replica = replica
        self.maxLag = maxLag
    }

    /// The monitor's latest word: the standby had everything the primary held at `time`, or (nil) it did not answer.
    func observe(caughtUpAt time: Double?) {
        caughtUpAt.withLock { current in
            current = time.map { max(current ?? $0, $0) }
        }
    }

    /// The stores to read from now, and where they are.
    func choose(now: Double) -> (stores: Stores, source: ReadSource) {
        guard let replica, let time = caughtUpAt.withLock({ $0 }) else { return (primary, .primary) }
        let staleness = max(0, now - time)
        return staleness <= maxLag ? (replica, .replica(staleness: staleness)) : (primary, .primary)
    }
}
