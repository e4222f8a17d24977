import Foundation
import Logging
import RedisClient
import Synchronization
import Time

/// Decisions without Redis: this replica's share of the budget, on its own clock.
extension FixedWindowRateLimiter {
    // MARK: Local fallback

    func decideLocally(_ kind: UpstreamCallKind, _ priority: CallPriority) -> Decision {
        let now = time.now
        let wall = time.wallMilliseconds
        return state.withLock { state in
            if let pause = state.localPauseUntil[kind], pause > now { return .wait(pause - now, .hubSpotPause) }
            let replicas = redis == nil ? 1 : state.replicas
            if redis != nil { state.mode = .local(replicas: replicas) }
            if configuration.dailyLimit > 0,
                case .wait(let wait, _) = state.local.peekDaily(
                    limit: max(1, configuration.dailyLimit / replicas), wallClock: wall)
            {
                return .wait(wait)
            }
            let decision: Decision
            switch kind {
            case .general:
                // This replica's share of the second; a share under 1 becomes one call per
                // ⌈1/share⌉ seconds.
                let adapted =
                    state.view.fleetRate(configuration, now: wall) / Double(max(1, configuration.generalPerSecond))
                let share =
                    Double(configuration.perWindowLimit(.general, priority)) * min(1, adapted) / Double(replicas)
                let windowMs = share >= 1 ? 1000 : Int64((1 / share).rounded(.up)) * 1000
                decision = state.local.take(
                    .general, limit: share >= 1 ? Int(share) : 1, windowMilliseconds: windowMs, wallClock: wall)
            case .search:
                // Spaced calls: at most one per replica in any rolling second, and no more
                // than the replica's share on average.
                let spacing = max(
                    1000,
                    Int64(configuration.windowMilliseconds(.search)) * Int64(replicas) * (priority == .bulk ? 2 : 1))
                decision = state.local.space(.search, spacingMilliseconds: spacing, wallClock: wall)
            }
            if case .granted = decision, configuration.dailyLimit > 0 { state.local.day.count += 1 }
            return decision
        }
    }

    /// Per-replica windows on the wall clock (aligned with the fleet's windows).
    struct LocalWindows {
        var windows: [UpstreamCallKind: (start: Int64, count: Int)] = [:]
        var lastGrant: [UpstreamCallKind: Int64] = [:]
        var day: (start: Int64, count: Int) = (0, 0)

        mutating func take(_ kind: UpstreamCallKind, limit: Int, windowMilliseconds: Int64, wallClock: Int64)
            -> Decision
        {
            let start = wallClock - wallClock % windowMilliseconds
            var window = windows[kind] ?? (start, 0)
            if window.start != start { window = (start, 0) }
            guard window.count < limit else {
                return .wait(.milliseconds(max(1, start + windowMilliseconds - wallClock)))
            }
            window.count += 1
            windows[kind] = window
            return .granted(RateLimitGrant(window: Int(start / 1000), local: true))
        }

        mutating func space(_ kind: UpstreamCallKind, spacingMilliseconds: Int64, wallClock: Int64) -> Decision {
            if let last = lastGrant[kind], wallClock - last < spacingMilliseconds {
                return .wait(.milliseconds(max(1, last + spacingMilliseconds - wallClock)))
            }
            lastGrant[kind] = wallClock
            return .granted(RateLimitGrant(window: Int(wallClock / 1000), local: true))
        }

        /// Whether the day has room (rolling the day over at UTC midnight); counts nothing.
        mutating func peekDaily(limit: Int, wallClock: Int64) -> Decision {
            let start = wallClock - wallClock % 86_400_000
            if day.start != start { day = (start, 0) }
            guard day.count < limit else { return .wait(.milliseconds(max(1, start + 86_400_000 - wallClock))) }
            return .granted(RateLimitGrant(window: nil, local: true))
        }
    }
}
