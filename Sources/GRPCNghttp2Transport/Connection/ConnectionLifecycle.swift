/// The lifecycle of one HTTP/2 connection, apart from the I/O: serving, draining (a GOAWAY
/// notice and a PING sent, the final GOAWAY once the PING is answered or given up on), and
/// closed; plus the keepalive PING that may be outstanding in any open state. Every event
/// returns what the connection must do, so the rules are tested without sockets or timers.
struct ConnectionLifecycle {
    enum State: Equatable {
        case serving
        /// `awaitingPing`: the drain PING is unanswered; `finalGoAwaySent`: the last GOAWAY left.
        case draining(awaitingPing: Bool, finalGoAwaySent: Bool)
        case closed
    }

    private(set) var state: State = .serving
    /// A keepalive PING went out and no ACK has come back.
    private(set) var keepalivePingOutstanding = false
    /// Some GOAWAY (final or forced) has been sent: once no stream is left the connection closes.
    private(set) var goAwaySent = false

    var isClosed: Bool { state == .closed }

    // MARK: Draining

    enum DrainAction: Equatable {
        /// Send the GOAWAY notice (maximum stream id) and a PING; arm the PING's timeout and
        /// the grace period.
        case sendNoticeAndPing
        case none
    }

    /// Asked to shut down gracefully (server shutdown, idle, max age). Only the first ask counts.
    mutating func beginGracefulShutdown() -> DrainAction {
        guard state == .serving else { return .none }
        state = .draining(awaitingPing: true, finalGoAwaySent: false)
        return .sendNoticeAndPing
    }

    enum FinalGoAwayAction: Equatable {
        /// Send the final GOAWAY naming the last stream processed.
        case sendFinalGoAway
        case none
    }

    /// A PING ACK arrived: it answers the keepalive PING and, while draining, the drain PING.
    mutating func pingAcknowledged() -> FinalGoAwayAction {
        keepalivePingOutstanding = false
        guard case .draining(awaitingPing: true, _) = state else { return .none }
        return finishDrainPing()
    }

    /// The drain PING was not answered in time: the final GOAWAY goes anyway.
    mutating func drainPingTimedOut() -> FinalGoAwayAction {
        guard case .draining(awaitingPing: true, _) = state else { return .none }
        return finishDrainPing()
    }

    private mutating func finishDrainPing() -> FinalGoAwayAction {
        guard !goAwaySent else {
            state = .draining(awaitingPing: false, finalGoAwaySent: false)
            return .none
        }
        goAwaySent = true
        state = .draining(awaitingPing: false, finalGoAwaySent: true)
        return .sendFinalGoAway
    }

    // MARK: Keepalive

    enum KeepaliveAction: Equatable {
        /// Send a PING and arm its timeout.
        case sendPing
        /// A PING is still outstanding: wait for it (or its timeout).
        case none
    }

    /// The keepalive interval passed (the connection reschedules it while not closed).
    mutating func keepaliveIntervalPassed() -> KeepaliveAction {
        guard !isClosed, !keepalivePingOutstanding else { return .none }
        keepalivePingOutstanding = true
        return .sendPing
    }

    /// Whether the keepalive PING's timeout means the peer is gone (close the connection).
    func keepaliveTimedOut() -> Bool {
        !isClosed && keepalivePingOutstanding
    }

    // MARK: Closing

    enum ForceCloseAction: Equatable {
        /// Reset every stream, send a GOAWAY (`withGoAway`, unless one was sent) and close.
        case resetAndClose(withGoAway: Bool)
        case none
    }

    /// Closing now (the grace period ended, the peer stopped answering, the server stops).
    mutating func forceClose() -> ForceCloseAction {
        guard !isClosed else { return .none }
        let withGoAway = !goAwaySent
        goAwaySent = true
        return .resetAndClose(withGoAway: withGoAway)
    }

    /// The channel is gone. Returns false when it already was (tear down once).
    mutating func closed() -> Bool {
        guard !isClosed else { return false }
        state = .closed
        return true
    }
}
