import Foundation
import HubSpotAPI
import Logging
import RedisClient
import Synchronization
import Time

/// What HubSpot's answers say about the budget, shared by the fleet in Redis: the burst window's
/// Max, Remaining and interval (from which the others' spending is estimated and the fleet's rate
/// follows), the account's day (what is left of it, when it ends), and HubSpot's refusals.
extension FixedWindowRateLimiter {
    /// The rate-limit part of one HubSpot answer.
    public struct HubSpotAnswer: Sendable {
        public var status: Int
        /// The 429's `policyName`: `TEN_SECONDLY_ROLLING`, `SECONDLY` or `DAILY`.
        public var policy: String?
        /// Its `X-HubSpot-RateLimit-*` headers.
        public var limits: RateLimitStatus
        /// How long ago the call got its budget slot: the fleet's calls granted after it may not
        /// have reached HubSpot when it answered, while those granted before it had.
        public var sinceGrant: Duration

        public init(
            status: Int, policy: String? = nil, limits: RateLimitStatus = .init(), sinceGrant: Duration = .zero
        ) {
            self.status = status
            self.policy = policy
            self.limits = limits
            self.sinceGrant = sinceGrant
        }

        /// Says anything the budget follows.
        var mattersToTheBudget: Bool { status == 429 || limits.max != nil || limits.dailyRemaining != nil }
        var max: Int? { limits.max }
        var remaining: Int? { limits.remaining }
        var intervalMilliseconds: Int? { limits.intervalMilliseconds }
        var dailyMax: Int? { limits.dailyMax }
        var dailyRemaining: Int? { limits.dailyRemaining }
    }

    var observedKey: String { configuration.keyPrefix + ":observed" }
    var dayKey: String { configuration.keyPrefix + ":day" }
    var spendKeyPrefix: String { configuration.keyPrefix + ":spend" }

    /// Reads one HubSpot answer. The burst figures update the fleet's estimate of what others
    /// spend (and with it the fleet's rate); a spent burst (429, or Remaining 0) holds the bucket
    /// about one call's share of the interval; a spent day (a `DAILY` 429, or Daily-Remaining 0)
    /// holds every budgeted call, and a day down to its interactive reserve every bulk call, until
    /// the account's midnight.
    public func observe(_ answer: HubSpotAnswer, kind: UpstreamCallKind) async {
        guard answer.mattersToTheBudget else { return }
        if kind == .search, answer.policy != "DAILY" {
            // Search answers carry no figures; HubSpot's secondly limit frees within a second.
            // (A DAILY 429 of a search spends the day as any: read below.)
            if answer.status == 429 { await pause(.search, for: .seconds(1), status: answer.status) }
            return
        }
        guard let redis, useRedisNow() else {
            observeLocally(answer)
            return
        }
        do {
            let reply = try await redis.evaluate(
                Self.observeScript, arguments: observeArguments(answer), timeout: configuration.redisTimeout)
            if case .array(let values) = reply, values.count >= 2 {
                let others = values[0].string.flatMap(Double.init)
                let spentUntil = values[1].string.flatMap(Int64.init) ?? 0
                state.withLock { state in
                    state.view.note(answer, others: others, at: time.wallMilliseconds)
                }
                if spentUntil > 0 { logDaySpent(answer, until: spentUntil) }
            }
        } catch {
            observeLocally(answer)
        }
        if answer.status == 429 || answer.remaining == 0 {
            metrics.increment(GatewayMetrics.Name.limiterHubSpotSpent, [("bucket", kind.metricLabel)])
        }
    }

    /// Without Redis: this replica's view only (its own pause and day, its local rate).
    private func observeLocally(_ answer: HubSpotAnswer) {
        let now = time.now
        let wall = time.wallMilliseconds
        state.withLock { state in
            state.view.note(answer, others: nil, at: wall)
            if answer.status == 429, answer.policy == "DAILY" || answer.dailyRemaining == 0 {
                let end = state.view.dayEndsAt(now: wall)
                state.localPauseUntil[.general] = now + .milliseconds(end - wall)
                state.localPauseUntil[.search] = now + .milliseconds(end - wall)
            } else if answer.status == 429 || answer.remaining == 0 {
                state.localPauseUntil[.general] = now + spentBurstPause(answer)
            }
        }
    }

    /// How long a spent burst holds the bucket: one call's share of HubSpot's interval.
    func spentBurstPause(_ answer: HubSpotAnswer) -> Duration {
        let interval = Int64(answer.intervalMilliseconds ?? 10_000)
        let perCall = Duration.milliseconds(interval / Int64(Swift.max(1, answer.max ?? 100)))
        return Swift.max(RateLimiterConfiguration.spentBurstPause, perCall)
    }

    private func pause(_ kind: UpstreamCallKind, for pause: Duration, status: Int) async {
        state.withLock { $0.localPauseUntil[kind] = time.now + pause }
        if let redis {
            // Until when, on the fleet's clock (the key's expiry is only its cleanup).
            _ = try? await redis.set(
                .init(pauseKey(kind)), .init(time.wallMilliseconds + pause.milliseconds),
                expiration: .milliseconds(Int(pause.milliseconds) + 60_000), timeout: configuration.redisTimeout)
        }
        logger.warning(
            "HubSpot refused a call of this bucket (429); holding it",
            metadata: ["bucket": "\(kind)", "status": "\(status)", "pauseMs": "\(pause.milliseconds)"])
    }

    private func logDaySpent(_ answer: HubSpotAnswer, until: Int64) {
        let first = state.withLock { state in
            defer { state.loggedDaySpentUntil = until }
            return state.loggedDaySpentUntil != until
        }
        guard first else { return }
        logger.warning(
            "HubSpot's daily limit for the account is spent or down to the interactive reserve; holding calls until the account's midnight",
            metadata: [
                "status": "\(answer.status)", "dailyRemaining": "\(answer.dailyRemaining.map(String.init) ?? "-")",
                "untilMs": "\(until)",
            ])
    }

    private func observeArguments(_ answer: HubSpotAnswer) -> [RESPArgument] {
        let daySpent = answer.status == 429 && answer.policy == "DAILY"
        let burstSpent = answer.status == 429 && !daySpent
        let pause = spentBurstPause(answer)
        return [
            .init(observedKey), .init(configuration.keyPrefix + ":general"),
            .init(answer.max ?? -1), .init(answer.remaining ?? -1), .init(answer.intervalMilliseconds ?? 10_000),
            .init(imposedNow), .init(Int(RateLimiterConfiguration.othersFallHalfLife.milliseconds)),
            .init(Swift.max(1, configuration.burstMargin)), .init(pauseKey(.general)), .init(Int(pause.milliseconds)),
            .init(burstSpent ? 1 : 0), .init(answer.dailyMax ?? -1), .init(answer.dailyRemaining ?? -1),
            .init(configuration.keyPrefix + ":daily"), .init(dayKey),
            .init(String(Swift.min(1, Swift.max(0, configuration.dailyInteractiveReserve)))), .init(daySpent ? 1 : 0),
            .init(Int(RateLimiterConfiguration.unknownDayEndRecheck.milliseconds)),
            .init(Int(Swift.max(.zero, answer.sinceGrant).milliseconds)),
        ]
    }

    /// The account's day ends at `endsAt` (ms since 1970 on this replica's clock), as HubSpot's
    /// account-info API says; the fleet's daily counts and holds follow it.
    /// A new end within a minute of the known one (modulo days) is the same midnight read
    /// again with the round trip's jitter, and is not taken: the day's keys stay the same.
    public func setAccountDay(endsAt: Int64, timeZone: String?, usageLimit: Int?, currentUsage: Int?) async throws {
        state.withLock { state in
            if let known = state.view.dayEndsAt, Self.sameMidnight(known, endsAt) { return }
            state.view.dayEndsAt = endsAt
        }
        if let redis {
            let reply = try await redis.evaluate(
                Self.dayScript, arguments: [.init(dayKey), .init(endsAt), .init(timeZone ?? "")],
                timeout: configuration.redisTimeout)
            if let kept = reply.string.flatMap({ Int64($0) }) { state.withLock { $0.view.dayEndsAt = kept } }
        }
        if let usageLimit, let currentUsage, usageLimit > 0 {
            // What the account-info API counts is HubSpot's figure too.
            await observe(
                HubSpotAnswer(
                    status: 200,
                    limits: RateLimitStatus(dailyMax: usageLimit, dailyRemaining: usageLimit - currentUsage)),
                kind: .general)
        }
    }

    /// The fleet's view of the budget as answer headers: the general calls per second it
    /// allows itself, the others' estimated calls per HubSpot interval, when the account's day
    /// ends (ms since 1970) and, for a service with a quota, what is left of it today.
    public func budgetHeaders(for share: BudgetClaim.Share?) -> [(name: String, value: String)] {
        let wall = time.wallMilliseconds
        return state.withLock { state in
            var headers: [(name: String, value: String)] = [
                ("X-Gateway-Budget-Rate", String(format: "%.2f", state.view.fleetRate(configuration, now: wall))),
                ("X-Gateway-Budget-Day-Ends-At", String(state.view.dayEndsAt(now: wall))),
            ]
            if let others = state.view.othersPerInterval {
                headers.append(("X-Gateway-Budget-Others-Per-Interval", String(format: "%.1f", others)))
            }
            if let share, let quota = share.dailyQuota {
                let end = state.view.dayEndsAt(now: wall)
                let spent = state.spends.dayStart == end - 86_400_000 ? state.spends.byService[share.service] ?? 0 : 0
                headers.append(
                    ("X-Gateway-Quota-Remaining", String(Swift.max(0, Int((Double(quota) - spent).rounded(.down))))))
            }
            return headers
        }
    }

    static func sameMidnight(_ a: Int64, _ b: Int64) -> Bool {
        let day: Int64 = 86_400_000
        let apart = ((b - a) % day + day) % day
        return min(apart, day - apart) <= 60_000
    }

    /// Keeps the account day's end (ARGV: the day key, the end read, the time zone) unless the
    /// one held is the same midnight within a minute; returns the end held.
    static let dayScript = RedisScript(
        """
        local known = tonumber(redis.call('HGET', ARGV[1], 'endsAt') or '0')
        local read = tonumber(ARGV[2])
        local day = 86400000
        local apart = ((read - known) % day + day) % day
        if known == 0 or math.min(apart, day - apart) > 60000 then
          redis.call('HSET', ARGV[1], 'endsAt', read)
          known = read
        end
        if ARGV[3] ~= '' then redis.call('HSET', ARGV[1], 'timeZone', ARGV[3]) end
        redis.call('PEXPIRE', ARGV[1], 3 * day)
        return tostring(known)
        """)

    // MARK: Service quotas

    /// A service's quota for calls of this priority: bulk calls leave the interactive reserve.
    func quota(_ share: BudgetClaim.Share, _ priority: CallPriority) -> Double? {
        guard let quota = share.dailyQuota else { return nil }
        return priority == .bulk ? Double(quota) * (1 - configuration.dailyInteractiveReserve) : Double(quota)
    }

    /// The requester's quota when the claim is one service's own call (a batch of several
    /// services is checked input by input as it is formed, `refuseOverQuota`); 0: none.
    func quotaLimit(for claim: BudgetClaim?, _ priority: CallPriority) -> Double {
        guard let claim, claim.inputs.count == 1, let share = claim.inputs.keys.first,
            let limit = quota(share, priority)
        else { return 0 }
        return Swift.max(limit, 0.000_001)
    }

    func noteSpends(_ spends: [String: Double], dayStart: Int64) {
        guard !spends.isEmpty else { return }
        state.withLock { state in
            if state.spends.dayStart != dayStart { state.spends = (dayStart, [:]) }
            state.spends.byService.merge(spends) { _, new in new }
        }
    }

    /// Refuses a call of a service whose quota today is spent, as far as this replica has seen
    /// (every grant tells it the spend of the services it charged).
    public func refuseOverQuota(_ share: BudgetClaim.Share?, priority: CallPriority) throws {
        guard let share, let limit = quota(share, priority) else { return }
        let wall = time.wallMilliseconds
        let (spend, end): (Double, Int64) = state.withLock { state in
            let end = state.view.dayEndsAt(now: wall)
            guard state.spends.dayStart == end - 86_400_000 else { return (0, end) }
            return (state.spends.byService[share.service] ?? 0, end)
        }
        guard spend >= limit else { return }
        metrics.increment(
            GatewayMetrics.Name.budgetRefusals,
            [("service", share.service), ("bucket", "daily"), ("reason", "service_quota")])
        throw RateLimitExceeded(
            kind: .general, retryAfter: .milliseconds(Swift.max(1, end - wall)), cause: .serviceQuota)
    }

    /// Records what HubSpot said (`observe`); the others' estimate and what a 429 or a spent day
    /// holds. ARGV: the observations key, the general bucket's key prefix, Max, Remaining (-1:
    /// not said), the interval ms, the time to use instead of Redis's (0: `TIME`), the half-life
    /// ms of a fall, the margin (a rise above it is taken at once, a smaller one smoothed), the
    /// pause key and pause ms of a spent burst, the burst spent (0/1), Daily and Daily-Remaining
    /// (-1: not said), the daily stop key prefix, the account day key, the interactive reserve
    /// (share of Daily), the day spent by a `DAILY` 429 (0/1), the longest hold while the day's
    /// end is unknown (ms), how long ago the call got its slot (ms). Returns {the others' estimate
    /// (calls in an interval) or '', the end of a day hold set now (ms) or '0'}.
    ///
    /// The fleet's own calls HubSpot had counted when it answered are its grants logged (the
    /// general bucket's `:log`) in the interval up to this call's own grant: calls go out in the
    /// order they are granted, so the ones granted after it may not have reached HubSpot yet.
    /// Counting those made the others' figure low by the fleet's calls in flight (two or three at
    /// 5 calls/s on a loaded machine), so the fleet overspent the window and then stalled. What
    /// HubSpot counted beyond them is the others'.
    static let observeScript = RedisScript(
        """
        local nowMs = tonumber(ARGV[6])
        if nowMs == 0 then
          local t = redis.call('TIME')
          nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local max = tonumber(ARGV[3])
        local remaining = tonumber(ARGV[4])
        local interval = tonumber(ARGV[5])
        local estimate = ''
        if max > 0 and remaining >= 0 and interval > 0 then
          local granted = nowMs - tonumber(ARGV[19] or '0')
          local own = redis.call('ZCOUNT', ARGV[2] .. ':log', '(' .. (granted - interval), granted)
          -- What HubSpot counted beyond the fleet's own calls: the others' calls in the window.
          -- (A fleet call granted before this one but still on its way makes a figure low, never
          -- high: the second's largest is the closest.)
          local count = math.max(0, max - remaining - own)
          local history = ARGV[1] .. ':arrivals'
          local second = math.floor(nowMs / 1000)
          count = math.max(count, tonumber(redis.call('HGET', history, 'c:' .. second) or '0'))
          redis.call('HSET', history, 'c:' .. second, count)
          redis.call('HDEL', history, 'c:' .. (second - 4))
          redis.call('PEXPIRE', history, interval + 60000)
          -- A call granted now stays in HubSpot's window for an interval, while the others go on
          -- at their rate. When their count clearly grows (over up to three seconds; a spender
          -- that started, or spends faster), it will go on growing until the growth is an
          -- interval old: what they have now plus that growth for the rest of the interval.
          local sample = count
          local growing = false
          for back = 3, 1, -1 do
            local earlier = redis.call('HGET', history, 'c:' .. (second - back))
            if earlier then
              local grown = count - tonumber(earlier)
              if grown >= math.max(2, tonumber(ARGV[8])) then
                growing = true
                local since = tonumber(redis.call('HGET', history, 'since') or '-1')
                if since < 0 then
                  since = (second - back) * 1000
                  redis.call('HSET', history, 'since', since)
                end
                sample = count + grown / back / 1000 * math.max(0, interval - (nowMs - since))
              end
              break
            end
          end
          if not growing then redis.call('HDEL', history, 'since') end
          local o = redis.call('HMGET', ARGV[1], 'smooth', 'at', 'floor', 'floorUntil')
          local value = sample
          if o[1] then
            local previous = tonumber(o[1])
            local dt = math.max(0, nowMs - tonumber(o[2]))
            if sample < previous + tonumber(ARGV[8]) then
              value = previous + (sample - previous) * (1 - math.pow(0.5, dt / tonumber(ARGV[7])))
            end
          end
          -- The calls of others HubSpot refused leave a dip in the window for one interval,
          -- which must not raise the fleet's rate: after a spent window the estimate does not
          -- fall below what it was for one interval.
          local floor = tonumber(o[3] or '0')
          local floorUntil = tonumber(o[4] or '0')
          if ARGV[11] == '1' or remaining == 0 then
            if nowMs >= floorUntil then floor = 0 end
            floor = math.max(floor, tonumber(o[1] or '0'), value)
            floorUntil = nowMs + interval
          end
          local others = value
          if nowMs < floorUntil and floor > others then others = floor end
          redis.call('HSET', ARGV[1], 'max', max, 'intervalMs', interval, 'remaining', remaining,
            'smooth', string.format('%.3f', value), 'others', string.format('%.3f', others), 'own', own,
            'at', nowMs, 'floor', floor, 'floorUntil', floorUntil)
          redis.call('PEXPIRE', ARGV[1], 3600000)
          estimate = string.format('%.3f', others)
        end
        if ARGV[11] == '1' or (max > 0 and remaining == 0) then
          redis.call('SET', ARGV[9], nowMs + tonumber(ARGV[10]), 'PX', tonumber(ARGV[10]) + 60000)
        end
        local daily = tonumber(ARGV[12])
        local dailyRemaining = tonumber(ARGV[13])
        if daily > 0 and dailyRemaining >= 0 then
          redis.call('HSET', ARGV[1], 'daily', daily, 'dailyRemaining', dailyRemaining, 'dailyAt', nowMs)
          redis.call('PEXPIRE', ARGV[1], 3600000)
        end
        local spent = ARGV[17] == '1' or (daily > 0 and dailyRemaining == 0)
        local reserved = daily > 0 and dailyRemaining >= 0 and dailyRemaining <= daily * tonumber(ARGV[16])
        local holdUntil = '0'
        if spent or reserved then
          local dayEnd = tonumber(redis.call('HGET', ARGV[15], 'endsAt') or '0')
          if dayEnd == 0 then
            dayEnd = math.min(nowMs - nowMs % 86400000 + 86400000, nowMs + tonumber(ARGV[18]))
          elseif dayEnd <= nowMs then
            dayEnd = dayEnd + math.ceil((nowMs - dayEnd + 1) / 86400000) * 86400000
          end
          local key = ARGV[14] .. ':reserved'
          if spent then key = ARGV[14] .. ':spent' end
          -- The hold's end on the scripts' clock (the key's own expiry is only its cleanup).
          redis.call('SET', key, dayEnd, 'PX', math.max(1, dayEnd - nowMs) + 60000)
          holdUntil = tostring(dayEnd)
        end
        return {estimate, holdUntil}
        """)
}

/// This replica's copy of what HubSpot's latest answers said (for GetStatus, `/metrics` and the
/// passthrough's headers); the fleet's copy is in Redis.
public struct HubSpotBudgetView: Sendable {
    public var max: Int?
    public var remaining: Int?
    public var intervalMilliseconds: Int?
    public var dailyMax: Int?
    public var dailyRemaining: Int?
    /// Calls per interval the fleet estimates others made (nil: not estimated yet).
    public var othersPerInterval: Double?
    /// When the latest figures came (ms since 1970).
    public var observedAt: Int64?
    /// When the account's day ends (ms since 1970; nil: not learned, UTC midnight assumed).
    public var dayEndsAt: Int64?

    mutating func note(_ answer: FixedWindowRateLimiter.HubSpotAnswer, others: Double?, at: Int64) {
        if let value = answer.max { max = value }
        if let value = answer.remaining { remaining = value }
        if let value = answer.intervalMilliseconds { intervalMilliseconds = value }
        if let value = answer.dailyMax { dailyMax = value }
        if let value = answer.dailyRemaining { dailyRemaining = value }
        if let others { othersPerInterval = others }
        observedAt = at
    }

    /// The end of the account's day that holds `now`.
    func dayEndsAt(now: Int64) -> Int64 {
        guard var end = dayEndsAt else { return now - now % 86_400_000 + 86_400_000 }
        if end <= now { end += ((now - end) / 86_400_000 + 1) * 86_400_000 }
        return end
    }

    /// The fleet's general calls per second these figures allow (the acquire script's rule).
    func fleetRate(_ configuration: RateLimiterConfiguration, now: Int64? = nil) -> Double {
        let configured = Double(configuration.generalPerSecond)
        guard let max, max > 0, let interval = intervalMilliseconds, interval > 0 else { return configured }
        if let now, let observedAt, now - observedAt > 3 * Int64(interval) { return configured }
        let margin = Swift.min(Double(configuration.burstMargin), Double(max) / 10)
        let perSecond = (Double(max) - (othersPerInterval ?? 0) - margin) * 1000 / Double(interval)
        let cap =
            configuration.learnBurst
            ? Double(max) * (1 - configuration.burstShareForOthers) * 1000 / Double(interval) : configured
        return Swift.max(1000 / Double(interval), Swift.min(cap, perSecond))
    }
}
