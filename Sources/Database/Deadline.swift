import NIOCore
import NIOPosix
import Synchronization

/// A database call that took longer than the configured limit.
public struct DatabaseTimeout: Error {
    public init() {}
}

/// Runs `operation`, or throws `timeout` (by default `DatabaseTimeout`) once `duration` has passed
/// (looked at every `DeadlineSweeper.interval`, so at most that much later).
///
/// It does not wait for the operation to notice cancellation: a pool waiting for a connection
/// to a database that is gone may not, and the caller must answer on time regardless. The
/// deadline is an entry in `DeadlineSweeper`, not a timer of its own: a lookup makes three
/// database calls, and a timer per call, scheduled and then cancelled from another thread, cost
/// it two event-loop wake-ups each (README, Benchmarks).
public func withDeadline<T: Sendable>(
    _ duration: Duration, timeout: any Error = DatabaseTimeout(), _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = OnceContinuation<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            outcome.install(continuation)
            let work = Task {
                do { outcome.resume(with: .success(try await operation())) } catch { outcome.resume(with: .failure(error)) }
            }
            DeadlineSweeper.shared.add(after: duration, isDone: { outcome.isDone }) {
                if outcome.resume(with: .failure(timeout)) { work.cancel() }
            }
        }
    } onCancel: {
        outcome.resume(with: .failure(CancellationError()))
    }
}

/// The deadlines of `withDeadline`, looked at every `interval` on one event loop. Adding one
/// takes a lock and an append; one whose work ended in time is dropped at the next look.
final class DeadlineSweeper: Sendable {
    static let shared = DeadlineSweeper()
    /// How often deadlines are looked at: how late one may fire.
    static let interval = TimeAmount.milliseconds(50)

    private struct Entry {
        var at: NIODeadline
        var isDone: @Sendable () -> Bool
        var fire: @Sendable () -> Void
    }

    private let state = Mutex<(entries: [Entry], started: Bool)>(([], false))

    func add(after duration: Duration, isDone: @escaping @Sendable () -> Bool, fire: @escaping @Sendable () -> Void) {
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        let entry = Entry(at: .now() + .nanoseconds(nanoseconds), isDone: isDone, fire: fire)
        let start = state.withLock { state in
            state.entries.append(entry)
            defer { state.started = true }
            return !state.started
        }
        if start {
            MultiThreadedEventLoopGroup.singleton.next().scheduleRepeatedTask(initialDelay: Self.interval, delay: Self.interval) { _ in
                self.sweep()
            }
        }
    }

    /// How many deadlines are waiting for a look.
    var pending: Int { state.withLock { $0.entries.count } }

    /// Fires the deadlines that have passed and drops those whose work has ended.
    func sweep(now: NIODeadline = .now()) {
        let due: [Entry] = state.withLock { state in
            var due: [Entry] = []
            state.entries.removeAll { entry in
                if entry.isDone() { return true }
                guard entry.at <= now else { return false }
                due.append(entry)
                return true
            }
            return due
        }
        for entry in due { entry.fire() }
    }
}

/// A continuation that the first of several racers resumes; the others are ignored.
final class OnceContinuation<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, early: Result<T, any Error>?, done: Bool)>(
        (nil, nil, false))

    func install(_ continuation: CheckedContinuation<T, any Error>) {
        let early: Result<T, any Error>? = state.withLock { state in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    /// Whether a racer has resumed.
    var isDone: Bool { state.withLock { $0.done } }

    /// Returns true when this call was the one that resumed.
    @discardableResult
    func resume(with result: Result<T, any Error>) -> Bool {
        let continuation: CheckedContinuation<T, any Error>?? = state.withLock { state in
            guard !state.done else { return .none }
            state.done = true
            if let continuation = state.continuation { return .some(continuation) }
            state.early = result
            return .some(nil)
        }
        guard case .some(let waiting) = continuation else { return false }
        waiting?.resume(with: result)
        return true
    }
}
