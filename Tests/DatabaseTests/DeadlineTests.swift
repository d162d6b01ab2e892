import NIOCore
import Synchronization
import Testing

@testable import Database

/// `withDeadline`: the answer of work that ends in time, else the timeout on time, whether or
/// not the work notices that it was cancelled.
@Suite("Deadlines", .timeLimit(.minutes(1)))
struct DeadlineTests {
    struct Failed: Error, Equatable {}

    @Test("work that ends in time gives its value or its error")
    func inTime() async throws {
        #expect(try await withDeadline(.seconds(5)) { 42 } == 42)
        await #expect(throws: Failed()) { try await withDeadline(.seconds(5)) { throw Failed() } }
    }

    @Test("work that never ends is cut off at its deadline, without waiting for it, and is cancelled")
    func cutOff() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let cancelled = AsyncStream<Void>.makeStream()
        await #expect(throws: DatabaseTimeout.self) {
            try await withDeadline(.milliseconds(200)) {
                // Ignores cancellation until long after the deadline, as a pool waiting for a gone database may.
                await withTaskCancellationHandler {
                    try? await clock.sleep(for: .seconds(30), tolerance: nil)
                } onCancel: {
                    cancelled.continuation.yield()
                }
            }
        }
        // Not before the deadline, and without waiting for the work's 30 s (the bound is loose: a
        // busy machine delays any timer; the fault tests time the real thing on their own).
        let elapsed = clock.now - started
        #expect(elapsed >= .milliseconds(200) && elapsed < .seconds(15), "\(elapsed)")
        var iterator = cancelled.stream.makeAsyncIterator()
        #expect(await iterator.next() != nil, "the work is told to stop")
    }

    @Test("many deadlines that end in time are forgotten; a late one among them still fires")
    func manyInTime() async throws {
        for value in 0..<500 { #expect(try await withDeadline(.seconds(5)) { value } == value) }
        await #expect(throws: DatabaseTimeout.self) {
            try await withDeadline(.milliseconds(100)) { try await ContinuousClock().sleep(for: .seconds(30)) }
        }
    }

    @Test("a look fires only what has passed, drops what has ended, and keeps the rest")
    func sweep() {
        let sweeper = DeadlineSweeper()
        let fired = Mutex<[String]>([])
        let ended = Mutex<Set<String>>(["ended"])
        for (name, seconds) in [("ended", 0.0), ("passed", 0.0), ("later", 60.0)] {
            sweeper.add(
                after: .seconds(seconds), isDone: { ended.withLock { $0.contains(name) } }, fire: { fired.withLock { $0.append(name) } })
        }
        #expect(sweeper.pending == 3)
        sweeper.sweep(now: .now() + .milliseconds(1))
        #expect(fired.withLock { $0 } == ["passed"])
        #expect(sweeper.pending == 1, "the ended one and the fired one are gone")
        ended.withLock { _ = $0.insert("later") }
        sweeper.sweep(now: .now() + .seconds(120))
        #expect(fired.withLock { $0 } == ["passed"], "work that ended is never fired")
        #expect(sweeper.pending == 0)
    }
}
