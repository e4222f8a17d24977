import Synchronization

/// Counts admissions in a rolling window exactly: a ring of the last `capacity` admission times.
/// A request is admitted when fewer than `capacity` admissions happened within the window.
struct RollingWindowCounter: Sendable {
    let capacity: Int
    let windowMilliseconds: Int64
    private var ring: [Int64]
    private var head = 0
    private var count = 0

    init(capacity: Int, windowMilliseconds: Int64) {
        self.capacity = capacity
        self.windowMilliseconds = windowMilliseconds
        ring = [Int64](repeating: 0, count: max(capacity, 1))
    }

    /// Admissions still inside the window at `now`.
    mutating func used(at now: Int64) -> Int {
        while count > 0, ring[head] <= now - windowMilliseconds {
            head = (head + 1) % ring.count
            count -= 1
        }
        return count
    }

    mutating func tryAdmit(at now: Int64) -> Bool {
        guard used(at: now) < capacity else { return false }
        ring[(head + count) % ring.count] = now
        count += 1
        return true
    }
}

/// HubSpot's limits for one account: a rolling burst window per private app (token), the daily
/// budget every app of the account shares, and the separate secondly limit of search. A refused
/// request consumes nothing.
final class HubSpotRateLimits: Sendable {
    struct Settings: Sendable {
        var burstLimit: Int
        var burstIntervalMilliseconds: Int64
        var dailyLimit: Int
        var dailyResetOffsetMilliseconds: Int64
        var searchPerSecondLimit: Int
        var searchIntervalMilliseconds: Int64 = 1000
    }

    struct Decision: Sendable {
        var refusedBy: RateLimitPolicy?
        var headers: [(String, String)]
        /// The time the decision was made at (never earlier than an earlier decision's).
        var at: Int64 = 0
    }

    private struct State: Sendable {
        var settings: Settings
        /// The burst window of each app, by its index (0: the main token and OAuth tokens).
        var bursts: [Int: RollingWindowCounter] = [:]
        var search: RollingWindowCounter
        var day: Int64 = -1
        var dailyUsed = 0
        var refusals = 0
        /// The latest decision time: requests stamped on arrival reach the lock out of order,
        /// and the rolling windows need their times in order to count exactly.
        var clock: Int64 = 0
    }

    private let state: Mutex<State>

    init(_ settings: Settings) {
        state = Mutex(Self.fresh(settings))
    }

    private static func fresh(_ settings: Settings) -> State {
        State(
            settings: settings,
            search: RollingWindowCounter(
                capacity: settings.searchPerSecondLimit, windowMilliseconds: settings.searchIntervalMilliseconds))
    }

    var settings: Settings { state.withLock { $0.settings } }

    /// Replaces the limits (admin API); counters start afresh.
    func reconfigure(_ settings: Settings) {
        state.withLock { $0 = Self.fresh(settings) }
    }

    func reset() { reconfigure(settings) }

    var refusals: Int { state.withLock { $0.refusals } }

    /// Admits or refuses one request of private app `app` and returns the
    /// `X-HubSpot-RateLimit-*` headers to send. Search responses carry no rate-limit headers, as
    /// on HubSpot.
    func admit(app: Int = 0, isSearch: Bool, now arrivedAt: Int64) -> Decision {
        state.withLock { state in
            let now = max(arrivedAt, state.clock)
            state.clock = now
            var decision = decide(&state, app: app, isSearch: isSearch, now: now)
            decision.at = now
            return decision
        }
    }

    private func decide(_ state: inout State, app: Int, isSearch: Bool, now: Int64) -> Decision {
        rollDay(&state, now: now)
        let settings = state.settings
        if settings.dailyLimit > 0, state.dailyUsed >= settings.dailyLimit {
            state.refusals += 1
            return Decision(refusedBy: .daily, headers: isSearch ? [] : headers(&state, app: app, now: now))
        }
        if isSearch {
            if settings.searchPerSecondLimit > 0, !state.search.tryAdmit(at: now) {
                state.refusals += 1
                return Decision(refusedBy: .secondly, headers: [])
            }
        } else if settings.burstLimit > 0, !state.bursts[app, default: burstWindow(settings)].tryAdmit(at: now) {
            state.refusals += 1
            return Decision(refusedBy: .tenSecondlyRolling, headers: headers(&state, app: app, now: now))
        }
        state.dailyUsed += 1
        return Decision(refusedBy: nil, headers: isSearch ? [] : headers(&state, app: app, now: now))
    }

    private func burstWindow(_ settings: Settings) -> RollingWindowCounter {
        RollingWindowCounter(capacity: settings.burstLimit, windowMilliseconds: settings.burstIntervalMilliseconds)
    }

    /// A new day at the account's midnight (`dailyResetOffsetMilliseconds` from UTC).
    private func rollDay(_ state: inout State, now: Int64) {
        let day = (now + state.settings.dailyResetOffsetMilliseconds) / 86_400_000
        if day != state.day {
            state.day = day
            state.dailyUsed = 0
        }
    }

    /// The account's daily usage: calls counted today, and when the count resets (ms since 1970).
    func dailyUsage(now: Int64) -> (used: Int, resetsAt: Int64) {
        state.withLock { state in
            rollDay(&state, now: now)
            let offset = state.settings.dailyResetOffsetMilliseconds
            return (state.dailyUsed, (state.day + 1) * 86_400_000 - offset)
        }
    }

    /// Budget left now, for the admin API (the burst window of the main app).
    func snapshot(now: Int64) -> (burstUsed: Int, searchUsed: Int, dailyUsed: Int) {
        state.withLock { state in
            (
                state.settings.burstLimit > 0 ? state.bursts[0, default: burstWindow(state.settings)].used(at: now) : 0,
                state.settings.searchPerSecondLimit > 0 ? state.search.used(at: now) : 0,
                state.dailyUsed
            )
        }
    }

    private func headers(_ state: inout State, app: Int, now: Int64) -> [(String, String)] {
        let settings = state.settings
        var out: [(String, String)] = []
        if settings.burstLimit > 0 {
            let remaining = max(
                0, settings.burstLimit - state.bursts[app, default: burstWindow(settings)].used(at: now))
            let secondly = max(
                1, Int((Double(settings.burstLimit) * 1000 / Double(settings.burstIntervalMilliseconds)).rounded(.up)))
            out += [
                ("X-HubSpot-RateLimit-Max", String(settings.burstLimit)),
                ("X-HubSpot-RateLimit-Remaining", String(remaining)),
                ("X-HubSpot-RateLimit-Interval-Milliseconds", String(settings.burstIntervalMilliseconds)),
                // Still sent by HubSpot, no longer enforced.
                ("X-HubSpot-RateLimit-Secondly", String(secondly)),
                ("X-HubSpot-RateLimit-Secondly-Remaining", String(max(0, min(secondly, remaining)))),
            ]
        }
        if settings.dailyLimit > 0 {
            out += [
                ("X-HubSpot-RateLimit-Daily", String(settings.dailyLimit)),
                ("X-HubSpot-RateLimit-Daily-Remaining", String(max(0, settings.dailyLimit - state.dailyUsed))),
            ]
        }
        return out
    }
}
