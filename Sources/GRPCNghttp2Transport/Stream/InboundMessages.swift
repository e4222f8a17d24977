import GRPCCore
import NIOCore
import Synchronization

/// The request parts of one stream as GRPCCore reads them: the connection appends from its
/// event loop, the RPC's task takes them. Once more than `highWatermark` bytes of messages
/// wait unread, the connection stops giving the peer window for this stream; reading
/// below it hands the held window back (through `releaseHeldWindow` on the event loop).
final class InboundMessages: AsyncSequence, Sendable {
    typealias Element = RPCRequestPart<[UInt8]>
    typealias Failure = any Error

    private struct State {
        var parts = CircularBuffer<Element>(initialCapacity: 2)
        var queuedBytes = 0
        /// DATA bytes whose stream window was not given back yet.
        var heldWindow = 0
        var releaseScheduled = false
        var end: Result<Void, any Error>?
        var waiter: CheckedContinuation<Element?, any Error>?
    }

    private let state = Mutex(State())
    private let highWatermark: Int
    private let eventLoop: any EventLoop
    /// Runs on the event loop with the window to give back.
    private let releaseHeldWindow: @Sendable (Int) -> Void

    init(highWatermark: Int, eventLoop: any EventLoop, releaseHeldWindow: @escaping @Sendable (Int) -> Void) {
        self.highWatermark = highWatermark
        self.eventLoop = eventLoop
        self.releaseHeldWindow = releaseHeldWindow
    }

    /// Whether a reader waits for the next part (tests).
    var hasWaitingReader: Bool { state.withLock { $0.waiter != nil } }

    // MARK: Producer side (event loop)

    /// Queues a part; a waiting reader gets it at once.
    func append(_ part: Element) {
        let waiter: CheckedContinuation<Element?, any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.parts.append(part)
            if case .message(let bytes) = part { state.queuedBytes += bytes.count }
            return nil
        }
        waiter?.resume(returning: part)
    }

    /// Decides whether `count` newly received DATA bytes may be acknowledged to the peer now
    /// (true) or are held until the reader catches up (false).
    func admitWindow(_ count: Int) -> Bool {
        state.withLock { state in
            if state.queuedBytes < highWatermark { return true }
            state.heldWindow += count
            return false
        }
    }

    /// Ends the sequence normally (the client half-closed).
    func finish() { end(.success(())) }

    /// Ends the sequence with an error (cancelled, malformed, too large).
    func fail(_ error: any Error) { end(.failure(error)) }

    private func end(_ result: Result<Void, any Error>) {
        let waiter: CheckedContinuation<Element?, any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            // Parts already queued are still delivered (the metadata must reach GRPCCore for it
            // to answer with this error's status); the error follows them.
            state.end = result
            defer { state.waiter = nil }
            return state.waiter
        }
        switch result {
        case .success: waiter?.resume(returning: nil)
        case .failure(let error): waiter?.resume(throwing: error)
        }
    }

    // MARK: Consumer side (the RPC's task)

    private func next() async throws -> Element? {
        if let (result, release) = state.withLock({ take(&$0) }) {
            if release { eventLoop.execute { self.releaseWindow() } }
            return try result.get()
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // A part may have arrived since the look above.
                let taken: (Result<Element?, any Error>, release: Bool)? = state.withLock { state in
                    if let taken = take(&state) { return taken }
                    if Task.isCancelled { return (.failure(CancellationError()), false) }
                    state.waiter = continuation
                    return nil
                }
                guard let (result, release) = taken else { return }
                if release { eventLoop.execute { self.releaseWindow() } }
                continuation.resume(with: result)
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Under the lock: the next queued part or the end (nil: nothing yet), and whether reading
    /// it brought the queue under the watermark with window held back (to be released).
    private func take(_ state: inout State) -> (Result<Element?, any Error>, release: Bool)? {
        if let part = state.parts.popFirst() {
            var release = false
            if case .message(let bytes) = part {
                state.queuedBytes -= bytes.count
                if state.heldWindow > 0, state.queuedBytes < highWatermark, !state.releaseScheduled {
                    state.releaseScheduled = true
                    release = true
                }
            }
            return (.success(part), release)
        }
        if let end = state.end { return (end.map { nil }, false) }
        return nil
    }

    private func releaseWindow() {
        let held = state.withLock { state in
            state.releaseScheduled = false
            defer { state.heldWindow = 0 }
            return state.heldWindow
        }
        releaseHeldWindow(held)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let messages: InboundMessages
        mutating func next() async throws -> Element? { try await messages.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(messages: self) }
}
