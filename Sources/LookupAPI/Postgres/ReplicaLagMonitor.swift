import Database
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Tells `ReviewReads` how far behind the hot standby is: every `interval` it reads the primary's
/// WAL position, then asks the standby whether it has replayed that far. If so, the standby held
/// everything the primary had at the moment of the first read. A standby that does not answer is
/// out of use until it does. A server that is not in recovery is never used: it may be a promoted
/// or restored copy whose WAL positions mean nothing beside this primary's.
struct ReplicaLagMonitor: Service {
    let primary: PostgresClient
    let replica: PostgresClient
    let reads: ReviewReads
    var interval: Duration = .milliseconds(500)
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var wasDown = false
            while !Task.isCancelled {
                do {
                    let began = Date().timeIntervalSince1970
                    let position = try await withDeadline(.seconds(2)) { try await self.primaryPosition() }
                    if try await withDeadline(.seconds(2), { try await self.replayed(position) }) { reads.observe(caughtUpAt: began) }
                    if wasDown { logger.info("the read replica answers again") }
                    wasDown = false
                } catch {
                    if !Task.isCancelled && !wasDown { logger.warning("the read replica does not answer; reviewers read from the primary") }
                    wasDown = true
                    reads.observe(caughtUpAt: nil)
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    func primaryPosition() async throws -> String {
        for try await position in try await primary.query("SELECT pg_current_wal_lsn()::text", logger: logger).decode(String.self) {
            return position
        }
        throw NoPosition()
    }

    struct NoPosition: Error {}

    func replayed(_ position: String) async throws -> Bool {
        let rows = try await replica.query(
            "SELECT pg_is_in_recovery() AND coalesce(pg_last_wal_replay_lsn() >= \(position)::pg_lsn, false)", logger: logger)
        for try await caughtUp in rows.decode(Bool.self) { return caughtUp }
        return false
    }
}
