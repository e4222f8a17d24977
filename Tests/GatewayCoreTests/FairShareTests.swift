import Foundation
@testable import GatewayCore
import Synchronization
import Testing
import TestSupport
import Time

/// Services with weights share the fleet's budget by them, across replicas, and a share nobody
/// uses goes to the others (a real redis-server, three replicas' limiters, on a clock the test
/// moves only when every caller waits: the split is the mechanism's, not the machine's).
@Suite struct FairShareTests {
    /// Grants per service, with the time of each.
    final class Grants: Sendable {
        private let times = Mutex<[String: [ContinuousClock.Instant]]>([:])
        func add(_ service: String, at time: ContinuousClock.Instant) {
            times.withLock { $0[service, default: []].append(time) }
        }
        func count(_ service: String, from: ContinuousClock.Instant, to: ContinuousClock.Instant) -> Int {
            times.withLock { $0[service, default: []].filter { $0 >= from && $0 < to }.count }
        }
        func total(_ service: String) -> Int { times.withLock { $0[service, default: []].count } }
    }

    /// `callers` tasks per service and replica ask in a loop, each call for its service, until
    /// the service's stop time; a refused call waits the time it was told, as clients do.
    static func hammer(
        _ fleet: Fleet, _ shares: [BudgetClaim.Share], callers: Int, grants: Grants,
        stopAt: @escaping @Sendable (String) -> ContinuousClock.Instant
    ) async {
        let time = fleet.time
        var tasks: [@Sendable () async -> Void] = []
        for limiter in fleet.limiters {
            for share in shares {
                for _ in 0..<callers {
                    tasks.append {
                        let caller = Caller(service: share.service, scopes: [.read], weight: share.weight)
                        await Caller.$current.withValue(caller) {
                            let stop = stopAt(share.service)
                            while time.now < stop {
                                do {
                                    try await limiter.acquire(.general, deadline: stop)
                                    grants.add(share.service, at: time.now)
                                } catch let refusal as RateLimitExceeded {
                                    try? await time.sleep(for: refusal.retryAfter)
                                } catch {
                                    return
                                }
                            }
                        }
                    }
                }
            }
        }
        await runMovingClock(fleet.clock!, tasks)
    }

    @Test func threeServicesWeighted211SplitTheBudget422AndAStoppedOnesShareGoesToTheOthers() async throws {
        let fleet = try await Fleet.start { $0.earlyRefusal = false }
        let shares = [
            BudgetClaim.Share(service: "marketing", weight: 2), BudgetClaim.Share(service: "orders", weight: 1),
            BudgetClaim.Share(service: "analytics", weight: 1),
        ]
        let measured: Duration = TestScale.pick(short: .seconds(8), long: .seconds(60))
        let start = fleet.now
        let warm = start + .seconds(2)
        let marketingStops = warm + measured
        let end = marketingStops + .seconds(6)
        let grants = Grants()
        await Self.hammer(fleet, shares, callers: 6, grants: grants) { service in
            service == "marketing" ? marketingStops : end
        }
        await fleet.shutdown()

        let counts = shares.map { grants.count($0.service, from: warm, to: marketingStops) }
        let total = Double(counts.reduce(0, +))
        let seconds = measured / .seconds(1)
        #expect(total <= 8 * seconds, "the fleet stays within 8 calls/s: \(counts) in \(seconds) s")
        #expect(total >= 8 * seconds * 0.95, "the budget is used: \(counts) in \(seconds) s")
        for (share, count) in zip(shares, counts) {
            let expected = total * share.weight / 4
            // The virtual times keep every service within a call or two of its share at any moment.
            #expect(abs(Double(count) - expected) <= 3, "\(share.service): \(count) of \(total), ~\(expected)")
        }
        // Within 2 s of marketing stopping, orders and analytics split its part between them.
        let after = (marketingStops + .seconds(2), end)
        let orders = grants.count("orders", from: after.0, to: after.1)
        let analytics = grants.count("analytics", from: after.0, to: after.1)
        let window = (after.1 - after.0) / .seconds(1)
        #expect(
            Double(orders + analytics) >= 8 * window * 0.95, "orders \(orders) + analytics \(analytics) in \(window) s")
        #expect(
            // Equal weights: an even split, give or take the catch-up credit and a few calls.
            abs(orders - analytics) <= max(4, (orders + analytics) * 15 / 100),
            "orders \(orders), analytics \(analytics)")
    }

    @Test func aCallItsServicesQueueCannotReachBeforeItsDeadlineIsRefusedAtOnceWithTheWait() async throws {
        let fleet = try await Fleet.start(replicas: 1) { $0.generalPerSecond = 2 }
        let limiter = fleet.limiters[0]
        let time = fleet.time
        let orders = Caller(service: "orders", scopes: [.read])
        let granted = Grants()
        let refusal = Mutex<(error: RateLimitExceeded?, after: Duration)?>(nil)
        // Twenty calls of one service queue for a 2-per-second budget, with time to wait.
        var tasks: [@Sendable () async -> Void] = (0..<20).map { _ in
            {
                await Caller.$current.withValue(orders) {
                    if (try? await limiter.acquire(.general, deadline: time.now + .seconds(120))) != nil {
                        granted.add("orders", at: time.now)
                    }
                }
            }
        }
        tasks.append {
            // Once the queue has been served long enough to know its rate (past the first
            // window's burst of the idle budget, which would flatter the rate)…
            while granted.total("orders") < 8 { try? await time.sleep(for: .milliseconds(100)) }
            // …a call with 2 s left, behind ~12 at 2/s, is refused before its deadline, not at it.
            let asked = time.now
            do {
                try await Caller.$current.withValue(orders) {
                    try await limiter.acquire(.general, deadline: asked + .seconds(2))
                }
                refusal.withLock { $0 = (nil, time.now - asked) }
            } catch {
                refusal.withLock { $0 = (error as? RateLimitExceeded, time.now - asked) }
            }
            // Another service is not behind orders' queue: it is not refused early.
            let analytics = Caller(service: "analytics", scopes: [.read])
            await Caller.$current.withValue(analytics) {
                if (try? await limiter.acquire(.general, deadline: time.now + .seconds(30))) != nil {
                    granted.add("analytics", at: time.now)
                }
            }
        }
        await runMovingClock(fleet.clock!, tasks)
        let (error, after) = try #require(refusal.withLock { $0 })
        #expect(after == .zero, "refused at once, not at the deadline")
        #expect(error?.cause == .callerShare)
        #expect(
            (error?.retryAfter ?? .zero) > .seconds(2), "the wait it names is the queue's: \(String(describing: error))"
        )
        #expect(granted.total("analytics") == 1)
        #expect(granted.total("orders") == 20, "the queue was served in the end")
        #expect(limiter.serviceStatistics.first { $0.service == "orders" }?.refusals[.callerShare] == 1)
        await fleet.shutdown()
    }
}
