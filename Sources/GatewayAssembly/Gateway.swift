import ChangeFeed
import Foundation
import GRPCCore
import GRPCNghttp2Transport
import GRPCStandardServices
import GatewayAPI
import GatewayCore
import GatewayProto
import GatewayREST
import HubSpotAPI
import Logging
import Metrics
import RedisClient
import ServiceLifecycle
import Synchronization
import Time
import WriteJobs

/// The gateway, assembled once: the door, the domain, the change feed, the write jobs and both
/// APIs, from one `GatewayConfiguration`. It hands out its gRPC services (health and reflection
/// name the others), its HTTP routes and its background services; whoever runs it (the
/// executable, a test rig, a benchmark) adds the listeners.
public final class Gateway: Sendable {
    public let configuration: GatewayConfiguration
    public let crm: CRM
    public let keys: CallerKeys
    /// The change feed (nil without Redis).
    public let feed: ChangeFeed?
    /// The write jobs' store (nil without Redis).
    public let jobStore: WriteJobStore?
    /// This replica's job workers (nil without Redis).
    public let jobWorkers: WriteJobWorkers?
    /// Every gRPC service, health and reflection included.
    public let grpcServices: [any RegistrableRPCService]
    /// The gRPC services' interceptors, outermost first.
    public let interceptors: [any ServerInterceptor]
    /// Health, for the gRPC server's drain (NOT_SERVING on shutdown).
    public let health: HealthService
    /// The fully qualified names of the gateway's own gRPC services.
    public let serviceNames: [String]
    /// What must run beside the listeners, in start order (stopped last to first).
    public let services: [any Service]
    public let readiness: Readiness
    let redis: RedisClient?
    let webhooks: Mutex<WebhookIntakeConfiguration>
    let logger: Logger
    /// The portal this fleet serves, and the intakes' filter of other portals' events.
    public let portal: HubSpotPortal
    let portals: PortalFilter

    /// - Parameters:
    ///   - redis: the fleet's shared state Redis, which never evicts (nil: this replica limits and
    ///     caches alone, and has no change feed, write jobs or idempotency).
    ///   - durableRedis: the connections for acknowledged writes (feed events, job records),
    ///     which wait for replicas; `redis` when none are awaited.
    ///   - cacheRedis: the caches' Redis, which may evict (nil: `redis`).
    ///   - accessLogger: where the access log goes (default: `logger`).
    ///   - metricsFactory: where the RPCs' metrics go (default: the bootstrapped one).
    public init(
        configuration: GatewayConfiguration, credentials: HubSpotCredentials,
        developer: ClientCredentials? = nil, keys: CallerKeys, redis: RedisClient?,
        durableRedis: RedisClient? = nil, cacheRedis: RedisClient? = nil, transport: CurlTransport,
        replicaID: String = UUID().uuidString,
        metrics: GatewayMetrics = GatewayMetrics(), time: TimeSource = .system, logger: Logger,
        accessLogger: Logger? = nil, metricsFactory: (any MetricsFactory)? = nil
    ) throws {
        let readiness = Readiness()
        let crm = CRM(
            door: configuration.door, credentials: credentials, developer: developer, redis: redis,
            cacheRedis: cacheRedis, transport: transport, replicaID: replicaID, metrics: metrics, time: time,
            observer: readiness.observe,
            logger: logger)
        let durableRedis = durableRedis ?? redis
        let feed = durableRedis.map { ChangeFeed(redis: $0, configuration: configuration.feed) }
        let jobStore = durableRedis.map { WriteJobStore(redis: $0, configuration: configuration.jobs) }
        let jobWorkers = jobStore.map {
            WriteJobWorkers(store: $0, crm: crm, replicaID: replicaID, logger: logger, metricsFactory: metricsFactory)
        }
        let idempotentWrites = redis.map { IdempotentWrites(redis: $0, configuration: configuration.idempotency) }
        let drain = SubscriptionDrain()
        let exports = RunningExports()
        let timeout = configuration.defaultTimeout
        let own: [any RegistrableRPCService] = [
            ContactsService(crm: crm, defaultTimeout: timeout, idempotentWrites: idempotentWrites),
            DealsService(crm: crm, defaultTimeout: timeout, idempotentWrites: idempotentWrites),
            ObjectsService(
                crm: crm, defaultTimeout: timeout, exports: configuration.exports, running: exports,
                idempotentWrites: idempotentWrites),
            AssociationsService(crm: crm, defaultTimeout: timeout),
            ChangesService(feed: feed, configuration: configuration.changes, drain: drain, logger: logger),
            MetadataService(crm: crm, defaultTimeout: timeout), ListsService(crm: crm, defaultTimeout: timeout),
            JobsService(store: jobStore, watchInterval: configuration.jobWatchInterval),
            PassthroughService(crm: crm, defaultTimeout: timeout),
            CommunicationPreferencesService(crm: crm, defaultTimeout: timeout),
            EngagementsService(crm: crm, defaultTimeout: timeout, idempotentWrites: idempotentWrites),
            AdminService(
                upstream: crm.upstream, redisConfigured: redis != nil, exports: exports, metadata: crm.metadata,
                serviceShares: keys.shares),
        ]
        // Health and reflection name what the services register, so none can be left out.
        let serviceNames = Self.serviceNames(of: own)
        let health = HealthService(servingServices: serviceNames)
        let reflection = try ReflectionService(
            descriptorSetsBase64: [
                GatewayProtoDescriptors.fileDescriptorSetBase64,
                GRPCStandardServicesDescriptors.fileDescriptorSetBase64,
            ],
            services: serviceNames + [
                "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ])
        self.grpcServices = own + [health, reflection, reflection.v1alpha]
        // The tracing interceptor only when traces are exported: without a tracer its
        // extraction and wrapping would cost every RPC for nothing.
        self.interceptors =
            [
                RequestObservationInterceptor(
                    accessLog: configuration.accessLog, logger: accessLogger ?? logger,
                    metricsFactory: metricsFactory, isClientFault: { $0 is MalformedRequest })
            ] + (configuration.tracing ? [TracingInterceptor()] : [])
            + [
                CallerAuthenticationInterceptor(
                    keys: keys, trustsCertificateIdentity: configuration.trustsCertificateIdentity, logger: logger)
            ]

        let portal = HubSpotPortal(configuration.portalId)
        let portals = PortalFilter(portal: portal, logger: logger, metrics: metricsFactory)
        var services: [any Service] = [
            crm.upstream.limiter, crm.upstream.cache, drain,
            AccountDayFollower(
                upstream: crm.upstream, configuration: configuration.accountDay, time: time, portal: portal,
                logger: logger),
        ]
        if let redis {
            services.append(
                RedisPrefixClaim(
                    redis: redis, prefix: configuration.keyPrefix, portal: portal, readiness: readiness,
                    logger: logger))
        }
        if let feed {
            services.append(
                FeedInvalidator(
                    feed: feed, cache: crm.upstream.cache, consumer: replicaID,
                    configuration: configuration.invalidation, logger: logger))
        }
        if let feed, let redis {
            func lease(_ name: String, _ timeToLive: Duration) -> FeedLease {
                FeedLease(name: name, redis: redis, keyPrefix: configuration.leaseKeyPrefix, timeToLive: timeToLive)
            }
            if !configuration.reconciler.objectTypes.isEmpty {
                services.append(
                    Reconciler(
                        crm: crm, feed: feed, lease: lease("reconciler", configuration.reconcilerLease),
                        replica: replicaID, configuration: configuration.reconciler, logger: logger))
            }
            if !configuration.journal.objectTypes.isEmpty, crm.upstream.hasDeveloperClient {
                // After an expired offset the reconciler publishes again what the journal lost:
                // its passes run here when no replica runs the reconciler.
                var catchingUp = configuration.reconciler
                catchingUp.objectTypes = configuration.journal.objectTypes
                let reconciler = Reconciler(
                    crm: crm, feed: feed, lease: lease("reconciler", configuration.reconcilerLease),
                    replica: replicaID, configuration: catchingUp, logger: logger)
                let types = catchingUp.objectTypes
                services.append(
                    JournalReader(
                        upstream: crm.upstream, feed: feed, lease: lease("journal", configuration.journalLease),
                        replica: replicaID, configuration: configuration.journal,
                        catchUp: { since in _ = try await reconciler.catchUp(types: types, from: since) },
                        portals: portals, logger: logger))
            }
        }
        if let jobWorkers, configuration.jobs.workersPerReplica > 0 { services.append(jobWorkers) }

        self.configuration = configuration
        self.crm = crm
        self.keys = keys
        self.feed = feed
        self.jobStore = jobStore
        self.jobWorkers = jobWorkers
        self.health = health
        self.serviceNames = serviceNames
        self.services = services
        self.readiness = readiness
        self.redis = redis
        self.webhooks = Mutex(configuration.webhooks)
        self.logger = logger
        self.portal = portal
        self.portals = portals
    }

    /// The fully qualified names of the gRPC services `services` serve, read from the methods
    /// they register (sorted, each once).
    public static func serviceNames(of services: [any RegistrableRPCService]) -> [String] {
        var router = RPCRouter<Nghttp2ServerTransport>()
        for service in services { service.registerMethods(with: &router) }
        return Set(router.methods.map(\.service.fullyQualifiedService)).sorted()
    }

    /// The webhook URL HubSpot signs, when it is known only once the HTTP server listens (the
    /// sandbox's simulator).
    public func setWebhookPublicURL(_ url: String) { webhooks.withLock { $0.publicURL = url } }

    /// Whether the gateway can serve (nil), or what is wrong.
    public var readinessProblem: String? {
        readiness.problem(redis: redis, limiter: crm.upstream.limiter)
    }
}

/// Whether the gateway can serve: HubSpot has not rejected its credentials since the last
/// accepted call, and the budget can be decided (Redis reachable or the local fallback on).
/// Only a 401 that a token refresh did not cure counts: a 403 (a scope missing for one object
/// type) fails that call alone and leaves readiness be.
public final class Readiness: Sendable {
    private let credentialsRejected = Mutex(false)

    func observe(_ exchange: HubSpotExchange) {
        let status = exchange.status
        if status == 401, !exchange.refreshingToken {
            credentialsRejected.withLock { $0 = true }
        } else if (200..<300).contains(status) {
            credentialsRejected.withLock { $0 = false }
        }
    }

    private let prefixTaken = Mutex<String?>(nil)

    /// Another portal's fleet keeps its state under this fleet's Redis prefix.
    func prefixClaimedByAnother(_ why: String) { prefixTaken.withLock { $0 = why } }

    func problem(redis: RedisClient?, limiter: FixedWindowRateLimiter) -> String? {
        if credentialsRejected.withLock({ $0 }) { return "HubSpot rejected the gateway's credentials" }
        if let why = prefixTaken.withLock({ $0 }) { return why }
        if let redis, !redis.health.isUp, limiter.mode == .redis {
            return "Redis unreachable and the local fallback not yet active"
        }
        return nil
    }
}
