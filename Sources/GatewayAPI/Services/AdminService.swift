import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// `hubspot.gateway.v1.AdminService`: what an operator asks first when the gateway is slow —
/// budget use, breaker state, cache hit ratio, Redis status, replica count.
public struct AdminService: Hubspot_Gateway_V1_AdminService.ServiceProtocol {
    private let upstream: HubSpotUpstream
    private let redisConfigured: Bool
    private let exports: RunningExports
    private let started = ContinuousClock.now

    private let metadata: CRMMetadata?
    private let serviceShares: [String: BudgetClaim.Share]

    /// - Parameters:
    ///   - metadata: what `FlushMetadata` flushes (nil: nothing to flush).
    ///   - serviceShares: the calling services' weights and quotas (`CallerKeys.shares`).
    public init(
        upstream: HubSpotUpstream, redisConfigured: Bool, exports: RunningExports = RunningExports(),
        metadata: CRMMetadata? = nil, serviceShares: [String: BudgetClaim.Share] = [:]
    ) {
        self.upstream = upstream
        self.redisConfigured = redisConfigured
        self.exports = exports
        self.metadata = metadata
        self.serviceShares = serviceShares
    }

    public func flushMetadata(request: ServerRequest<Hubspot_Gateway_V1_FlushMetadataRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_FlushMetadataResponse>
    {
        do {
            try await metadata?.flush()
        } catch {
            throw GatewayErrors.error(
                .gatewayStateUnavailable, "the metadata cache could not be flushed in Redis (\(error)); retry",
                retryAfter: GatewayFailure.unavailableRetryDelay)
        }
        return ServerResponse(message: .init())
    }

    public func getStatus(request: ServerRequest<Hubspot_Gateway_V1_GetStatusRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_GetStatusResponse>
    {
        let limiter = upstream.limiter
        let budget = await limiter.fleetBudget()
        let usage = budget.usage
        let uptime = ContinuousClock.now - started
        return ServerResponse(
            message: .with { status in
                status.budget = usage.map { bucket in
                    .with {
                        $0.bucket = bucket.bucket; $0.used = Int64(bucket.used); $0.limit = Int64(bucket.limit)
                    }
                }
                status.breaker =
                    switch upstream.breaker.currentState {
                    case .closed: .closed
                    case .halfOpen: .halfOpen
                    case .open: .open
                    }
                status.cacheHitRatio = upstream.cache.hitRatio ?? 0
                status.redis = !redisConfigured ? .notConfigured : limiter.mode == .redis ? .up : .fallback
                status.replicas = Int32(limiter.knownReplicaCount)
                status.uptime = Google_Protobuf_Duration(uptime)
                status.replicaID = limiter.replicaID
                status.hubspotApiVersion = upstream.apiVersion
                status.exports = exports.all.map { export in
                    .with {
                        $0.objectType = export.objectType
                        $0.records = Int64(export.records)
                        $0.hubspotCalls = Int64(export.hubSpotCalls)
                        $0.runningFor = Google_Protobuf_Duration(ContinuousClock.now - export.started)
                        $0.fullLoad = export.fullLoad?.text ?? ""
                    }
                }
                status.hubspot = .with { hubspot in
                    let view = budget.hubSpot
                    hubspot.max = Int32(view.max ?? 0)
                    hubspot.remaining = Int32(view.remaining ?? 0)
                    hubspot.interval = Google_Protobuf_Duration(.milliseconds(view.intervalMilliseconds ?? 0))
                    hubspot.dailyMax = Int64(view.dailyMax ?? 0)
                    hubspot.dailyRemaining = Int64(view.dailyRemaining ?? 0)
                    hubspot.othersPerInterval = view.othersPerInterval ?? 0
                    hubspot.othersToday = budget.othersToday ?? 0
                    hubspot.fleetRate = budget.fleetRate
                    if let end = view.dayEndsAt {
                        hubspot.dayEndsAt = Google_Protobuf_Timestamp(
                            seconds: end / 1000, nanos: Int32(end % 1000) * 1_000_000)
                    }
                    hubspot.timeZone = budget.timeZone ?? ""
                }
                let named = Set(budget.spendToday.keys).union(serviceShares.keys)
                status.serviceDays = named.sorted().map { service in
                    .with {
                        $0.service = service
                        $0.spent = budget.spendToday[service] ?? 0
                        $0.quota = Int64(serviceShares[service]?.dailyQuota ?? 0)
                    }
                }
                status.services = limiter.serviceStatistics.map { service in
                    .with {
                        $0.service = service.service
                        $0.weight = serviceShares[service.service]?.weight ?? 1
                        $0.calls = service.calls
                        $0.records = Int64(service.records)
                        $0.queued = Int32(service.queued)
                        $0.meanWait = Google_Protobuf_Duration(
                            service.grants > 0 ? service.waited / service.grants : .zero)
                        $0.refusedBudget = Int64(service.refusals[.budget] ?? 0)
                        $0.refusedHubspotPause = Int64(service.refusals[.hubSpotPause] ?? 0)
                        $0.refusedCallerShare = Int64(service.refusals[.callerShare] ?? 0)
                    }
                }
            })
    }
}

extension Google_Protobuf_Duration {
    init(_ duration: Duration) {
        self.init(
            seconds: duration.components.seconds, nanos: Int32(duration.components.attoseconds / 1_000_000_000))
    }
}
