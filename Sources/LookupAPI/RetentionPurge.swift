import Consent
import Foundation
import Logging
import ServiceLifecycle

/// The scheduled retention purge (`PASSBY_RETENTION_DAYS`): `serve` runs it once before it takes
/// requests, and this service every `interval` after that. Each round erases what ended more than the policy's days ago, in every table with
/// personal data. `serve` runs it with the owner's connection, for a moment: the service's role
/// may not erase what it wrote.
struct RetentionPurge: Service {
    let policy: RetentionPolicy
    let interval: Duration
    let clock: any PassbyClock
    let purge: @Sendable (_ cutoff: Date) async throws -> PurgeCounts
    let logger: Logger

    /// One round: the cutoff it used and what it erased.
    @discardableResult
    func runOnce() async throws -> (cutoff: Date, counts: PurgeCounts) {
        let cutoff = policy.cutoff(at: clock.now())
        let counts = try await purge(cutoff)
        logger.info(
            "retention purge", metadata: PurgeCounts.items.reduce(into: ["retention.days": "\(policy.days)"]) { $0["purged.\($1)"] = "\(counts[$1])" }
        )
        return (cutoff, counts)
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                    try await runOnce()
                } catch is CancellationError {
                    return
                } catch {
                    // The database may be away; the next round tries again.
                    logger.warning("retention purge failed", metadata: ["error.type": "\(String(describing: type(of: error)))"])
                }
            }
        }
    }
}
