import Testing

@testable import GRPCNghttp2Transport

/// The connection's lifecycle rules, without sockets or timers. (`#expect` cannot call a
/// mutating method, so each event's action is taken first and checked after.)
@Suite struct ConnectionLifecycleTests {
    @Test func aGracefulShutdownSendsTheNoticeOnceAndTheFinalGoAwayWhenThePingIsAnswered() {
        var lifecycle = ConnectionLifecycle()
        let asked = lifecycle.beginGracefulShutdown()
        let askedAgain = lifecycle.beginGracefulShutdown()
        #expect(asked == .sendNoticeAndPing)
        #expect(askedAgain == .none, "a second ask (idle, max age, shutdown) changes nothing")
        #expect(!lifecycle.goAwaySent)
        let answered = lifecycle.pingAcknowledged()
        #expect(answered == .sendFinalGoAway)
        #expect(lifecycle.goAwaySent)
        let answeredAgain = lifecycle.pingAcknowledged()
        let timedOutAfterwards = lifecycle.drainPingTimedOut()
        #expect(answeredAgain == .none, "one final GOAWAY")
        #expect(timedOutAfterwards == .none, "the timeout after the answer does nothing")
        #expect(lifecycle.state == .draining(awaitingPing: false, finalGoAwaySent: true))
    }

    @Test func anUnansweredDrainPingStillLeadsToTheFinalGoAway() {
        var lifecycle = ConnectionLifecycle()
        _ = lifecycle.beginGracefulShutdown()
        let timedOut = lifecycle.drainPingTimedOut()
        let answeredLate = lifecycle.pingAcknowledged()
        #expect(timedOut == .sendFinalGoAway)
        #expect(answeredLate == .none)
    }

    @Test func aPingAckWhileServingOnlyAnswersTheKeepalive() {
        var lifecycle = ConnectionLifecycle()
        let first = lifecycle.keepaliveIntervalPassed()
        let whileOutstanding = lifecycle.keepaliveIntervalPassed()
        #expect(first == .sendPing)
        #expect(whileOutstanding == .none, "one keepalive PING at a time")
        #expect(lifecycle.keepaliveTimedOut())
        let answered = lifecycle.pingAcknowledged()
        #expect(answered == .none)
        #expect(!lifecycle.keepaliveTimedOut(), "answered: the peer is alive")
        let next = lifecycle.keepaliveIntervalPassed()
        #expect(next == .sendPing)
        #expect(lifecycle.state == .serving)
    }

    @Test func aForcedCloseSendsAGoAwayOnlyIfNoneWasSent() {
        var drained = ConnectionLifecycle()
        _ = drained.beginGracefulShutdown()
        _ = drained.pingAcknowledged()
        let afterDrain = drained.forceClose()
        #expect(afterDrain == .resetAndClose(withGoAway: false))

        var serving = ConnectionLifecycle()
        let forced = serving.forceClose()
        #expect(forced == .resetAndClose(withGoAway: true))
        #expect(serving.goAwaySent)
        let asked = serving.beginGracefulShutdown()
        let timedOut = serving.drainPingTimedOut()
        #expect(asked == .sendNoticeAndPing)
        #expect(timedOut == .none, "a GOAWAY already went: no second one")
    }

    @Test func nothingHappensOnceClosed() {
        var lifecycle = ConnectionLifecycle()
        _ = lifecycle.keepaliveIntervalPassed()
        let closed = lifecycle.closed()
        let closedAgain = lifecycle.closed()
        #expect(closed)
        #expect(!closedAgain, "torn down once")
        let asked = lifecycle.beginGracefulShutdown()
        let keepalive = lifecycle.keepaliveIntervalPassed()
        let forced = lifecycle.forceClose()
        let timedOut = lifecycle.drainPingTimedOut()
        #expect(asked == .none)
        #expect(keepalive == .none)
        #expect(!lifecycle.keepaliveTimedOut())
        #expect(forced == .none)
        #expect(timedOut == .none)
    }
}
