/// Where the feed lives in Redis and how long it keeps what.
public struct ChangeFeedConfiguration: Sendable {
    /// Prefix of every key of the feed.
    public var keyPrefix = "hubspot-gateway:feed"
    /// How long events are kept (trimmed by age on every append).
    public var retention: Duration = .seconds(7 * 24 * 3600)
    /// Most events kept, whatever their age (approximate trimming; 0: no cap).
    public var maxLength = 1_000_000
    /// How long an event id is remembered to drop repeated deliveries (HubSpot retries for
    /// up to 24 hours).
    public var deduplicationWindow: Duration = .seconds(48 * 3600)
    /// Longest wait for a Redis command of the intake.
    public var redisTimeout: Duration = .seconds(2)

    public init() {}

    var streamKey: String { "\(keyPrefix):events" }
    var eventIdPrefix: String { "\(keyPrefix):seen:" }
    var requestPrefix: String { "\(keyPrefix):request:" }
}
