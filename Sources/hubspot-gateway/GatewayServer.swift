import Foundation
import GatewayAPI
import GatewayCore
import GatewayProto
import GatewayREST
import ChangeFeed
import GRPCCore
import GRPCNghttp2Transport
import GRPCStandardServices
import GatewayTracing
import Tracing
import HubSpotAPI
import HTTPTypes
import HubSpotSimulator
import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus
import RedisClient
import ServiceLifecycle
import Synchronization
import UnixSignals
import WriteJobs

/// Assembles the gateway from its options and runs it in a ServiceGroup: the gRPC server, the
/// HTTP endpoints, the limiter's heartbeats (and in sandbox mode the simulator). SIGTERM drains
/// gracefully: health NOT_SERVING, GOAWAY, in-flight RPCs finish, exit 0.
struct GatewayServer {
    let options: HubSpotGatewayCommand
    let logger: Logger
    /// Made when `--otlp-endpoint` is set: traces go there (off by default).
    /// The fully qualified names of the gRPC services `services` serve, read from the methods
    /// they register (sorted, each once).
    static func serviceNames(of services: [any RegistrableRPCService]) -> [String] {
        var router = RPCRouter<Nghttp2ServerTransport>()
        for service in services { service.registerMethods(with: &router) }
        return Set(router.methods.map(\.service.fullyQualifiedService)).sorted()
    }

    func makeTraceExporter() -> OTLPExporter? {
        options.otlpEndpoint.map { endpoint in
            var configuration = OTLPExporter.Configuration(endpoint: endpoint)
            configuration.exportInterval = .milliseconds(options.otlpExportIntervalMilliseconds)
            configuration.maxQueueSize = options.otlpMaxQueuedSpans
            configuration.resource.append(("service.instance.id", ProcessInfo.processInfo.hostName))
            return OTLPExporter(configuration: configuration, logger: logger)
        }
    }

    func run() async throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let traceExporter = makeTraceExporter()
        if let traceExporter {
            InstrumentationSystem.bootstrap(OTLPTracer(exporter: traceExporter, sampleRatio: options.otlpSampleRatio))
        }
        if options.sandbox {
            var simulator = SimulatorConfiguration()
            simulator.seedContacts = 200
            simulator.dailyLimit = 0
            var quiet = logger
            quiet.logLevel = .warning
            try await HubSpotSimulator.withRunning(simulator, logger: quiet) { sandbox, baseURL in
                try await serve(
                    baseURL: baseURL, credentials: .privateAppToken(Secret(simulator.token)), registry: registry,
                    sandbox: sandbox, traceExporter: traceExporter)
            }
        } else {
            let credentials: HubSpotCredentials
            if let token = options.hubspotToken {
                credentials = .privateAppToken(Secret(token))
            } else {
                credentials = .oauth(
                    OAuthCredentials(
                        clientId: options.hubspotClientId!, clientSecret: Secret(options.hubspotClientSecret!),
                        refreshToken: Secret(options.hubspotRefreshToken!)))
            }
            try await serve(
                baseURL: options.hubspotBaseUrl, credentials: credentials, registry: registry,
                traceExporter: traceExporter)
        }
    }

    private func callerKeys() throws -> CallerKeys {
        if let path = options.callerKeysFile {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw GatewayStartError("cannot read the caller keys file \(path): \(error.localizedDescription)")
            }
            return try CallerKeys(parsing: text)
        }
        if let text = options.callerKeys {
            return try CallerKeys(parsing: text.replacingOccurrences(of: ";", with: "\n"))
        }
        // Sandbox without keys: one development key, printed for the developer.
        let key = "dev-" + UUID().uuidString.lowercased()
        FileHandle.standardOutput.write(
            Data(
                """
                hubspot-gateway sandbox: development caller key (scopes crm.read, crm.write, changes.read, admin):
                  authorization: Bearer \(key)

                """.utf8))
        return CallerKeys(service: "sandbox-developer", key: key, scopes: [.read, .write, .changesRead, .admin])
    }

    private func serve(
        baseURL: String, credentials: HubSpotCredentials, registry: PrometheusCollectorRegistry,
        sandbox: HubSpotSimulator? = nil, traceExporter: OTLPExporter?
    ) async throws {
        let keys = try callerKeys()
        let metrics = GatewayMetrics()
        let redis: RedisClient? = try options.redisUrl.map { url in
            var configuration = try RedisConfiguration(url: url)
            configuration.commandTimeout = .milliseconds(Int64(options.redisTimeoutMilliseconds))
            try options.applyRedisTLS(to: &configuration)
            configuration.sentinelPassword = options.redisSentinelPassword
            configuration.durableReplicas = options.redisDurableReplicas
            configuration.durableTimeout = .milliseconds(options.redisDurableTimeoutMilliseconds)
            return RedisClient(configuration: configuration, logger: logger)
        }
        // Acknowledged writes (feed events, job records) WAIT for replicas; on connections of
        // their own, so a slow replica never holds up the limiter's and the cache's commands.
        let durableRedis: RedisClient? =
            options.redisDurableReplicas > 0
            ? redis.map { RedisClient(configuration: $0.configuration, logger: logger) } : redis
        var limits = RateLimiterConfiguration()
        limits.generalPerSecond = options.generalPerSecond
        limits.searchPerSecond = options.searchPerSecond
        limits.dailyLimit = options.dailyLimit
        limits.interactiveReserve = options.interactiveReserve
        limits.reserveHeldFor = .milliseconds(options.reserveHeldMilliseconds)
        limits.fairShareRetry = .milliseconds(options.fairShareRetryMilliseconds)
        limits.fairShareWaitingMargin = .milliseconds(options.fairShareWaitingMarginMilliseconds)
        limits.fairShareCredit = options.fairShareCredit
        limits.earlyRefusal = options.earlyRefusalShare > 0
        limits.earlyRefusalShare = options.earlyRefusalShare
        limits.callReserve = .milliseconds(options.callReserveMilliseconds)
        limits.redisTimeout = .milliseconds(Int64(options.redisTimeoutMilliseconds))
        let limiter = FixedWindowRateLimiter(redis: redis, configuration: limits, metrics: metrics, logger: logger)
        var breakerConfiguration = CircuitBreaker.Configuration()
        breakerConfiguration.minimumFailures = options.breakerMinimumFailures
        breakerConfiguration.failureRateThreshold = options.breakerFailureRate
        breakerConfiguration.window = .milliseconds(Int64(options.breakerWindowSeconds * 1000))
        breakerConfiguration.openInterval = .milliseconds(Int64(options.breakerOpenSeconds * 1000))
        var cacheConfiguration = ObjectCache.Configuration()
        cacheConfiguration.ttl = .milliseconds(Int64(options.cacheTtlSeconds * 1000))
        cacheConfiguration.staleTTL = .milliseconds(Int64(options.cacheStaleSeconds * 1000))
        cacheConfiguration.notFoundTTL = .milliseconds(Int64(options.cacheNotFoundSeconds * 1000))
        cacheConfiguration.redisTimeout = .milliseconds(Int64(options.redisTimeoutMilliseconds))
        cacheConfiguration.nearTTL = .milliseconds(Int64(options.cacheNearTtlSeconds * 1000))
        cacheConfiguration.pendingInvalidationRetryInterval = .milliseconds(
            Int64(max(1, options.cachePendingRetryMilliseconds)))
        cacheConfiguration.pendingInvalidationCapacity = max(1, options.cachePendingCapacity)

        let readiness = Readiness()
        let observe = HubSpotUpstream.observer(for: limiter, metrics: metrics)
        let transport = CurlTransport()
        defer { transport.shutdown() }
        var clientConfiguration = HubSpotClientConfiguration(baseURL: baseURL)
        clientConfiguration.requestTimeout = .milliseconds(Int64(options.hubspotRequestTimeoutSeconds * 1000))
        let client = HubSpotClient(
            transport: transport, credentials: credentials, configuration: clientConfiguration, logger: logger
        ) { exchange in
            observe(exchange)
            readiness.observe(exchange)
        }
        let cache = ObjectCache(redis: redis, configuration: cacheConfiguration, metrics: metrics, logger: logger)
        let upstream = HubSpotUpstream(
            client: client, limiter: limiter,
            breaker: CircuitBreaker(configuration: breakerConfiguration, metrics: metrics, logger: logger),
            cache: cache, metrics: metrics, logger: logger)

        // Change feed: webhooks in, invalidation, the stream out (in Redis).
        var feedConfiguration = ChangeFeedConfiguration()
        feedConfiguration.retention = .milliseconds(Int64(options.feedRetentionHours * 3_600_000))
        feedConfiguration.maxLength = max(0, options.feedMaxLength)
        feedConfiguration.deduplicationWindow = .milliseconds(Int64(options.feedDedupeHours * 3_600_000))
        let feed = durableRedis.map { ChangeFeed(redis: $0, configuration: feedConfiguration) }
        var intake = WebhookIntakeConfiguration()
        intake.path = options.webhookPath
        intake.publicURL = options.webhookPublicUrl
        intake.clientSecrets =
            options.webhookSecrets?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty } ?? []
        intake.signatureVersions = Set(
            options.webhookSignatureVersions.split(separator: ",").compactMap {
                WebhookIntakeConfiguration.SignatureVersion(rawValue: $0.trimmingCharacters(in: .whitespaces))
            })
        intake.maxAge = .milliseconds(Int64(options.webhookMaxAgeSeconds * 1000))
        intake.maxBodyBytes = options.webhookMaxBodyBytes
        // The sandbox's simulator signs with a secret made now, for the URL known once HTTP listens.
        let sandboxSecret = sandbox.map { _ in "sandbox-" + UUID().uuidString.lowercased() }
        if let sandboxSecret { intake.clientSecrets = [sandboxSecret] }
        let intakeConfiguration = Mutex(intake)
        var invalidation = FeedInvalidator.Configuration()
        invalidation.claimAfter = .milliseconds(Int64(options.feedInvalidationClaimSeconds * 1000))
        var changesConfiguration = ChangesService.Configuration()
        changesConfiguration.visibilityTimeout = .milliseconds(Int64(options.changesVisibilityTimeoutSeconds * 1000))
        changesConfiguration.stallTimeout = .milliseconds(Int64(options.changesStallTimeoutSeconds * 1000))
        let drain = SubscriptionDrain()

        // gRPC
        let timeout = Duration.milliseconds(Int64(options.defaultTimeoutSeconds * 1000))
        var metadataConfiguration = MetadataCache.Configuration()
        metadataConfiguration.ttl = .seconds(Int64(options.metadataTtlSeconds))
        let crm = CRM(
            upstream: upstream,
            metadataCache: MetadataCache(redis: redis, configuration: metadataConfiguration, logger: logger))
        var grpcConfiguration = Nghttp2ServerTransportConfiguration(host: options.host, port: options.grpcPort)
        grpcConfiguration.shutdownGracePeriod = .milliseconds(Int64(options.shutdownGraceSeconds * 1000))
        grpcConfiguration.maxConnectionAge =
            options.maxConnectionAgeSeconds > 0 ? .milliseconds(Int64(options.maxConnectionAgeSeconds * 1000)) : nil
        let tlsContext = try options.grpcTLSContext(logger: logger)
        if let tlsContext {
            grpcConfiguration.tls = .init(
                context: { tlsContext.current }, clientIdentityMetadataKey: CallerAuthenticationInterceptor.identityKey)
        }
        let grpcTransport = Nghttp2ServerTransport(configuration: grpcConfiguration, logger: logger)
        var exportConfiguration = ExportConfiguration()
        exportConfiguration.settle = .milliseconds(Int64(options.exportSettleSeconds * 1000))
        exportConfiguration.callsPerSecond = options.exportCallsPerSecond
        exportConfiguration.callTimeout = .milliseconds(Int64(options.exportCallTimeoutSeconds * 1000))
        let runningExports = RunningExports()
        var idempotency = IdempotentWrites.Configuration()
        idempotency.retention = .seconds(Int64(options.idempotencyRetentionHours * 3600))
        let idempotentWrites = redis.map { IdempotentWrites(redis: $0, configuration: idempotency) }
        var jobs = WriteJobsConfiguration()
        jobs.maxRecords = options.jobMaxRecords
        jobs.retention = .seconds(Int64(options.jobRetentionHours * 3600))
        jobs.visibilityTimeout = .milliseconds(Int64(options.jobVisibilityTimeoutSeconds * 1000))
        jobs.callTimeout = .milliseconds(Int64(options.jobCallTimeoutSeconds * 1000))
        jobs.workersPerReplica = options.jobWorkers
        jobs.maxBatchAttempts = max(1, options.jobMaxBatchAttempts)
        jobs.importThreshold = max(0, options.jobImportThreshold)
        jobs.importPollInterval = .milliseconds(Int64(max(0.05, options.jobImportPollSeconds) * 1000))
        jobs.importTimeout = .milliseconds(Int64(options.jobImportTimeoutSeconds * 1000))
        let jobStore = durableRedis.map { WriteJobStore(redis: $0, configuration: jobs) }
        let gatewayServices: [any RegistrableRPCService] = [
            ContactsService(crm: crm, defaultTimeout: timeout, idempotentWrites: idempotentWrites),
            DealsService(crm: crm, defaultTimeout: timeout, idempotentWrites: idempotentWrites),
            ObjectsService(
                crm: crm, defaultTimeout: timeout, exports: exportConfiguration, running: runningExports,
                idempotentWrites: idempotentWrites),
            AssociationsService(crm: crm, defaultTimeout: timeout),
            ChangesService(feed: feed, configuration: changesConfiguration, drain: drain, logger: logger),
            MetadataService(crm: crm, defaultTimeout: timeout), ListsService(crm: crm, defaultTimeout: timeout),
            JobsService(store: jobStore),
            AdminService(
                upstream: upstream, redisConfigured: redis != nil, exports: runningExports, metadata: crm.metadata,
                serviceWeights: keys.weights),
        ]
        // Health and reflection name what the services register, so none can be left out.
        let serviceNames = Self.serviceNames(of: gatewayServices)
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
        let server = GRPCServer(
            transport: grpcTransport,
            services: gatewayServices + [health, reflection, reflection.v1alpha],
            // The tracing interceptor only when traces are exported: without a tracer its
            // extraction and wrapping would cost every RPC for nothing.
            interceptors: [
                RequestObservationInterceptor(
                    accessLog: RequestObservationInterceptor.AccessLog(rawValue: options.accessLog) ?? .errors,
                    logger: logger,
                    isClientFault: { $0 is MalformedRequest })
            ] + (traceExporter == nil ? [] : [TracingInterceptor()]) + [
                CallerAuthenticationInterceptor(
                    keys: keys, trustsCertificateIdentity: tlsContext?.files.clientCA != nil, logger: logger)
            ])

        // HTTP: health, readiness, metrics
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: HubSpotErrorMiddleware())
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let problem = readiness.problem(redis: redis, limiter: limiter)
            return Response(
                status: problem == nil ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: (problem ?? "ready") + "\n")))
        }
        if let feed, !intake.clientSecrets.isEmpty, options.webhookIntake {
            router.post(RouterPath(options.webhookPath)) { request, context -> Response in
                let intake = WebhookIntake(
                    configuration: intakeConfiguration.withLock { $0 }, feed: feed, logger: logger)
                let answer: WebhookIntake.Answer
                do {
                    var request = request
                    let body = try await request.collectBody(upTo: intake.configuration.maxBodyBytes)
                    answer = await intake.handle(
                        method: "POST", query: request.uri.query ?? "",
                        header: { name in HTTPField.Name(name).flatMap { request.headers[$0] } },
                        body: Array(buffer: body))
                } catch {
                    answer = intake.tooLarge()
                }
                return Response(
                    status: .init(code: answer.status), headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: answer.body)))
            }
        }
        // HubSpot's own REST paths, for services that keep their HubSpot SDK (docs/rest.md).
        var restConfiguration = RESTConfiguration()
        restConfiguration.defaultTimeout = .milliseconds(Int64(options.restDefaultTimeoutSeconds * 1000))
        restConfiguration.accessLog = AccessLogPolicy(rawValue: options.accessLog) ?? .errors
        restConfiguration.maxBodyBytes = options.restMaxBodyBytes
        let rest = CRMObjectRoutes(crm: crm, keys: keys, configuration: restConfiguration)
        rest.register(on: router, logger: logger)
        rest.registerOpenAPI(on: router)
        let scrapeTime = ScrapeTimeMetrics(limiter: limiter, feed: feed)
        router.get("metrics") { _, _ -> Response in
            await scrapeTime.update()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        let http = Application(
            router: router,
            configuration: .init(
                address: .hostname(options.host, port: options.httpPort), serverName: "hubspot-gateway"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                FileHandle.standardOutput.write(Data("hubspot-gateway http listening on \(port)\n".utf8))
                if let sandbox, let sandboxSecret {
                    let url = "http://127.0.0.1:\(port)\(options.webhookPath)"
                    intakeConfiguration.withLock { $0.publicURL = url }
                    var webhooks = WebhookConfiguration(targetURL: url, clientSecret: sandboxSecret)
                    webhooks.retryBaseDelay = .milliseconds(500)
                    try? sandbox.deliverWebhooks(to: webhooks)
                    FileHandle.standardOutput.write(
                        Data(
                            (feed == nil
                                ? "hubspot-gateway sandbox: the simulator's webhooks need --redis-url to reach ChangesService/Subscribe (the feed lives in Redis)\n"
                                : "hubspot-gateway sandbox: the simulator delivers its webhooks to \(url); ChangesService/Subscribe (scope changes.read) shows every change, including your writes\n")
                                .utf8))
                }
            }, logger: logger)

        let heartbeats = HeartbeatService(limiter: limiter)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let feed, let redis, !options.reconcileTypes.isEmpty {
            var reconciling = ReconcilerConfiguration()
            reconciling.objectTypes = options.reconcileTypes.split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            reconciling.interval = .milliseconds(Int64(options.reconcileIntervalSeconds * 1000))
            reconciling.lookback = .milliseconds(Int64(options.reconcileLookbackSeconds * 1000))
            reconciling.deletionsInterval = .milliseconds(Int64(options.reconcileDeletionsIntervalSeconds * 1000))
            reconciling.callsPerSecond = options.reconcileCallsPerSecond
            reconciling.comparedProperties =
                (try? HubSpotGatewayCommand.comparedProperties(options.reconcileProperties)) ?? [:]
            let lease = FeedLease(
                name: "reconciler", redis: redis,
                timeToLive: .milliseconds(Int64(options.reconcileLeaseSeconds * 1000)))
            let reconciler = Reconciler(
                crm: crm, feed: feed, lease: lease, replica: limiter.replicaID,
                configuration: reconciling, logger: logger)
            services.append(
                .init(service: ReconcilerService(reconciler: reconciler), successTerminationBehavior: .ignore))
        }
        if let feed, let redis, !options.journalTypes.isEmpty, let clientId = options.journalClientId,
            let secret = options.journalClientSecret
        {
            services.append(
                .init(
                    service: JournalReaderService(
                        reader: journalReader(
                            clientId: clientId, secret: secret, baseURL: baseURL, transport: transport,
                            clientConfiguration: clientConfiguration, observe: observe, upstream: upstream, crm: crm,
                            feed: feed, redis: redis, replica: limiter.replicaID)),
                    successTerminationBehavior: .ignore))
        }
        if let jobStore, options.jobWorkers > 0 {
            services.append(
                .init(
                    service: WriteJobWorkers(store: jobStore, crm: crm, replicaID: limiter.replicaID, logger: logger),
                    successTerminationBehavior: .ignore))
        }
        if let tlsContext {
            services.append(
                .init(
                    service: TLSReloadService(
                        context: tlsContext, interval: .milliseconds(Int64(options.tlsReloadSeconds * 1000)),
                        logger: logger),
                    successTerminationBehavior: .ignore))
        }
        if let feed {
            let invalidator = FeedInvalidator(
                feed: feed, cache: cache, consumer: limiter.replicaID, configuration: invalidation, logger: logger)
            services.append(
                .init(service: FeedInvalidationService(invalidator: invalidator), successTerminationBehavior: .ignore))
        }
        // The exporter first: the group shuts services down last to first, so it sends the
        // spans of the final requests after the servers have drained.
        let exporting: [ServiceGroupConfiguration.ServiceConfiguration] =
            traceExporter.map { [.init(service: $0, successTerminationBehavior: .ignore)] } ?? []
        let group = ServiceGroup(
            configuration: .init(
                services: exporting + [
                    .init(
                        service: GRPCServerService(server: server, health: health),
                        successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: http),
                    // These three end at once without Redis.
                    .init(service: heartbeats, successTerminationBehavior: .ignore),
                    .init(service: InvalidationListenerService(cache: cache), successTerminationBehavior: .ignore),
                    .init(service: PendingInvalidationService(cache: cache), successTerminationBehavior: .ignore),
                    .init(service: SubscriptionDrainService(drain: drain), successTerminationBehavior: .ignore),
                ] + services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
        let announce = Task {
            if let address = try? await grpcTransport.listeningAddress {
                FileHandle.standardOutput.write(
                    Data("hubspot-gateway grpc listening on \(address.port ?? options.grpcPort)\n".utf8))
            }
        }
        defer { announce.cancel() }
        logger.info(
            "hubspot-gateway starting",
            metadata: [
                "hubspot": "\(options.sandbox ? "sandbox simulator" : baseURL)",
                "redis": "\(redis == nil ? "none (local limiter and cache)" : "configured")",
                "callers": "\(keys.services.joined(separator: ","))", "credentials": "\(credentials)",
            ])
        // The Redis clients close once, after the group, whether it ended or failed.
        var failure: (any Error)?
        do { try await group.run() } catch { failure = error }
        await redis?.shutdown()
        if durableRedis !== redis { await durableRedis?.shutdown() }
        if let failure { throw failure }
    }
}

/// Whether the gateway can serve: HubSpot has not rejected its credentials since the last
/// accepted call, and the budget can be decided (Redis reachable or the local fallback on).
/// Only a 401 that a token refresh did not cure counts: a 403 (a scope missing for one object
/// type) fails that call alone and leaves readiness be.
final class Readiness: Sendable {
    private let credentialsRejected = Mutex(false)

    func observe(_ exchange: HubSpotExchange) {
        let status = exchange.status
        if status == 401, !exchange.refreshingToken {
            credentialsRejected.withLock { $0 = true }
        } else if (200..<300).contains(status) {
            credentialsRejected.withLock { $0 = false }
        }
    }

    /// nil when ready, else what is wrong.
    func problem(redis: RedisClient?, limiter: FixedWindowRateLimiter) -> String? {
        if credentialsRejected.withLock({ $0 }) { return "HubSpot rejected the gateway's credentials" }
        if let redis, !redis.health.isUp, limiter.mode == .redis {
            return "Redis unreachable and the local fallback not yet active"
        }
        return nil
    }
}

/// The feed's cache invalidation: each stored change drops its records' cached copies fleet-wide.
struct FeedInvalidationService: Service {
    let invalidator: FeedInvalidator

    func run() async throws {
        await cancelWhenGracefulShutdown { await invalidator.run() }
    }
}

/// The reconciler, while this replica holds its lease (handed over at shutdown).
struct ReconcilerService: Service {
    let reconciler: Reconciler

    func run() async throws {
        await cancelWhenGracefulShutdown { await reconciler.run() }
    }
}

/// Ends open change subscriptions when the replica begins shutting down.
struct SubscriptionDrainService: Service {
    let drain: SubscriptionDrain

    func run() async throws {
        try? await gracefulShutdown()
        drain.begin()
    }
}

/// Checks the gRPC listener's certificate files every `interval` and reloads them when they
/// changed (cert-manager renews them in place); a bad new file keeps the old certificate.
struct TLSReloadService: Service {
    let context: ReloadingServerTLSContext
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                do {
                    try context.reloadIfChanged()
                } catch {
                    logger.error(
                        "TLS certificate files changed but cannot be used; keeping the old ones",
                        metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// The cache's invalidation listener, which keeps the near cache coherent across replicas.
struct InvalidationListenerService: Service {
    let cache: ObjectCache

    func run() async throws {
        await cancelWhenGracefulShutdown { await cache.runInvalidationListener() }
    }
}

/// Retries the cache invalidations a Redis outage held back, so writes acknowledged during
/// it are not followed by reads of old entries once Redis is back.
struct PendingInvalidationService: Service {
    let cache: ObjectCache

    func run() async throws {
        await cancelWhenGracefulShutdown { await cache.runPendingInvalidations() }
    }
}

/// The limiter's replica heartbeats, for the live-replica count its fallback divides by.
struct HeartbeatService: Service {
    let limiter: FixedWindowRateLimiter

    func run() async throws {
        await cancelWhenGracefulShutdown { await limiter.runHeartbeats() }
    }
}

struct GatewayStartError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension GatewayServer {
    /// The journal intake: its own client (the app's client credentials), through the door.
    func journalReader(
        clientId: String, secret: String, baseURL: String, transport: CurlTransport,
        clientConfiguration: HubSpotClientConfiguration, observe: @escaping @Sendable (HubSpotExchange) -> Void,
        upstream: HubSpotUpstream, crm: CRM, feed: ChangeFeed, redis: RedisClient, replica: String
    ) -> JournalReader {
        let types = options.journalTypes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var configuration = JournalReaderConfiguration()
        configuration.objectTypes = types
        configuration.manageSubscriptions = options.journalManageSubscriptions
        configuration.scope = options.journalPortalId.map { .local(portalId: $0) } ?? .global
        configuration.start = JournalReaderConfiguration.Start(rawValue: options.journalStart) ?? .earliest
        configuration.pollInterval = .milliseconds(Int64(options.journalPollIntervalMilliseconds))
        configuration.callTimeout = .milliseconds(Int64(options.journalCallTimeoutSeconds * 1000))
        let client = HubSpotClient(
            transport: transport,
            credentials: .clientCredentials(
                ClientCredentials(
                    clientId: clientId, clientSecret: Secret(secret),
                    scopes: options.journalScopes.split(separator: ",").map {
                        $0.trimmingCharacters(in: .whitespaces)
                    })),
            configuration: clientConfiguration, logger: logger, observer: observe)
        // After an expired offset the reconciler publishes again what the journal lost: its
        // passes run here when no replica runs the reconciler (--reconcile-types empty).
        var reconciling = ReconcilerConfiguration()
        reconciling.objectTypes = types
        reconciling.lookback = .milliseconds(Int64(options.reconcileLookbackSeconds * 1000))
        reconciling.callsPerSecond = options.reconcileCallsPerSecond
        let reconciler = Reconciler(
            crm: crm, feed: feed,
            lease: FeedLease(
                name: "reconciler", redis: redis, timeToLive: .milliseconds(Int64(options.reconcileLeaseSeconds * 1000))
            ),
            replica: replica, configuration: reconciling, logger: logger)
        return JournalReader(
            client: client, upstream: upstream, feed: feed,
            lease: FeedLease(
                name: "journal", redis: redis, timeToLive: .milliseconds(Int64(options.journalLeaseSeconds * 1000))),
            replica: replica, configuration: configuration,
            catchUp: { since in _ = try await reconciler.catchUp(types: types, from: since) }, logger: logger)
    }
}

/// The journal reader, while this replica holds its lease (handed over at shutdown).
struct JournalReaderService: Service {
    let reader: JournalReader

    func run() async throws {
        await cancelWhenGracefulShutdown { await reader.run() }
    }
}
