import Foundation
@testable import GatewayCore
import HubSpotAPI
import Synchronization
import Testing
import TestSupport
import Time

/// HubSpot's rolling burst window as the test's HubSpot keeps it: every call of every spender
/// sharing the token, on the fleet's clock.
final class SharedBurstWindow: Sendable {
    let max: Int
    let intervalMilliseconds: Int64
    private let calls = Mutex<[Int64]>([])
    /// Per second: (the fleet's calls, the fleet's 429s, the others' calls, the others' 429s).
    private let seconds = Mutex<[Int64: (fleet: Int, fleetRefused: Int, others: Int, othersRefused: Int)]>([:])

    init(max: Int = 100, intervalMilliseconds: Int64 = 10_000) {
        self.max = max
        self.intervalMilliseconds = intervalMilliseconds
    }

    /// One call at `now`: HubSpot's answer to it.
    func call(at now: Int64, byFleet: Bool) -> FixedWindowRateLimiter.HubSpotAnswer {
        let (admitted, remaining): (Bool, Int) = calls.withLock { calls in
            calls.removeAll { $0 <= now - intervalMilliseconds }
            guard calls.count < max else { return (false, 0) }
            calls.append(now)
            return (true, max - calls.count)
        }
        seconds.withLock { seconds in
            var second = seconds[now / 1000] ?? (0, 0, 0, 0)
            switch (byFleet, admitted) {
            case (true, true): second.fleet += 1
            case (true, false): second.fleetRefused += 1
            case (false, true): second.others += 1
            case (false, false): second.othersRefused += 1
            }
            seconds[now / 1000] = second
        }
        return .init(
            status: admitted ? 200 : 429, policy: admitted ? nil : "TEN_SECONDLY_ROLLING",
            limits: .init(max: max, remaining: remaining, intervalMilliseconds: Int(intervalMilliseconds)))
    }

    var perSecond: [(second: Int64, fleet: Int, fleetRefused: Int, others: Int, othersRefused: Int)] {
        seconds.withLock { $0 }.sorted { $0.key < $1.key }.map {
            ($0.key, $0.value.0, $0.value.1, $0.value.2, $0.value.3)
        }
    }
}

@Suite(.serialized) struct AdaptiveBudgetTests {
    /// The co-tenant case: a service still calling HubSpot directly with the gateway's token
    /// spends 5 of the 10 calls a second; the fleet, saturated, learns it from Remaining.
    @Test func othersSpendingLowersTheFleetsRateUntilBothFitUnderMaxAndItRisesWhenTheyStop() async throws {
        let fleet = try await Fleet.start()
        let clock = fleet.clock!
        let time = fleet.time
        let hubSpot = SharedBurstWindow()
        let start = time.now
        let othersStop = start + .seconds(40)
        let end = start + .seconds(60)
        let firstSecond = time.wallMilliseconds / 1000
        var tasks: [@Sendable () async -> Void] = []
        for limiter in fleet.limiters {
            for _ in 0..<5 {
                tasks.append {
                    while time.now < end {
                        guard (try? await limiter.acquire(.general, deadline: end)) != nil else {
                            try? await time.sleep(until: time.now + .milliseconds(50))
                            continue
                        }
                        let answer = hubSpot.call(at: time.wallMilliseconds, byFleet: true)
                        await limiter.observe(answer, kind: .general)
                    }
                }
            }
        }
        tasks.append {
            // The direct client: a call every 200 ms.
            var next = start
            while next < othersStop {
                _ = hubSpot.call(at: time.wallMilliseconds, byFleet: false)
                next = next + .milliseconds(200)
                try? await time.sleep(until: next)
            }
        }
        await runMovingClock(clock, tasks)
        await fleet.shutdown()
        let seconds = hubSpot.perSecond.map { ($0.second - firstSecond, $0) }
        let steady = seconds.filter { $0.0 >= 10 && $0.0 < 40 }.map(\.1)
        let report = seconds.map {
            "\($0.0)s: \($0.1.fleet)+\($0.1.others) (429: \($0.1.fleetRefused)/\($0.1.othersRefused))"
        }
        .joined(separator: ", ")
        // Once the first interval has shown what the others spend, HubSpot refuses nobody, the
        // fleet calls in every second …
        #expect(steady.count == 30, "\(report)")
        #expect(steady.allSatisfy { $0.fleetRefused == 0 && $0.othersRefused == 0 }, "\(report)")
        #expect(steady.allSatisfy { $0.fleet > 0 }, "\(report)")
        // … and takes at least 90 % of what the others leave (5 a second).
        let fleetCalls = steady.reduce(0) { $0 + $1.fleet }
        #expect(Double(fleetCalls) >= 4.5 * 30, "\(fleetCalls) calls in 30 s; \(report)")
        // The others stop at 40 s: the fleet is back at its 8 a second within one interval.
        let after = seconds.filter { $0.0 >= 50 && $0.0 < 59 }.map(\.1)
        #expect(after.allSatisfy { $0.fleet >= 8 }, "\(report)")
    }

    @Test func aSpentDayHoldsEveryCallUntilTheAccountsMidnightAndTheReserveHoldsBulkWork() async throws {
        let fleet = try await Fleet.start(replicas: 2)
        let limiter = fleet.limiters[0]
        let midnight = fleet.time.wallMilliseconds + 3_600_000
        try await limiter.setAccountDay(
            endsAt: midnight, timeZone: "US/Eastern", usageLimit: 2_000, currentUsage: 1_950)
        // 50 of 2,000 left: under the 5 % kept for interactive calls.
        do {
            try await fleet.limiters[1].acquire(.general, priority: .bulk, deadline: fleet.now + .seconds(5))
            Issue.record("bulk work spent the day's interactive reserve")
        } catch let error as RateLimitExceeded {
            #expect(error.cause == .accountDayReserved)
            #expect(abs(error.retryAfter.milliseconds - 3_600_000) < 2_000, "\(error.retryAfter)")
        }
        try await fleet.limiters[1].acquire(.general, priority: .interactive, deadline: fleet.now + .seconds(5))
        // HubSpot's DAILY 429: every call waits for the account's midnight, with the reason.
        await limiter.observe(
            .init(status: 429, policy: "DAILY", limits: .init(dailyMax: 2_000, dailyRemaining: 0)), kind: .general)
        for (kind, priority) in [(UpstreamCallKind.general, CallPriority.interactive), (.search, .interactive)] {
            do {
                try await fleet.limiters[1].acquire(kind, priority: priority, deadline: fleet.now + .seconds(5))
                Issue.record("a call was granted on a spent day")
            } catch let error as RateLimitExceeded {
                #expect(error.cause == .accountDaySpent)
                #expect("\(error)".contains("account's midnight"))
            }
        }
        // Past the midnight, calls go again.
        fleet.clock!.advance(by: .seconds(3_601))
        try await fleet.limiters[1].acquire(.general, priority: .bulk, deadline: fleet.now + .seconds(5))
        await fleet.shutdown()
    }

    @Test func aServicePastItsDailyQuotaIsRefusedWhileAnotherIsServed() async throws {
        let fleet = try await Fleet.start(replicas: 2) { $0.generalPerSecond = 100 }
        let capped = BudgetClaim.Share(service: "analytics", weight: 1, dailyQuota: 3)
        let free = BudgetClaim.Share(service: "orders", weight: 1)
        for index in 0..<3 {
            try await BudgetClaim.$current.withValue(BudgetClaim(capped)) {
                try await fleet.limiters[index % 2].acquire(.general, deadline: fleet.now + .seconds(5))
            }
        }
        for limiter in fleet.limiters {
            do {
                try await BudgetClaim.$current.withValue(BudgetClaim(capped)) {
                    try await limiter.acquire(.general, deadline: fleet.now + .seconds(5))
                }
                Issue.record("a call past the service's quota was granted")
            } catch let error as RateLimitExceeded {
                #expect(error.cause == .serviceQuota)
            }
        }
        // The replica that granted its calls refuses its batch inputs before they join a batch.
        #expect(throws: RateLimitExceeded.self) {
            try fleet.limiters[0].refuseOverQuota(capped, priority: .interactive)
        }
        try await BudgetClaim.$current.withValue(BudgetClaim(free)) {
            try await fleet.limiters[1].acquire(.general, deadline: fleet.now + .seconds(5))
        }
        let budget = await fleet.limiters[0].fleetBudget()
        #expect(budget.spendToday["analytics"] == 3 && budget.spendToday["orders"] == 1, "\(budget.spendToday)")
        await fleet.shutdown()
    }
}
