import Foundation
import Logging
import RedisClient
import Synchronization
import Time

/// The fleet-wide decision: one Lua script on Redis's clock counts every bucket at once.
extension FixedWindowRateLimiter {
    func decideInRedis(
        _ redis: RedisClient, _ kind: UpstreamCallKind, _ priority: CallPriority, paced: Bool,
        claim: BudgetClaim? = nil,
        deadlineLeft: Duration = .seconds(1)
    ) async throws -> Decision {
        var arguments: [RESPArgument] = []
        let buckets = self.buckets(kind, priority)
        arguments.append(.init(buckets.count))
        arguments.append(.init(configuration.keyPrefix + ":recovering"))
        arguments.append(.init(Int(configuration.windowEndGuard.milliseconds)))
        arguments.append(.init(paced ? 1 : 0))
        arguments.append(.init(configuration.keyPrefix + ":incarnation"))
        arguments.append(.init(imposedNow))
        arguments.append(.init(observedKey))
        arguments.append(.init(String(max(0, configuration.burstMargin))))
        arguments.append(.init(configuration.learnBurst ? 1 : 0))
        arguments.append(.init(String(min(1, max(0, configuration.burstShareForOthers)))))
        arguments.append(.init(dayKey))
        arguments.append(.init(spendKeyPrefix))
        arguments.append(.init(String(quotaLimit(for: claim, priority))))
        arguments.append(.init(configuration.keyPrefix + ":daily"))
        arguments.append(.init(priority == .bulk ? 1 : 0))
        for bucket in buckets {
            arguments.append(.init(bucket.key))
            arguments.append(.init(bucket.limit))
            arguments.append(.init(bucket.recoveryLimit))
            arguments.append(.init(bucket.windowMilliseconds))
            arguments.append(.init(bucket.everyNthWindow))
            arguments.append(.init(bucket.releasedLimit))
            arguments.append(.init(bucket.releaseAfterMilliseconds))
            arguments.append(.init(bucket.adaptiveFull))
        }
        appendFairShareArguments(&arguments, kind, priority, claim: claim, deadlineLeft: deadlineLeft)
        let reply = try await redis.evaluate(
            Self.acquireScript, arguments: arguments, timeout: configuration.redisTimeout)
        guard case .array(let values) = reply, values.count >= 3, case .integer(let granted) = values[0],
            case .integer(let waitMs) = values[1]
        else {
            throw RedisError.protocolError("unexpected reply of the rate-limit script: \(reply)")
        }
        guard granted == 1 else {
            var cause = RateLimitExceeded.Cause.budget
            if case .integer(let code) = values[2] {
                cause =
                    switch code {
                    case 1: .hubSpotPause
                    case 2: .callerShare
                    case 3: .accountDaySpent
                    case 4: .accountDayReserved
                    case 5: .serviceQuota
                    default: .budget
                    }
            }
            return .wait(.milliseconds(max(1, waitMs)), cause)
        }
        var window: Int?
        if case .integer(let start) = values[2] { window = Int(start) }
        if values.count >= 4, case .integer(let dayStart) = values[3] {
            var spends: [String: Double] = [:]
            var index = 4
            while index + 1 < values.count {
                if let service = values[index].string, let spend = values[index + 1].string.flatMap(Double.init) {
                    spends[service] = spend
                }
                index += 2
            }
            noteSpends(spends, dayStart: dayStart)
        }
        return .granted(RateLimitGrant(window: window, local: false))
    }

    struct Bucket {
        var key: String
        var limit: Int
        /// The limit while replicas may still be on their local fallback.
        var recoveryLimit: Int
        var windowMilliseconds: Int
        /// Only every n-th window may grant (bulk search: 2 leaves half for interactive callers).
        var everyNthWindow: Int
        /// From `releaseAfterMilliseconds` into a window, `releasedLimit` applies (the
        /// interactive reserve left to bulk work); -1: never.
        var releasedLimit: Int = 0
        var releaseAfterMilliseconds: Int = -1
        /// The whole budget per window as configured (the general bucket's): the script swaps it
        /// for the one HubSpot's answers leave the fleet, and lowers the other limits with it;
        /// 0: a fixed bucket.
        var adaptiveFull: Int = 0
    }

    func buckets(_ kind: UpstreamCallKind, _ priority: CallPriority) -> [Bucket] {
        let replicas = state.withLock { $0.replicas }
        let limit = configuration.perWindowLimit(kind, priority)
        let others = Double(replicas - 1) * configuration.localShare(kind, replicas: replicas)
        var first = Bucket(
            key: configuration.keyPrefix + ":" + kind.metricLabel, limit: limit,
            recoveryLimit: max(0, limit - Int(others.rounded(.up))),
            windowMilliseconds: configuration.windowMilliseconds(kind),
            everyNthWindow: kind == .search && priority == .bulk && configuration.interactiveReserve > 0 ? 2 : 1,
            adaptiveFull: kind == .general ? configuration.generalPerSecond : 0)
        if let released = configuration.releasedLimit(kind, priority) {
            first.releasedLimit = released.limit
            first.releaseAfterMilliseconds = released.afterMs
        }
        var buckets = [first]
        if configuration.dailyLimit > 0 {
            buckets.append(
                Bucket(
                    key: configuration.keyPrefix + ":daily", limit: configuration.dailyLimit,
                    recoveryLimit: configuration.dailyLimit, windowMilliseconds: 86_400_000, everyNthWindow: 1))
        }
        return buckets
    }

    /// The fair-share part of the script's arguments: where the services' virtual times live
    /// (per bucket and priority), who asks, and who pays with which fraction.
    func appendFairShareArguments(
        _ arguments: inout [RESPArgument], _ kind: UpstreamCallKind, _ priority: CallPriority, claim: BudgetClaim?,
        deadlineLeft: Duration
    ) {
        guard let claim else {
            arguments.append(.init(""))
            return
        }
        arguments.append(
            .init(
                configuration.keyPrefix + ":fair:" + kind.metricLabel + (priority == .bulk ? ":bulk" : ":interactive")))
        arguments.append(.init(claim.requester?.service ?? ""))
        arguments.append(.init(String(claim.requester?.weight ?? 1)))
        arguments.append(.init(Int(max(0, deadlineLeft.milliseconds))))
        arguments.append(.init(Int(max(1, configuration.fairShareRetry.milliseconds))))
        arguments.append(.init(Int(max(0, configuration.fairShareWaitingMargin.milliseconds))))
        arguments.append(.init(String(max(0, configuration.fairShareCredit))))
        let fractions = claim.fractions
        arguments.append(.init(fractions.count))
        for (share, fraction) in fractions {
            arguments.append(.init(share.service))
            arguments.append(.init(String(share.weight)))
            arguments.append(.init(String(fraction)))
        }
    }

    func pauseKey(_ kind: UpstreamCallKind) -> String {
        configuration.keyPrefix + ":" + (kind == .general ? "general" : "search") + ":pause"
    }

    /// Checks every bucket first and counts only when all have room, so a refused attempt
    /// costs nothing. Windows come from Redis's TIME, in milliseconds. Keys are built inside
    /// the script (one standalone Redis; not cluster-safe by design).
    /// No call is granted in the last `guard` ms of a window, so that a call reaches HubSpot
    /// in the second it was counted in.
    /// A paced call takes the k-th slot (k from 0) of the first bucket's window no earlier than
    /// k × window / limit into it.
    /// A Redis that lost its data (restarted empty, failed over to an empty replica) no longer
    /// knows what the fleet spent in the current window, while HubSpot does: the first call
    /// that finds the incarnation marker missing sets it and marks the current short windows
    /// full, so counting starts again at the next window. (The day's count is lost with the
    /// data; that is the one harm, see docs/operations.md.)
    /// Bulk general calls count against a lower limit (the interactive reserve kept) until the
    /// release point of the window, and against the whole limit after it (not while recovering).
    ///
    /// The general bucket logs its grants by time (`<key>:log`, the last minute) and adapts to HubSpot (`observeScript` keeps what its answers say): the
    /// fleet's calls per interval are Max less the others' estimated calls and the margin (at
    /// least one call per interval; at most `generalPerSecond`, or with `learnBurst` Max less
    /// the share kept for others), while the figures are at most three intervals old. A fractional rate r gives window k ⌊(k+1)r⌋ − ⌊kr⌋ calls,
    /// and the grants logged in the last interval never exceed what that rate spends in one.
    /// The day is the account's (its end kept by the account watcher; UTC midnight until known);
    /// HubSpot's word that the day is spent (or down to the interactive reserve) holds every
    /// call (bulk calls) until its end; a service past its `daily=` quota waits for the end too.
    ///
    /// ARGV: n, the recovery marker key, guard ms, paced (0/1), the incarnation marker key, the
    /// time to use instead of Redis's (ms since 1970; 0: Redis's `TIME`), the observations key,
    /// the burst margin, learn the burst (0/1), the share for others, the account day key, the
    /// spend key prefix, the requester's quota for this priority (0: none), the daily stop key
    /// prefix, bulk (0/1); then per bucket: key prefix, limit, limit while recovering, window
    /// milliseconds, every n-th window, limit once released, release point in ms into the window
    /// (-1: never), the configured full limit of an adaptive bucket (0: fixed).
    /// Then the fair share among calling services (an empty prefix: none): the prefix of its
    /// keys, the asking service (empty: the gateway's own, never held back), its weight, the
    /// caller's deadline in ms, the retry and waiting-margin ms, the idle credit, and m charges
    /// of (service, weight, fraction). Each service has a virtual time, advanced by fraction /
    /// weight per call it pays for; a slot goes to an asking service only when no other service
    /// that is waiting (refused within its margin, and asking again) has an earlier virtual
    /// time. A service that was not waiting comes back at most `credit` behind the earliest
    /// waiting one (a short pause between its calls costs it nothing; a long idleness buys it
    /// no more); one with nothing waiting holds nothing back (work-conserving).
    /// Returns {1, 0, start of the first bucket's window in seconds, start of the account day
    /// (ms), then (service, spend today) of each service charged} when granted, else
    /// {0, milliseconds until a slot may be free, why: 0 the budget, 1 HubSpot's pause, 2 the
    /// fair share, 3 the account's day spent, 4 the day's interactive reserve, 5 the service's
    /// quota}.
    static let acquireScript = RedisScript(
        """
        local nowMs = tonumber(ARGV[6])
        if nowMs == 0 then
          local t = redis.call('TIME')
          nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local H = 15
        local n = tonumber(ARGV[1])
        local recovering = redis.call('EXISTS', ARGV[2]) == 1
        local guard = tonumber(ARGV[3])
        local paced = ARGV[4] == '1'
        local dayEnd = tonumber(redis.call('HGET', ARGV[11], 'endsAt') or '0')
        if dayEnd == 0 then
          dayEnd = nowMs - nowMs % 86400000 + 86400000
        elseif dayEnd <= nowMs then
          dayEnd = dayEnd + math.ceil((nowMs - dayEnd + 1) / 86400000) * 86400000
        end
        local dayStart = dayEnd - 86400000
        if redis.call('SET', ARGV[5], nowMs, 'NX') then
          local waitMs = 0
          for i = 1, n do
            local base = H + 1 + (i - 1) * 8
            local window = tonumber(ARGV[base + 3])
            if window < 60000 then
              local start = nowMs - (nowMs % window)
              redis.call('SET', ARGV[base] .. ':' .. start, 1000000, 'PX', window + 5000)
              if start + window - nowMs > waitMs then waitMs = start + window - nowMs end
            end
          end
          return {0, math.max(1, waitMs), 0}
        end
        local spentUntil = tonumber(redis.call('GET', ARGV[14] .. ':spent') or '0')
        if spentUntil > nowMs then return {0, spentUntil - nowMs, 3} end
        if ARGV[15] == '1' then
          local reservedUntil = tonumber(redis.call('GET', ARGV[14] .. ':reserved') or '0')
          if reservedUntil > nowMs then return {0, reservedUntil - nowMs, 4} end
        end
        local fbase = H + 1 + n * 8
        local fprefix = ARGV[fbase] or ''
        local spendKey = ARGV[12] .. ':' .. dayStart
        local quota = tonumber(ARGV[13])
        if quota > 0 and fprefix ~= '' and ARGV[fbase + 1] ~= '' then
          local spend = tonumber(redis.call('HGET', spendKey, ARGV[fbase + 1]) or '0')
          if spend >= quota then return {0, math.max(1, dayEnd - nowMs), 5} end
        end
        local observed = nil
        local keys = {}
        local waitMs = 0
        local pauseMs = 0
        local firstStart = 0
        for i = 1, n do
          local base = H + 1 + (i - 1) * 8
          local prefix = ARGV[base]
          local limit = tonumber(ARGV[base + 1])
          local recoveryLimit = tonumber(ARGV[base + 2])
          local window = tonumber(ARGV[base + 3])
          local nth = tonumber(ARGV[base + 4])
          local released = tonumber(ARGV[base + 5])
          local releaseAt = tonumber(ARGV[base + 6])
          local full = tonumber(ARGV[base + 7])
          local start = nowMs - (nowMs % window)
          if window == 86400000 then start = dayStart end
          if full > 0 then
            local o = redis.call('HMGET', ARGV[7], 'max', 'intervalMs', 'others', 'at')
            local max = tonumber(o[1] or '0')
            local interval = tonumber(o[2] or '0')
            -- Figures older than three intervals are HubSpot's no longer (it stopped sending
            -- them, or nobody called): the configured budget holds until it says again.
            if max > 0 and interval > 0 and nowMs - tonumber(o[4] or '0') <= 3 * interval then
              local margin = math.min(tonumber(ARGV[8]), max / 10)
              local perMs = (max - tonumber(o[3] or '0') - margin) / interval
              local cap = full / window
              if ARGV[9] == '1' then cap = max * (1 - tonumber(ARGV[10])) / interval end
              perMs = math.max(1 / interval, math.min(cap, perMs))
              local k = start / window
              local adapted = math.floor((k + 1) * perMs * window) - math.floor(k * perMs * window)
              -- A slot of the last window a grant missed (held past its end by the rolling check
              -- below) is not lost: it carries over, one at most; the check keeps the sum.
              local before = math.floor(k * perMs * window) - math.floor((k - 1) * perMs * window)
              local used = tonumber(redis.call('GET', prefix .. ':' .. (start - window)) or '0')
              if used < before then adapted = math.min(adapted + 1, math.floor(cap * window + 0.5)) end
              limit = math.max(0, adapted - (full - limit))
              recoveryLimit = math.max(0, limit - (full - recoveryLimit))
              if released > 0 then released = adapted end
              -- HubSpot's window rolls: the fleet's grants of the last interval stay within
              -- what it may spend in one (and one more: a bound that held every grant would
              -- repeat a gap of one interval before in every interval after), wherever the
              -- fixed windows fall.
              local allowed = math.max(1, math.floor(perMs * interval)) + 1
              local since = '(' .. (nowMs - interval)
              local own = redis.call('ZCOUNT', prefix .. ':log', since, '+inf')
              if own >= allowed then
                local oldest = redis.call('ZRANGEBYSCORE', prefix .. ':log', since, '+inf', 'WITHSCORES',
                  'LIMIT', own - allowed, 1)
                local left = tonumber(oldest[2]) + interval - nowMs + 1
                if left > waitMs then waitMs = left end
              end
            end
          end
          if recovering then limit = recoveryLimit end
          if i == 1 then firstStart = start end
          local index = math.floor(start / window)
          if index % nth ~= 0 then
            local left = (nth - index % nth) * window + start - nowMs
            if left > waitMs then waitMs = left end
          end
          if window < 60000 and start + window - nowMs <= guard then
            local left = start + window - nowMs
            if left > waitMs then waitMs = left end
          end
          local key = prefix .. ':' .. start
          local count = tonumber(redis.call('GET', key) or '0')
          if not recovering and releaseAt >= 0 then
            if nowMs - start >= releaseAt then
              limit = released
            elseif count >= limit and count < released then
              -- Full for bulk until the reserve is released, in this window.
              local left = start + releaseAt - nowMs
              if left > waitMs then waitMs = left end
              limit = count + 1
            end
          end
          if count >= limit then
            local left = start + window - nowMs
            if window == 86400000 then left = dayEnd - nowMs end
            if left > waitMs then waitMs = left end
          elseif paced and i == 1 and limit > 0 then
            local earliest = start + math.floor(count * window / limit)
            if earliest - nowMs > waitMs then waitMs = earliest - nowMs end
          end
          local paused = tonumber(redis.call('GET', prefix .. ':pause') or '0') - nowMs
          if paused > waitMs then waitMs = paused end
          if paused > pauseMs then pauseMs = paused end
          keys[i] = {key, window}
        end
        local fair = 0
        local vtKey, waitKey, svc, minV, credit
        local active = {}
        if fprefix ~= '' then
          vtKey = fprefix .. ':vt'
          waitKey = fprefix .. ':waiting'
          svc = ARGV[fbase + 1]
          local entries = redis.call('HGETALL', waitKey)
          for j = 1, #entries, 2 do
            if tonumber(entries[j + 1]) < nowMs then
              redis.call('HDEL', waitKey, entries[j])
            else
              active[entries[j]] = true
              if entries[j] ~= svc then
                local v = tonumber(redis.call('HGET', vtKey, entries[j]) or '0')
                if minV == nil or v < minV then minV = v end
              end
            end
          end
          credit = tonumber(ARGV[fbase + 6])
          if svc ~= '' and waitMs == 0 and minV ~= nil then
            local v = tonumber(redis.call('HGET', vtKey, svc) or '0')
            if not active[svc] and v < minV - credit then v = minV - credit end
            if v > minV + 0.000001 then
              waitMs = tonumber(ARGV[fbase + 4])
              fair = 1
            end
          end
          if waitMs > 0 and svc ~= '' and waitMs <= tonumber(ARGV[fbase + 3]) then
            local untilMs = nowMs + waitMs + tonumber(ARGV[fbase + 5])
            if untilMs > tonumber(redis.call('HGET', waitKey, svc) or '0') then
              redis.call('HSET', waitKey, svc, untilMs)
            end
            redis.call('PEXPIRE', waitKey, 60000)
          end
        end
        if waitMs > 0 then
          local why = 0
          if fair == 1 then why = 2 end
          if pauseMs > 0 and pauseMs >= waitMs then why = 1 end
          return {0, waitMs, why}
        end
        for i = 1, n do
          local count = redis.call('INCR', keys[i][1])
          if count == 1 then redis.call('PEXPIRE', keys[i][1], keys[i][2] + 5000) end
          if tonumber(ARGV[H + (i - 1) * 8 + 8]) > 0 then
            -- The adaptive bucket's grants by time: what the fleet spent in HubSpot's interval.
            local log = ARGV[H + 1 + (i - 1) * 8] .. ':log'
            redis.call('ZADD', log, nowMs, nowMs .. ':' .. count)
            redis.call('ZREMRANGEBYSCORE', log, '-inf', nowMs - 60000)
            redis.call('PEXPIRE', log, 120000)
          end
        end
        local reply = {1, 0, math.floor(firstStart / 1000), dayStart}
        if fprefix ~= '' then
          -- Served: the asking service waits no more (its other calls mark it again).
          if svc ~= '' then redis.call('HDEL', waitKey, svc) end
          local m = tonumber(ARGV[fbase + 7])
          for j = 0, m - 1 do
            local t = ARGV[fbase + 8 + j * 3]
            local w = tonumber(ARGV[fbase + 9 + j * 3])
            local f = tonumber(ARGV[fbase + 10 + j * 3])
            local v = tonumber(redis.call('HGET', vtKey, t) or '0')
            if minV ~= nil and v < minV - credit and not active[t] then v = minV - credit end
            redis.call('HSET', vtKey, t, string.format('%.6f', v + f / w))
            reply[#reply + 1] = t
            reply[#reply + 1] = redis.call('HINCRBYFLOAT', spendKey, t, f)
          end
          redis.call('PEXPIRE', vtKey, 3600000)
        else
          redis.call('HINCRBYFLOAT', spendKey, '(gateway)', 1)
        end
        redis.call('PEXPIRE', spendKey, 172800000)
        return reply
        """)
}
