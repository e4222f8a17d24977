import GRPCCore
import NIOCore
import Synchronization

/// The response side of one stream as GRPCCore writes it. Parts written from the RPC's task
/// are queued and handed to the connection's event loop in batches (one hop per batch, not
/// per part; the connection shares one hop among all its streams' batches). A writer waits while more than `highWatermark` bytes are queued and not yet
/// taken by nghttp2 (which takes them only as the peer's flow-control window allows), so a
/// client that does not read stops the handler instead of growing a buffer.
final class ResponseWriter: ClosableRPCWriterProtocol, Sendable {
    typealias Element = RPCResponsePart<[UInt8]>

    enum Completion: Sendable {
        case finished
        case failed(any Error)
    }

    private enum WriteOutcome { case done(schedule: Bool), wait(schedule: Bool), fail(any Error) }

    private struct State {
        var parts: [Element] = []
        var completion: Completion?
        var drainScheduled = false
        /// Message bytes written but not yet copied out by nghttp2.
        var unsentBytes = 0
        var waiter: CheckedContinuation<Void, any Error>?
        /// Set once the stream is gone (reset, connection closed): writes fail with it.
        var closedWith: (any Error)?
        var cancellation: ServerContext.RPCCancellationHandle?
        var cancelled = false
    }

    private let state = Mutex(State())
    private let highWatermark: Int
    private let lowWatermark: Int
    private let maxMessageSize: Int
    /// Called off the event loop when parts wait: gets `takeParts` called on the loop soon.
    private let requestDrain: @Sendable () -> Void

    /// `requestDrain` is called (from any thread) once per batch of parts; it must make the
    /// connection call `takeParts()` on its event loop.
    init(highWatermark: Int, maxMessageSize: Int, requestDrain: @escaping @Sendable () -> Void) {
        self.highWatermark = highWatermark
        self.lowWatermark = highWatermark / 4
        self.maxMessageSize = maxMessageSize
        self.requestDrain = requestDrain
    }

    /// `drain` runs on `eventLoop`, one hop per batch.
    convenience init(
        highWatermark: Int, maxMessageSize: Int, eventLoop: any EventLoop, drain: @escaping @Sendable () -> Void
    ) {
        self.init(highWatermark: highWatermark, maxMessageSize: maxMessageSize) { eventLoop.execute(drain) }
    }

    /// Whether a write waits for nghttp2 to take bytes (tests).
    var hasWaitingWriter: Bool { state.withLock { $0.waiter != nil } }

    // MARK: Writer side (the RPC's task)

    func write(_ element: Element) async throws {
        try await write(contentsOf: CollectionOfOne(element))
    }

    func write(contentsOf elements: some Sequence<Element>) async throws {
        let outcome: WriteOutcome = state.withLock { state in
            if let error = state.closedWith { return .fail(error) }
            if state.completion != nil {
                return .fail(RPCError(code: .internalError, message: "write after the response was finished"))
            }
            for element in elements {
                if case .message(let bytes) = element {
                    if bytes.count > maxMessageSize {
                        return .fail(
                            RPCError(
                                code: .resourceExhausted,
                                message:
                                    "response message of \(bytes.count) bytes exceeds the limit of \(maxMessageSize) bytes"
                            ))
                    }
                    state.unsentBytes += bytes.count + 5
                }
                state.parts.append(element)
            }
            let schedule = !state.drainScheduled
            state.drainScheduled = true
            return state.unsentBytes > highWatermark ? .wait(schedule: schedule) : .done(schedule: schedule)
        }
        switch outcome {
        case .fail(let error):
            throw error
        case .done(let schedule):
            if schedule { requestDrain() }
        case .wait(let schedule):
            if schedule { requestDrain() }
            try await waitForRoom()
        }
    }

    private func waitForRoom() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate: Result<Void, any Error>? = state.withLock { state in
                    if let error = state.closedWith { return .failure(error) }
                    if state.unsentBytes <= lowWatermark { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiter = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    func finish() async { complete(.finished) }

    func finish(throwing error: any Error) async { complete(.failed(error)) }

    private func complete(_ completion: Completion) {
        let schedule: Bool = state.withLock { state in
            guard state.completion == nil else { return false }
            state.completion = completion
            defer { state.drainScheduled = true }
            return !state.drainScheduled
        }
        if schedule { requestDrain() }
    }

    // MARK: Connection side (event loop)

    /// The parts written since the last call, and the completion once the writer finished.
    func takeParts() -> (parts: [Element], completion: Completion?) {
        state.withLock { state in
            state.drainScheduled = false
            defer { state.parts.removeAll(keepingCapacity: true) }
            return (state.parts, state.completion)
        }
    }

    /// nghttp2 copied `count` framed bytes out; a waiting writer may go on.
    func didSend(_ count: Int) {
        let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
            state.unsentBytes -= count
            guard state.unsentBytes <= lowWatermark, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// The stream is gone before the response ended: writes fail and the RPC is cancelled.
    func close(with error: any Error) {
        let (waiter, handle): (CheckedContinuation<Void, any Error>?, ServerContext.RPCCancellationHandle?) =
            state.withLock { state in
                guard state.closedWith == nil else { return (nil, nil) }
                state.closedWith = error
                state.cancelled = true
                defer { state.waiter = nil }
                return (state.waiter, state.cancellation)
            }
        waiter?.resume(throwing: error)
        handle?.cancel()
    }

    /// Connects GRPCCore's cancellation handle of this RPC (cancelled at once if the stream
    /// is already gone).
    func attach(_ handle: ServerContext.RPCCancellationHandle) {
        let cancelNow = state.withLock { state in
            state.cancellation = handle
            return state.cancelled
        }
        if cancelNow { handle.cancel() }
    }
}
