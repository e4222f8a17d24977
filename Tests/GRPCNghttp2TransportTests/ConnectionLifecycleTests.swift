import Testing

@testable import GRPCNghttp2Transport

/// The connection's lifecycle rules, without sockets or timers.
@Suite struct ConnectionLifecycleTests {
    @Test func aGracefulShutdownSendsTheNoticeOnceAndTheFinalGoAwayWhenThePingIsAnswered() {
        var lifecycle = ConnectionLifecycle()
        let beginGracefulShutdownResult1 = lifecycle.beginGracefulShutdown()
        #expect(beginGracefulShutdownResult1 == .sendNoticeAndPing)
        let beginGracefulShutdownResult2 = lifecycle.beginGracefulShutdown()
        #expect(beginGracefulShutdownResult2 == .none, "a second ask (idle, max age, shutdown) changes nothing")
        #expect(!lifecycle.goAwaySent)
        let pingAcknowledgedResult1 = lifecycle.pingAcknowledged()
        #expect(pingAcknowledgedResult1 == .sendFinalGoAway)
        #expect(lifecycle.goAwaySent)
        let pingAcknowledgedResult2 = lifecycle.pingAcknowledged()
        #expect(pingAcknowledgedResult2 == .none, "one final GOAWAY")
        let drainPingTimedOutResult1 = lifecycle.drainPingTimedOut()
        #expect(drainPingTimedOutResult1 == .none, "the timeout after the answer does nothing")
        #expect(lifecycle.state == .draining(awaitingPing: false, finalGoAwaySent: true))
    }

    @Test func anUnansweredDrainPingStillLeadsToTheFinalGoAway() {
        var lifecycle = ConnectionLifecycle()
        _ = lifecycle.beginGracefulShutdown()
        let drainPingTimedOutResult2 = lifecycle.drainPingTimedOut()
        #expect(drainPingTimedOutResult2 == .sendFinalGoAway)
        let pingAcknowledgedResult3 = lifecycle.pingAcknowledged()
        #expect(pingAcknowledgedResult3 == .none)
    }

    @Test func aPingAckWhileServingOnlyAnswersTheKeepalive() {
        var lifecycle = ConnectionLifecycle()
        let keepaliveIntervalPassedResult1 = lifecycle.keepaliveIntervalPassed()
        #expect(keepaliveIntervalPassedResult1 == .sendPing)
        let keepaliveIntervalPassedResult2 = lifecycle.keepaliveIntervalPassed()
        #expect(keepaliveIntervalPassedResult2 == .none, "one keepalive PING at a time")
        #expect(lifecycle.keepaliveTimedOut())
        let pingAcknowledgedResult4 = lifecycle.pingAcknowledged()
        #expect(pingAcknowledgedResult4 == .none)
        #expect(!lifecycle.keepaliveTimedOut(), "answered: the peer is alive")
        let keepaliveIntervalPassedResult3 = lifecycle.keepaliveIntervalPassed()
        #expect(keepaliveIntervalPassedResult3 == .sendPing)
        #expect(lifecycle.state == .serving)
    }

    @Test func aForcedCloseSendsAGoAwayOnlyIfNoneWasSent() {
        var drained = ConnectionLifecycle()
        _ = drained.beginGracefulShutdown()
        _ = drained.pingAcknowledged()
        let forceCloseResult1 = drained.forceClose()
        #expect(forceCloseResult1 == .resetAndClose(withGoAway: false))
        var serving = ConnectionLifecycle()
        let forceCloseResult2 = serving.forceClose()
        #expect(forceCloseResult2 == .resetAndClose(withGoAway: true))
        #expect(serving.goAwaySent)
        let beginGracefulShutdownResult3 = serving.beginGracefulShutdown()
        #expect(beginGracefulShutdownResult3 == .sendNoticeAndPing)
        let drainPingTimedOutResult3 = serving.drainPingTimedOut()
        #expect(drainPingTimedOutResult3 == .none, "a GOAWAY already went: no second one")
    }

    @Test func nothingHappensOnceClosed() {
        var lifecycle = ConnectionLifecycle()
        _ = lifecycle.keepaliveIntervalPassed()
        let closedResult1 = lifecycle.closed()
        #expect(closedResult1)
        let closedResult2 = lifecycle.closed()
        #expect(!closedResult2, "torn down once")
        let beginGracefulShutdownResult4 = lifecycle.beginGracefulShutdown()
        #expect(beginGracefulShutdownResult4 == .none)
        let keepaliveIntervalPassedResult4 = lifecycle.keepaliveIntervalPassed()
        #expect(keepaliveIntervalPassedResult4 == .none)
        #expect(!lifecycle.keepaliveTimedOut())
        let forceCloseResult3 = lifecycle.forceClose()
        #expect(forceCloseResult3 == .none)
        let drainPingTimedOutResult4 = lifecycle.drainPingTimedOut()
        #expect(drainPingTimedOutResult4 == .none)
    }
}
