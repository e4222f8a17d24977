import NIOCore

/// An event loop as a Swift task executor: an RPC task that prefers its connection's loop runs
/// its handler on the thread that reads and writes the connection, so messages, writes and
/// completions reach the connection without a thread hop (and without waking the loop).
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
