import CCurl
import CCurlShim
import Foundation
import Glibc
import Synchronization

/// Asynchronous HTTP on libcurl's multi interface: one long-lived multi handle driven by one
/// dedicated thread, HTTP/2 multiplexing and connection reuse, requests submitted from any task
/// and completed through continuations. Task cancellation aborts the transfer.
public final class CurlTransport: Sendable {
    /// Counters that show whether handles leak.
    public struct Statistics: Sendable, Equatable {
        /// Easy handles alive now (in flight plus pooled).
        public var easyHandlesAlive = 0
        /// Easy handles ever created.
        public var easyHandlesCreated = 0
        /// Easy handles idle in the pool.
        public var easyHandlesPooled = 0
        /// Transfers in flight.
        public var inFlight = 0
        /// Transfers finished (any outcome).
        public var completed = 0
        /// Transfers aborted by cancellation.
        public var cancelled = 0
        /// Connections opened (HTTP/2 multiplexing and keep-alive keep this low).
        public var connectionsOpened = 0
    }

    private let loop: CurlLoop

    /// Starts the transfer thread.
    public init(configuration: CurlTransportConfiguration = CurlTransportConfiguration()) {
        _ = CurlGlobal.initialized
        loop = CurlLoop(configuration: configuration)
        loop.start()
    }

    deinit {
        loop.shutdown()
    }

    /// Sends a request and waits for the whole response, at most `timeout` (connect included).
    /// Throws `CurlError`, `CurlTransportError`, or `CancellationError` when the task is cancelled.
    public func send(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPResponse {
        for header in request.headers
        where header.name.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D })
            || header.value.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D })
        {
            throw CurlTransportError.invalidRequest("header \(header.name) contains a line break")
        }
        let token = CancellationToken()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                loop.submit(
                    CurlLoop.Submission(request: request, timeout: timeout, continuation: continuation), token: token)
            }
        } onCancel: {
            loop.cancel(token)
        }
    }

    /// Stops the transfer thread; transfers in flight fail with `CurlTransportError.shutDown`.
    public func shutdown() {
        loop.shutdown()
    }

    public var statistics: Statistics { loop.statistics }
}

/// `curl_global_init` exactly once per process.
enum CurlGlobal {
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK
}

/// Links a `send` call to its transfer so that cancellation finds it, whichever comes first.
final class CancellationToken: Sendable {
    struct State {
        var id: UInt64?
        var cancelled = false
    }

    let state = Mutex(State())
}

/// The multi handle, created by the submitting thread and handed to the transfer thread once.
///
/// Safe to send because the loop thread is its only user after `start()`: other threads wake
/// the loop through an eventfd and never touch the handle.
struct MultiHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}

/// The transfer thread and the state it shares with submitters.
final class CurlLoop: Sendable {
    struct Submission: Sendable {
        var request: HTTPRequest
        var timeout: Duration
        var continuation: CheckedContinuation<HTTPResponse, any Error>
    }

    private struct Inbox {
        var nextId: UInt64 = 1
        var submissions: [(UInt64, Submission)] = []
        var cancellations: [UInt64] = []
        var shuttingDown = false
        var stopped = false
        var statistics = CurlTransport.Statistics()
    }

    private let configuration: CurlTransportConfiguration
    private let multi: MultiHandle
    private let wakeup = WakeupDescriptor()
    private let inbox = Mutex(Inbox())

    init(configuration: CurlTransportConfiguration) {
        self.configuration = configuration
        guard let handle = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        multi = MultiHandle(pointer: handle)
        ccurl_multi_setopt_long(handle, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX)
        ccurl_multi_setopt_long(handle, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        ccurl_multi_setopt_long(handle, CURLMOPT_MAX_TOTAL_CONNECTIONS, configuration.maxTotalConnections)
        ccurl_multi_setopt_long(handle, CURLMOPT_MAXCONNECTS, configuration.connectionCacheSize)
    }

    func start() {
        let thread = Thread { [self] in
            var state = LoopState(configuration: configuration, multi: multi.pointer)
            run(&state)
        }
        thread.name = "curl-multi"
        thread.start()
    }

    var statistics: CurlTransport.Statistics { inbox.withLock { $0.statistics } }

    func submit(_ submission: Submission, token: CancellationToken) {
        let accepted: Bool = token.state.withLock { tokenState in
            if tokenState.cancelled { return false }
            return inbox.withLock { inbox in
                if inbox.stopped || inbox.shuttingDown { return false }
                let id = inbox.nextId
                inbox.nextId += 1
                tokenState.id = id
                inbox.submissions.append((id, submission))
                return true
            }
        }

        guard accepted else {
            let cancelled = token.state.withLock { $0.cancelled }
            submission.continuation.resume(throwing: cancelled ? CancellationError() : CurlTransportError.shutDown)
            return
        }
        wakeup.wake()
    }

    func cancel(_ token: CancellationToken) {
        let id: UInt64? = token.state.withLock { state in
            state.cancelled = true
            return state.id
        }
        guard let id else { return }
        inbox.withLock { $0.cancellations.append(id) }
        wakeup.wake()
    }

    func shutdown() {
        let alreadyStopped = inbox.withLock { inbox -> Bool in
            let stopped = inbox.stopped
            inbox.shuttingDown = true
            return stopped
        }
        if !alreadyStopped { wakeup.wake() }
    }

    // MARK: The loop thread

    /// State that only the loop thread touches: easy handles and transfers in flight.
    private struct LoopState: ~Copyable {
        let configuration: CurlTransportConfiguration
        let multi: UnsafeMutableRawPointer
        var active: [UInt64: CurlTransfer] = [:]
        var pool: [EasyHandle] = []
        var created = 0
        var alive = 0
        var completed = 0
        var cancelled = 0
        var connectionsOpened = 0

        init(configuration: CurlTransportConfiguration, multi: UnsafeMutableRawPointer) {
            self.configuration = configuration
            self.multi = multi
        }
    }

    private func run(_ state: inout LoopState) {
        let events = CurlSocketEvents(multi: state.multi, wakeup: wakeup)
        while true {
            let (submissions, cancellations, shuttingDown) = inbox.withLock { inbox in
                defer {
                    inbox.submissions.removeAll(keepingCapacity: true)
                    inbox.cancellations.removeAll(keepingCapacity: true)
                }
                return (inbox.submissions, inbox.cancellations, inbox.shuttingDown)
            }
            for (id, submission) in submissions { start(id: id, submission, &state) }
            if !submissions.isEmpty { events.kick() }
            for id in cancellations {
                guard let transfer = state.active.removeValue(forKey: id) else { continue }
                curl_multi_remove_handle(state.multi, transfer.handle.pointer)
                state.cancelled += 1
                finish(transfer, with: .failure(CancellationError()), &state, reusable: false)
            }
            if shuttingDown {
                for (_, transfer) in state.active {
                    curl_multi_remove_handle(state.multi, transfer.handle.pointer)
                    finish(transfer, with: .failure(CurlTransportError.shutDown), &state, reusable: false)
                }
                state.active.removeAll()
                break
            }
            collectFinished(&state)
            events.waitAndDispatch(idle: configuration.idlePollInterval)
            collectFinished(&state)
        }
        for handle in state.pool { handle.cleanup() }
        state.alive -= state.pool.count
        state.pool.removeAll()
        publish(&state)
        inbox.withLock { inbox in
            inbox.stopped = true
            // Anything submitted while shutting down never reached curl.
            for (_, submission) in inbox.submissions {
                submission.continuation.resume(throwing: CurlTransportError.shutDown)
            }
            inbox.submissions.removeAll()
        }
        events.close()
        curl_multi_cleanup(state.multi)
        close(wakeup.fd)
    }

    /// Completes every transfer curl reports done.
    private func collectFinished(_ state: inout LoopState) {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(state.multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            var raw: UnsafeMutableRawPointer?
            ccurl_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &raw)
            let id = UInt64(UInt(bitPattern: raw))
            curl_multi_remove_handle(state.multi, easy)
            guard let transfer = state.active.removeValue(forKey: id) else { continue }
            state.connectionsOpened += transfer.newConnections
            finish(transfer, with: transfer.outcome(code: code), &state, reusable: true)
        }
    }

    private func start(id: UInt64, _ submission: Submission, _ state: inout LoopState) {
        let handle: EasyHandle
        if let pooled = state.pool.popLast() {
            handle = pooled
        } else {
            guard let created = EasyHandle() else {
                submission.continuation.resume(
                    throwing: CurlError(code: Int32(CURLE_OUT_OF_MEMORY.rawValue), message: "curl_easy_init failed"))
                return
            }
            handle = created
            state.created += 1
            state.alive += 1
        }
        let transfer = CurlTransfer(
            handle: handle, continuation: submission.continuation, maxResponseBytes: configuration.maxResponseBytes)
        let code = transfer.configure(
            submission.request, timeout: submission.timeout, configuration: configuration, id: id)
        guard code == CURLE_OK else {
            finish(
                transfer, with: .failure(CurlError(code: Int32(code.rawValue), message: handle.message(for: code))),
                &state, reusable: true)
            return
        }
        state.active[id] = transfer
        curl_multi_add_handle(state.multi, handle.pointer)
    }

    private func finish(
        _ transfer: CurlTransfer, with outcome: Result<HTTPResponse, any Error>, _ state: inout LoopState,
        reusable: Bool
    ) {
        state.completed += 1
        transfer.releaseRequestResources()
        // A handle whose transfer was cut short goes away with its connection state.
        if reusable, state.pool.count < configuration.handlePoolSize {
            transfer.handle.reset()
            state.pool.append(transfer.handle)
        } else {
            transfer.handle.cleanup()
            state.alive -= 1
        }
        transfer.continuation.resume(with: outcome)
        if state.completed % 64 == 0 || state.active.isEmpty { publish(&state) }
    }

    private func publish(_ state: inout LoopState) {
        let snapshot = CurlTransport.Statistics(
            easyHandlesAlive: state.alive, easyHandlesCreated: state.created, easyHandlesPooled: state.pool.count,
            inFlight: state.active.count, completed: state.completed, cancelled: state.cancelled,
            connectionsOpened: state.connectionsOpened)
        inbox.withLock { $0.statistics = snapshot }
    }
}
