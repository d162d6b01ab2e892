import Consent
import Display
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Keeps this instance's code-signing keys and server-secret versions those of the database: it
/// reloads them at once on a `passby_key_material` notice (`sql/0017`), and every `pollInterval`
/// whatever the notices do, so that a rotation on any instance is used here within seconds even
/// after a lost notice.
struct KeyMaterialWatcher: Service {
    static let channel = "passby_key_material"
    let client: PostgresClient
    let codeKeys: SharedCodeKeys
    let ring: LiveKeyRing
    /// Nil where the server secret is not the database's (tests with a fixed secret).
    var serverSecret: ServerSecretRing? = nil
    var pollInterval: Duration = .seconds(2)
    let logger: Logger
    /// Reads are numbered as they start; only a read newer than the last applied one is applied,
    /// so a slow poll that began before a notice never puts back the keys the notice replaced.
    private let reads = ReadOrder()

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await listen() }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: pollInterval)
                        await reload()
                    }
                }
                await group.waitForAll()
            }
        }
    }

    func listen() async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notices in
                        // Subscribed: whatever changed while no one listened is read now.
                        await reload()
                        for try await _ in notices { await reload() }
                    }
                }
            } catch {
                if !Task.isCancelled { logger.warning("key material notices lost; polling every \(pollInterval) until they resume") }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// A failed read keeps the keys in hand: they were good a moment ago. So does a read with no
    /// key that may sign (rows deleted by hand): lookups would stop, and nothing good is lost by waiting.
    func reload() async {
        do {
            let ticket = reads.start()
            let keys = try await codeKeys.load()
            // A new server-secret version is announced ahead of its time, so every instance holds
            // it before any hash is made with it; versions are only ever added.
            var versions: [ServerSecretVersion]?
            if let serverSecret { versions = try await ServerSecret.versions(from: codeKeys.vault, after: serverSecret) }
            guard KeyLifecycle.active(keys) != nil else {
                logger.warning("the database holds no code-signing key that may sign; keeping the keys in hand")
                return
            }
            reads.applyIfNewest(ticket) {
                ring.update(keys)
                if let versions { serverSecret?.update(versions) }
            }
        } catch {
            if !Task.isCancelled {
                logger.warning("key material could not be reloaded", metadata: ["error.type": "\(String(describing: type(of: error)))"])
            }
        }
    }
}

/// Numbers reads as they start, and applies a read's result only if no newer read was applied.
final class ReadOrder: Sendable {
    private let state = Mutex<(started: Int, applied: Int)>((0, 0))

    func start() -> Int {
        state.withLock { state in
            state.started += 1
            return state.started
        }
    }

    /// Runs `apply` (under the lock, so applications never overlap) unless a newer read came first.
    func applyIfNewest(_ ticket: Int, _ apply: () -> Void) {
        state.withLock { state in
            guard ticket > state.applied else { return }
            state.applied = ticket
            apply()
        }
    }
}
