import Consent
import Foundation
import Logging
import ServiceLifecycle

/// The background service that seals the ledger every few seconds: it appends new entries to the
/// Merkle tree and stores a signed tree head. Lookups never wait for it; across instances one
/// sealer at a time holds an advisory lock, and the others skip their turn.
struct LedgerSealer: Service {
    let tree: any LedgerTreeStore
    let key: LedgerKey
    let interval: Duration
    let logger: Logger

    /// Seals once; nil when nothing was new, or when another instance is sealing and `waitForLock` is false.
    @discardableResult
    static func seal(tree: any LedgerTreeStore, key: LedgerKey, waitForLock: Bool = true) async throws -> TreeHead? {
        let kid = key.kid
        return try await tree.seal(waitForLock: waitForLock) { size, root, at in (kid, try key.sign(size: size, root: root, sealedAt: at)) }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                    if let head = try await Self.seal(tree: tree, key: key, waitForLock: false) {
                        logger.debug("sealed the ledger", metadata: ["ledger.size": "\(head.size)"])
                    }
                } catch is CancellationError {
                    return
                } catch {
                    // The database may be away for a while; the next round tries again.
                    logger.warning("ledger seal failed", metadata: ["error.type": "\(String(describing: type(of: error)))"])
                }
            }
        }
    }
}
