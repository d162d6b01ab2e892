import Foundation
import NIOPosix
import Synchronization

/// Runs bcrypt checks a few at a time on threads of their own. Logins need no credentials, so
/// without a bound anyone could keep every core busy; the pool leaves a core to everything else
/// (Swift's shared executor, where requests run, is not used), and past `queueLimit` waiting
/// checks a login is refused (`login-busy`) at once instead of queueing without end.
final class BcryptPool: Sendable {
    private struct State {
        var running = 0
        var waiting: [CheckedContinuation<Bool, Never>] = []
    }

    let width: Int
    let queueLimit: Int
    private let state = Mutex(State())
    private let threads: NIOThreadPool

    init(width: Int = max(1, ProcessInfo.processInfo.activeProcessorCount - 1), queueLimit: Int = 64) {
        self.width = width
        self.queueLimit = queueLimit
        self.threads = NIOThreadPool(numberOfThreads: width)
        threads.start()
    }

    deinit {
        threads.shutdownGracefully { _ in }
    }

    /// Runs `check` when a place is free; `Refusal.loginBusy` if too many are waiting.
    func run(_ check: @escaping @Sendable () -> Bool) async throws -> Bool {
        let admitted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let answer: Bool? = state.withLock { state in
                if state.running < width {
                    state.running += 1
                    return true
                }
                if state.waiting.count >= queueLimit { return false }
                state.waiting.append(continuation)
                return nil
            }
            if let answer { continuation.resume(returning: answer) }
        }
        guard admitted else { throw Refusal.loginBusy }
        defer { release() }
        return try await threads.runIfActive(check)
    }

    /// Hands the place to the next waiting check, or frees it.
    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if state.waiting.isEmpty {
                state.running -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume(returning: true)
    }
}
