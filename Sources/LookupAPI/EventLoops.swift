import Dispatch
import NIOCore
import NIOPosix
import Synchronization

/// An event-loop group whose `any()` takes turns through its loops.
///
/// postgres-nio's pool opens each connection on `eventLoopGroup.any()`, which prefers the calling
/// loop. With Swift tasks running on NIO's loops (see `Serve`), that put every database connection
/// on one thread; rotating spreads them over all loops.
final class RotatingEventLoopGroup: EventLoopGroup, Sendable {
    let base: MultiThreadedEventLoopGroup
    private let turn = Atomic<Int>(0)
    private let loops: [any EventLoop]

    init(_ base: MultiThreadedEventLoopGroup) {
        self.base = base
        self.loops = Array(base.makeIterator())
    }

    func next() -> any EventLoop {
        loops[turn.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
    }

    func any() -> any EventLoop { next() }

    func makeIterator() -> EventLoopIterator { base.makeIterator() }

    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        base.shutdownGracefully(queue: queue, callback)
    }
}
