import Foundation
@testable import GatewayCore
import Synchronization
import Testing
import TestSupport

/// Services with weights share the fleet's budget by them, across replicas, and a share nobody
/// uses goes to the others (a real redis-server, three replicas' limiters).
@Suite struct FairShareTests {
    /// Grants per service, with the time of each.
    final class Grants: Sendable {
        private let times = Mutex<[String: [ContinuousClock.Instant]]>([:])
        func add(_ service: String) { times.withLock { $0[service, default: []].append(.now) } }
        func count(_ service: String, from: ContinuousClock.Instant, to: ContinuousClock.Instant) -> Int {
            times.withLock { $0[service, default: []].filter { $0 >= from && $0 < to }.count }
        }
    }

    /// `callers` tasks per service and replica ask in a loop, each call for its service, until
    /// the service's stop time (calls waiting then give up: nobody waits for them any more).
    static func hammer(
        _ fleet: Fleet, _ shares: [BudgetClaim.Share], callers: Int, grants: Grants,
        stopAt: @escaping @Sendable (String) -> ContinuousClock.Instant
    ) async {
        await withTaskGroup(of: Void.self) { group in
            for limiter in fleet.limiters {
                for share in shares {
                    for _ in 0..<callers {
                        group.addTask {
                            let caller = Caller(service: share.service, scopes: [.read], weight: share.weight)
                            await Caller.$current.withValue(caller) {
                                let stop = stopAt(share.service)
                                while ContinuousClock.now < stop {
                                    do {
                                        try await limiter.acquire(.general, deadline: stop)
                                        grants.add(share.service)
                                    } catch {}
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func threeServicesWeighted211SplitTheBudget422AndAStoppedOnesShareGoesToTheOthers() async throws {
        let fleet = try await Fleet.start { $0.earlyRefusal = false }
        let shares = [
            BudgetClaim.Share(service: "marketing", weight: 2), BudgetClaim.Share(service: "orders", weight: 1),
            BudgetClaim.Share(service: "analytics", weight: 1),
        ]
        let measured: Duration = TestScale.pick(short: .seconds(8), long: .seconds(60))
        let start = ContinuousClock.now
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
        #expect(total <= 8 * (seconds + 1), "the fleet stays within 8 calls/s: \(counts) in \(seconds) s")
        #expect(total >= 8 * seconds * 0.9, "the budget is used: \(counts) in \(seconds) s")
        for (share, count) in zip(shares, counts) {
            let expected = total * share.weight / 4
            // ±10 % (the short CI run counts few calls: at least ±3 of them).
            let tolerance = max(expected * 0.10, TestScale.pick(short: 3, long: 0))
            #expect(abs(Double(count) - expected) <= tolerance, "\(share.service): \(count) of \(total), ~\(expected)")
        }
        // Within 2 s of marketing stopping, orders and analytics split its part between them.
        let after = (marketingStops + .seconds(2), end)
        let orders = grants.count("orders", from: after.0, to: after.1)
        let analytics = grants.count("analytics", from: after.0, to: after.1)
        let window = (after.1 - after.0) / .seconds(1)
        #expect(
            Double(orders + analytics) >= 8 * window * 0.9, "orders \(orders) + analytics \(analytics) in \(window) s")
        #expect(
            // Equal weights: an even split, give or take the catch-up credit and a few calls.
            abs(orders - analytics) <= max(4, (orders + analytics) * 15 / 100),
            "orders \(orders), analytics \(analytics)")
    }

    @Test func aCallItsServicesQueueCannotReachBeforeItsDeadlineIsRefusedAtOnceWithTheWait() async throws {
        let fleet = try await Fleet.start(replicas: 1) { $0.generalPerSecond = 2 }
        let limiter = fleet.limiters[0]
        let orders = Caller(service: "orders", scopes: [.read])
        let granted = Grants()
        // Twenty calls of one service queue for a 2-per-second budget, with time to wait.
        let queue = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        await Caller.$current.withValue(orders) {
                            if (try? await limiter.acquire(.general, deadline: .now + .seconds(120))) != nil {
                                granted.add("orders")
                            }
                        }
                    }
                }
            }
        }
        // Once the queue has been served long enough to know its rate…
        // (past the first window's burst of the idle budget, which would flatter the rate)
        try await eventually("eight of the queue's calls were granted", within: .seconds(30)) {
            granted.count("orders", from: .now - .seconds(60), to: .now + .seconds(1)) >= 8
        }
        // …a call with 2 s left, behind ~12 at 2/s, is refused before its deadline, not at it.
        let deadline = ContinuousClock.now + .seconds(2)
        var refusal: RateLimitExceeded?
        do {
            try await Caller.$current.withValue(orders) { try await limiter.acquire(.general, deadline: deadline) }
        } catch let error as RateLimitExceeded {
            refusal = error
        }
        #expect(ContinuousClock.now < deadline, "refused at once, not at the deadline")
        #expect(refusal?.cause == .callerShare)
        #expect(
            (refusal?.retryAfter ?? .zero) > .seconds(2),
            "the wait it names is the queue's: \(String(describing: refusal))")
        // Another service is not behind orders' queue: it is not refused early.
        let analytics = Caller(service: "analytics", scopes: [.read])
        try await Caller.$current.withValue(analytics) {
            try await limiter.acquire(.general, deadline: .now + .seconds(30))
        }
        #expect(limiter.serviceStatistics.first { $0.service == "orders" }?.refusals[.callerShare] == 1)
        queue.cancel()
        await queue.value
        await fleet.shutdown()
    }
}
