/// The gateway's domain: every CRM operation its APIs offer, in domain types, each through the
/// door (`HubSpotUpstream`: cache → coalescers → limiter → breaker → client). The gRPC services
/// and the REST routes only map their messages to these calls and their errors back.
public struct CRM: Sendable {
    public let records: Records
    public let associations: Associations
    public let metadata: CRMMetadata
    public let orders: Orders
    public let lists: CRMLists
    public let passthrough: Passthrough
    public let preferences: SubscriptionPreferences
    public let engagements: Engagements
    /// The door every operation goes through (its limiter, breaker and cache, for status and
    /// the change feed's invalidation).
    public let upstream: HubSpotUpstream

    /// - Parameters:
    ///   - metadataCache: where metadata is kept (default: this replica's memory only).
    ///   - preferencesCache: where subscription statuses are kept (default: this replica's memory).
    public init(
        upstream: HubSpotUpstream, metadataCache: MetadataCache = MetadataCache(redis: nil),
        preferencesCache: MetadataCache = MetadataCache(
            redis: nil, configuration: SubscriptionPreferences.defaultCacheConfiguration)
    ) {
        self.upstream = upstream
        metadata = CRMMetadata(upstream: upstream, cache: metadataCache)
        records = Records(upstream: upstream, metadata: metadata)
        orders = Orders(records: records)
        lists = CRMLists(upstream: upstream)
        passthrough = Passthrough(upstream: upstream)
        preferences = SubscriptionPreferences(upstream: upstream, cache: preferencesCache)
        associations = Associations(upstream: upstream, metadata: metadata)
        engagements = Engagements(upstream: upstream, records: records, associations: associations)
    }
}

/// Until when and at which priority an operation may wait for HubSpot's budget.
public struct CallTerms: Sendable {
    public var priority: CallPriority
    public var deadline: ContinuousClock.Instant

    public init(priority: CallPriority = .interactive, deadline: ContinuousClock.Instant) {
        self.priority = priority
        self.deadline = deadline
    }
}

/// Runs `body` with the client's errors translated to `CRMError`s.
func translatingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch { throw CRMError.translating(error) }
}
