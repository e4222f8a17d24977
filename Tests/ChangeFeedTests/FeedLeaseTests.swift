import ChangeFeed
import Foundation
import RedisClient
import Synchronization
import Testing
import TestSupport

/// The lease on a real redis-server: one holder at a time, takeover after the holder stops
/// renewing, and fenced writes refusing a holder that lost it.
@Suite struct FeedLeaseTests {
    @Test func oneHolderAtATimeAndEachTakeHasANewerToken() async throws {
        try await FeedRig.with { rig in
            let lease = FeedLease(
                name: "reconciler", redis: rig.client, keyPrefix: rig.feed.configuration.keyPrefix,
                timeToLive: .seconds(5))
            let first = try #require(try await lease.take(as: "replica-a"))
            #expect(try await lease.take(as: "replica-b") == nil, "held by a")
            #expect(try await lease.take(as: "replica-a") == first, "a's own take extends it")
            try await lease.release(as: "replica-a", token: first)
            let second = try #require(try await lease.take(as: "replica-b"))
            #expect(second > first)
            #expect(try await lease.renew(as: "replica-a", token: first) == false)
            #expect(try await lease.renew(as: "replica-b", token: second))
        }
    }

    @Test func anotherReplicaTakesOverOnceTheHolderStopsRenewingAndTheOldTokenCannotWrite() async throws {
        try await FeedRig.with { rig in
            let lease = FeedLease(
                name: "reconciler", redis: rig.client, keyPrefix: rig.feed.configuration.keyPrefix,
                timeToLive: .milliseconds(300))
            let watermark = rig.feed.configuration.keyPrefix + ":watermark"
            let old = try #require(try await lease.take(as: "replica-a"))
            #expect(try await lease.write(watermark, "100", token: old))
            // a stops renewing (killed, or paused); after the time to live b takes over.
            var taken: Int64?
            try await eventually("b takes the lease after a's expired") {
                taken = try await lease.take(as: "replica-b")
                return taken != nil
            }
            let new = try #require(taken)
            #expect(new > old)
            #expect(try await lease.write(watermark, "200", token: new))
            #expect(try await lease.write(watermark, "150", token: old) == false, "a's late write is fenced off")
            let value = try await rig.client.get(.init(watermark))
            #expect(value.map { String(decoding: $0, as: UTF8.self) } == "200")
        }
    }

    @Test func holdRunsTheBodyOnOneReplicaAndHandsOverWhenItIsCancelled() async throws {
        try await FeedRig.with { rig in
            let lease = FeedLease(
                name: "reconciler", redis: rig.client, keyPrefix: rig.feed.configuration.keyPrefix,
                timeToLive: .seconds(3))
            let running = Holders()
            func replica(_ name: String) -> Task<Void, Never> {
                Task {
                    await lease.hold(as: name, retryInterval: .milliseconds(50)) { _ in
                        running.names.withLock { $0.append(name) }
                        defer { running.names.withLock { $0.removeAll { $0 == name } } }
                        try await Task.sleep(for: .seconds(3600))
                    }
                }
            }
            let a = replica("a")
            try await eventually("a holds the lease") { running.names.withLock { $0 } == ["a"] }
            let b = replica("b")
            a.cancel()  // a shuts down: releases the lease, b takes it without waiting out the TTL
            try await eventually("b holds it") { running.names.withLock { $0 } == ["b"] }
            b.cancel()
            await a.value
            await b.value
        }
    }
}

/// Which replicas run the lease's body right now.
final class Holders: Sendable {
    let names = Mutex<[String]>([])
}
