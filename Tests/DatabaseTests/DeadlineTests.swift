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

    @Test("work that never ends is cut off at its deadline, within the sweeper's interval, and is cancelled")
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
        let elapsed = clock.now - started
        #expect(elapsed >= .milliseconds(200) && elapsed < .milliseconds(200) + .seconds(1), "\(elapsed)")
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
}
