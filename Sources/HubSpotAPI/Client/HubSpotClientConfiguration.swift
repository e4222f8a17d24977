import Foundation
import JSONCore
import Logging

/// Settings of a `HubSpotClient`.
public struct HubSpotClientConfiguration: Sendable {
    /// `https://api.hubapi.com`, or a simulator's URL.
    public var baseURL: String = "https://api.hubapi.com"
    /// Longest single HTTP exchange; the caller's deadline shortens it.
    public var requestTimeout: Duration = .seconds(30)
    /// How failed calls are retried.
    public var retryPolicy = HubSpotRetryPolicy()
    /// The path family of every call (`--hubspot-api-version`).
    public var apiVersion = HubSpotAPIVersion.current

    public init(baseURL: String = "https://api.hubapi.com") {
        self.baseURL = baseURL
    }
}

/// Per-call settings.
public struct CallOptions: Sendable {
    /// No attempt starts, and no retry waits, past this instant.
    public var deadline: ContinuousClock.Instant?
    /// Repeating the call is harmless even if HubSpot acted on an earlier attempt (reads,
    /// updates, upserts, archives are; plain creates are not unless the caller deduplicates).
    public var idempotent: Bool?

    public init(deadline: ContinuousClock.Instant? = nil, idempotent: Bool? = nil) {
        self.deadline = deadline
        self.idempotent = idempotent
    }
}

/// What one HTTP exchange with HubSpot looked like, for metrics and for the rate limiter.
public struct HubSpotExchange: Sendable {
    /// e.g. `objects.get`, `objects.batch.read`, `objects.search`.
    public var endpoint: String
    /// 0 when no answer came (transport error).
    public var status: Int
    public var duration: Duration
    public var rateLimit: RateLimitStatus
    /// A 429's `policyName` (`TEN_SECONDLY_ROLLING`, `SECONDLY`, `DAILY`).
    public var rateLimitPolicy: String?
    public var correlationId: String?
    /// 1 for the first attempt.
    public var attempt: Int
    /// A 401 the client answers by refreshing its OAuth token and trying again: not (yet)
    /// rejected credentials.
    public var refreshingToken = false
}
