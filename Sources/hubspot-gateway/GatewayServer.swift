import Foundation
import GatewayAPI
import GatewayCore
import GatewayProto
import GRPCCore
import GRPCNghttp2Transport
import GRPCStandardServices
import HubSpotAPI
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

/// Assembles the gateway from its options and runs it in a ServiceGroup: the gRPC server, the
/// HTTP endpoints, the limiter's heartbeats (and in sandbox mode the simulator). SIGTERM drains
/// gracefully: health NOT_SERVING, GOAWAY, in-flight RPCs finish, exit 0.
struct GatewayServer {
    let options: HubSpotGatewayCommand
    let logger: Logger

    func run() async throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        if options.sandbox {
            var simulator = SimulatorConfiguration()
            simulator.seedContacts = 200
            simulator.dailyLimit = 0
            var quiet = logger
            quiet.logLevel = .warning
            try await HubSpotSimulator.withRunning(simulator, logger: quiet) { _, baseURL in
                try await serve(
                    baseURL: baseURL, credentials: .privateAppToken(Secret(simulator.token)), registry: registry)
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
            try await serve(baseURL: options.hubspotBaseUrl, credentials: credentials, registry: registry)
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
                hubspot-gateway sandbox: development caller key (scopes crm.read, crm.write, admin):
                  authorization: Bearer \(key)

                """.utf8))
        return CallerKeys(service: "sandbox-developer", key: key, scopes: [.read, .write, .admin])
    }

    private func serve(baseURL: String, credentials: HubSpotCredentials, registry: PrometheusCollectorRegistry)
        async throws
    {
        let keys = try callerKeys()
        let metrics = GatewayMetrics()
        let redis: RedisClient? = try options.redisUrl.map { url in
            var configuration = try RedisConfiguration(url: url)
            configuration.commandTimeout = .milliseconds(Int64(options.redisTimeoutMilliseconds))
            return RedisClient(configuration: configuration, logger: logger)
        }
        var limits = RateLimiterConfiguration()
        limits.generalPerSecond = options.generalPerSecond
        limits.searchPerSecond = options.searchPerSecond
        limits.dailyLimit = options.dailyLimit
        limits.interactiveReserve = options.interactiveReserve
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
            readiness.observe(status: exchange.status)
        }
        let cache = ObjectCache(redis: redis, configuration: cacheConfiguration, metrics: metrics, logger: logger)
        let upstream = HubSpotUpstream(
            client: client, limiter: limiter,
            breaker: CircuitBreaker(configuration: breakerConfiguration, metrics: metrics, logger: logger),
            cache: cache, metrics: metrics, logger: logger)

        // gRPC
        let timeout = Duration.milliseconds(Int64(options.defaultTimeoutSeconds * 1000))
        let crm = CRM(upstream: upstream)
        var grpcConfiguration = Nghttp2ServerTransportConfiguration(host: options.host, port: options.grpcPort)
        grpcConfiguration.shutdownGracePeriod = .milliseconds(Int64(options.shutdownGraceSeconds * 1000))
        grpcConfiguration.maxConnectionAge =
            options.maxConnectionAgeSeconds > 0 ? .milliseconds(Int64(options.maxConnectionAgeSeconds * 1000)) : nil
        let grpcTransport = Nghttp2ServerTransport(configuration: grpcConfiguration, logger: logger)
        let serviceNames = ["ContactsService", "DealsService", "ObjectsService", "AssociationsService", "AdminService"]
            .map { "hubspot.gateway.v1." + $0 }
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
            services: [
                ContactsService(crm: crm, defaultTimeout: timeout),
                DealsService(crm: crm, defaultTimeout: timeout),
                ObjectsService(crm: crm, defaultTimeout: timeout),
                AssociationsService(crm: crm, defaultTimeout: timeout),
                AdminService(upstream: upstream, redisConfigured: redis != nil), health, reflection, reflection.v1alpha,
            ],
            interceptors: [
                RequestObservationInterceptor(
                    accessLog: RequestObservationInterceptor.AccessLog(rawValue: options.accessLog) ?? .errors,
                    logger: logger,
                    isClientFault: { $0 is MalformedRequest }),
                CallerAuthenticationInterceptor(keys: keys, logger: logger),
            ])

        // HTTP: health, readiness, metrics
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let problem = readiness.problem(redis: redis, limiter: limiter)
            return Response(
                status: problem == nil ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: (problem ?? "ready") + "\n")))
        }
        let scrapeTime = ScrapeTimeMetrics(limiter: limiter)
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
                FileHandle.standardOutput.write(
                    Data("hubspot-gateway http listening on \(channel.localAddress?.port ?? 0)\n".utf8))
            }, logger: logger)

        let heartbeats = HeartbeatService(limiter: limiter)
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(
                        service: GRPCServerService(server: server, health: health),
                        successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: http),
                    // These three end at once without Redis.
                    .init(service: heartbeats, successTerminationBehavior: .ignore),
                    .init(service: InvalidationListenerService(cache: cache), successTerminationBehavior: .ignore),
                    .init(service: PendingInvalidationService(cache: cache), successTerminationBehavior: .ignore),
                ],
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
        do {
            try await group.run()
        } catch {
            await redis?.shutdown()
            throw error
        }
        await redis?.shutdown()
    }
}

/// Whether the gateway can serve: HubSpot has not rejected its credentials since the last
/// accepted call, and the budget can be decided (Redis reachable or the local fallback on).
final class Readiness: Sendable {
    private let credentialsRejected = Mutex(false)

    func observe(status: Int) {
        if status == 401 || status == 403 {
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
