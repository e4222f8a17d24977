import Foundation
import Logging
import RedisClient
import Synchronization
import Time

/// The budget's use, for operators (AdminService, /metrics).
extension FixedWindowRateLimiter {
    /// How much of a bucket the fleet has used, for operators.
    public struct Usage: Sendable {
        /// `general`, `search` or `daily`.
        public var bucket: String
        public var used: Int
        public var limit: Int
    }

    /// The fleet's budget as Redis holds it: this window's and this day's use, what HubSpot's
    /// latest answers said, and each service's spend today.
    public struct FleetBudget: Sendable {
        public var usage: [Usage] = []
        /// HubSpot's figures and the fleet's estimate of the others' spending.
        public var hubSpot = HubSpotBudgetView()
        /// The general calls per second the fleet allows itself now.
        public var fleetRate: Double = 0
        /// The account's time zone, when the account-info API said it.
        public var timeZone: String?
        /// Calls (fractions of shared batches) each service was charged today; `(gateway)` is
        /// the gateway's own work.
        public var spendToday: [String: Double] = [:]
        /// Calls others made today by HubSpot's daily figures (what the account spent less the
        /// fleet's spend); nil before HubSpot said.
        public var othersToday: Double? {
            guard let daily = hubSpot.dailyMax, let remaining = hubSpot.dailyRemaining else { return nil }
            return Swift.max(0, Double(daily - remaining) - spendToday.values.reduce(0, +))
        }
    }

    /// Fleet-wide use of the current general and search windows and of today, read from Redis
    /// (empty without Redis or when it does not answer).
    public func usage() async -> [Usage] { await fleetBudget().usage }

    /// The fleet's budget, read from Redis (this replica's view alone without Redis).
    public func fleetBudget() async -> FleetBudget {
        var budget = FleetBudget()
        budget.hubSpot = hubSpotView
        budget.fleetRate = fleetRate
        guard let redis else { return budget }
        let now = time.wallMilliseconds
        do {
            let observed = try await hash(redis, observedKey)
            func number(_ field: String) -> Int? { observed[field].flatMap { Double($0) }.map { Int($0) } }
            var view = budget.hubSpot
            view.max = number("max") ?? view.max
            view.remaining = number("remaining") ?? view.remaining
            view.intervalMilliseconds = number("intervalMs") ?? view.intervalMilliseconds
            view.othersPerInterval = observed["others"].flatMap(Double.init) ?? view.othersPerInterval
            view.dailyMax = number("daily") ?? view.dailyMax
            view.dailyRemaining = number("dailyRemaining") ?? view.dailyRemaining
            view.observedAt = observed["at"].flatMap { Int64($0) } ?? view.observedAt
            let day = try await hash(redis, dayKey)
            view.dayEndsAt = day["endsAt"].flatMap { Int64($0) } ?? view.dayEndsAt
            budget.timeZone = day["timeZone"]
            budget.hubSpot = view
            budget.fleetRate = view.fleetRate(configuration, now: now)
            let dayStart = view.dayEndsAt(now: now) - 86_400_000
            budget.spendToday = try await hash(redis, "\(spendKeyPrefix):\(dayStart)").compactMapValues(Double.init)
            let generalLimit = Int((budget.fleetRate).rounded(.up))
            let buckets: [(String, String, Int)] = [
                ("general", "\(configuration.keyPrefix):general:\(now - now % 1000)", generalLimit),
                (
                    "search",
                    "\(configuration.keyPrefix):search:\(now - now % Int64(configuration.windowMilliseconds(.search)))",
                    1
                ),
                ("daily", "\(configuration.keyPrefix):daily:\(dayStart)", configuration.dailyLimit),
            ]
            for (bucket, key, limit) in buckets where limit > 0 {
                let value = try await redis.get(.init(key), timeout: configuration.redisTimeout)
                let used = value.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
                budget.usage.append(Usage(bucket: bucket, used: used >= 1_000_000 ? limit : used, limit: limit))
            }
        } catch {
            return budget
        }
        return budget
    }

    private func hash(_ redis: RedisClient, _ key: String) async throws -> [String: String] {
        let reply = try await redis.send("HGETALL", [.init(key)], timeout: configuration.redisTimeout)
        guard case .array(let values) = reply else { return [:] }
        var fields: [String: String] = [:]
        var index = 0
        while index + 1 < values.count {
            if let name = values[index].string, let value = values[index + 1].string { fields[name] = value }
            index += 2
        }
        return fields
    }

    /// The replica count the local fallback divides the budget by (learned from Redis).
    public var knownReplicaCount: Int { state.withLock { $0.replicas } }
}
