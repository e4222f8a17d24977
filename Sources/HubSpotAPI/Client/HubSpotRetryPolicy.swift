/// When and how long to wait before trying a HubSpot call again. The client never sleeps past
/// the caller's deadline; it gives up with the last error instead.
public struct HubSpotRetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int = 4
    /// First backoff for 5xx and connection errors; doubled each retry, with full jitter.
    public var baseDelay: Duration = .milliseconds(200)
    /// Cap of one backoff.
    public var maxDelay: Duration = .seconds(10)
    /// Wait after a `TEN_SECONDLY_ROLLING` 429 when HubSpot names no interval.
    public var tenSecondlyWait: Duration = .seconds(10)
    /// Wait after a `SECONDLY` 429 (search's limit).
    public var secondlyWait: Duration = .seconds(1)
    /// Statuses retried with backoff (HubSpot's transient ones).
    public var retryableStatuses: Set<Int> = [423, 477, 502, 503, 504, 524]

    public init() {}

    /// No retries at all.
    public static var none: HubSpotRetryPolicy {
        var policy = HubSpotRetryPolicy()
        policy.maxAttempts = 1
        return policy
    }

    /// What to do after a failed attempt.
    public enum Decision: Equatable, Sendable {
        case retry(after: Duration)
        case fail
    }

    /// How long to wait before retrying attempt number `attempt` (1-based), which failed with
    /// `error`; nil to give up: the policy says so, or the wait would reach `deadline`. The one
    /// retry decision of the client's loop and of the gateway's door.
    public func delay(
        after error: any Error, attempt: Int, idempotent: Bool, deadline: ContinuousClock.Instant?,
        now: ContinuousClock.Instant = .now
    ) -> Duration? {
        guard case .retry(let delay) = decide(after: error, attempt: attempt, idempotent: idempotent) else {
            return nil
        }
        if let deadline, now + delay >= deadline { return nil }
        return delay
    }

    /// Decides for attempt number `attempt` (1-based) that failed with `error`. `idempotent`
    /// says whether repeating the call is harmless even if HubSpot acted on the first one.
    public func decide(
        after error: any Error, attempt: Int, idempotent: Bool, jitter: Double = Double.random(in: 0...1)
    ) -> Decision {
        guard attempt < maxAttempts else { return .fail }
        if let error = error as? HubSpotError {
            if error.status == 429 {
                // A 429 changed nothing, so even a create may be repeated.
                if let retryAfter = error.retryAfter { return .retry(after: retryAfter) }
                switch error.policyName {
                case "DAILY": return .fail
                case "SECONDLY": return .retry(after: secondlyWait)
                default:
                    return .retry(
                        after: error.rateLimit.intervalMilliseconds.map { .milliseconds($0) } ?? tenSecondlyWait)
                }
            }
            guard retryableStatuses.contains(error.status) else { return .fail }
            // 423 and 477 mean HubSpot did not act; 5xx may have.
            guard idempotent || error.status == 423 || error.status == 477 else { return .fail }
            if let retryAfter = error.retryAfter { return .retry(after: retryAfter) }
            return .retry(
                after: backoff(attempt: attempt, jitter: jitter, floor: error.status == 423 ? .seconds(2) : .zero))
        }
        if let error = error as? CurlError {
            guard error.isConnectionFailure || error.isTimeout else { return .fail }
            guard idempotent || error.requestCertainlyNotSent else { return .fail }
            return .retry(after: backoff(attempt: attempt, jitter: jitter, floor: .zero))
        }
        return .fail
    }

    /// Full-jitter exponential backoff: a random share of `baseDelay × 2^(attempt-1)`, capped.
    func backoff(attempt: Int, jitter: Double, floor: Duration) -> Duration {
        let exponential = baseDelay * (1 << min(attempt - 1, 20))
        let capped = min(exponential, maxDelay)
        return max(floor, capped * min(max(jitter, 0), 1))
    }
}
