import Synchronization

/// Writes ledger records in batches: records that arrive while a batch is being committed go
/// together in the next one, as one statement and one commit.
///
/// `record` returns only after its batch has committed, so a caller that answers afterwards has
/// its record durable, exactly as with a write of its own. Under load this turns many small
/// commits into few larger ones; alone, a record is written at once.
public final class LedgerBatchWriter: Sendable {
    private struct Waiting {
        var record: LedgerRecord
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var writing = false
    }

    private let store: any LedgerRecorder
    private let maxBatch: Int
    private let state = Mutex(State())

    /// - Parameter maxBatch: the most records written in one statement.
    public init(store: any LedgerRecorder, maxBatch: Int = 256) {
        self.store = store
        self.maxBatch = maxBatch
    }

    /// Writes `record`, returning once it has committed; throws the batch's error otherwise.
    public func record(_ record: LedgerRecord) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let startWriter = state.withLock { state in
                state.waiting.append(Waiting(record: record, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if startWriter { Task { await self.writeUntilEmpty() } }
        }
    }

    private func writeUntilEmpty() async {
        while true {
            let batch: [Waiting] = state.withLock { state in
                guard !state.waiting.isEmpty else {
                    state.writing = false
                    return []
                }
                let count = min(maxBatch, state.waiting.count)
                defer { state.waiting.removeFirst(count) }
                return Array(state.waiting.prefix(count))
            }
            guard !batch.isEmpty else { return }
            do {
                try await store.record(batch.map(\.record))
                for waiting in batch { waiting.continuation.resume() }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
        }
    }
}
