import NIOCore
import NIOPosix
import Synchronization

/// A database call that took longer than the configured limit.
public struct DatabaseTimeout: Error {
    public init() {}
}

/// Runs `operation`, or throws `timeout` (by default `DatabaseTimeout`) once `duration` has passed.
///
/// It does not wait for the operation to notice cancellation: a pool waiting for a connection
/// to a database that is gone may not, and the caller must answer on time regardless. The timer
/// is an event-loop task rather than a sleeping Swift task: it costs no thread wake-up when, as
/// nearly always, the operation finishes first and cancels it.
public func withDeadline<T: Sendable>(
    _ duration: Duration, timeout: any Error = DatabaseTimeout(), _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = OnceContinuation<T>()
    let timer = DeadlineTimer()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            outcome.install(continuation)
            let work = Task {
                do { outcome.resume(with: .success(try await operation())) } catch { outcome.resume(with: .failure(error)) }
                timer.cancel()
            }
            let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
            let scheduled = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .nanoseconds(nanoseconds)) {
                if outcome.resume(with: .failure(timeout)) { work.cancel() }
            }
            timer.set(scheduled)
            // The work may have finished before the timer was stored.
            if outcome.isDone { scheduled.cancel() }
        }
    } onCancel: {
        outcome.resume(with: .failure(CancellationError()))
    }
}

/// The timer of one `withDeadline`, which the work cancels when it ends.
final class DeadlineTimer: Sendable {
    private let scheduled = Mutex<Scheduled<Void>?>(nil)

    func set(_ timer: Scheduled<Void>) { scheduled.withLock { $0 = timer } }
    func cancel() { scheduled.withLock { $0?.cancel() } }
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
