import Foundation
import GRPCCore
import GRPCNghttp2Transport
import GRPCStandardServices
import GatewayAPI
import GatewayAssembly
import GatewayCore
import GatewayTracing
import HubSpotAPI
import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus
import RedisClient
import ServiceLifecycle
import Tracing
import UnixSignals

/// Runs the gateway its options describe: the assembly (`Gateway`) behind the gRPC and HTTP
/// listeners, with `/metrics`, tracing and TLS, in one ServiceGroup. SIGTERM drains gracefully:
/// health NOT_SERVING, GOAWAY, in-flight RPCs finish, exit 0.
public struct GatewayRunner {
    public let options: GatewayOptions
    public let logger: Logger

    public init(options: GatewayOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// The caller keys the options name; nil when they name none.
    public func callerKeys() throws -> CallerKeys? {
        if let path = options.callers.callerKeysFile {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw GatewayStartError("cannot read the caller keys file \(path): \(error.localizedDescription)")
            }
            return try CallerKeys(parsing: text)
        }
        return try options.callers.callerKeys.map {
            try CallerKeys(parsing: $0.replacingOccurrences(of: ";", with: "\n"))
        }
    }

    /// Serves until SIGTERM.
    /// - Parameters:
    ///   - configure: changes to the configuration the options make (the sandbox's webhooks).
    ///   - onHTTPListening: called with the gateway and the HTTP port once HTTP listens.
    public func run(
        baseURL: String, credentials: HubSpotCredentials, keys: CallerKeys, describing hubspot: String,
        configure: (inout GatewayConfiguration) -> Void = { _ in },
        onHTTPListening: @escaping @Sendable (Gateway, Int) -> Void = { _, _ in }
    ) async throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let traceExporter = options.tracing.otlpEndpoint.map { endpoint in
            var configuration = OTLPExporter.Configuration(endpoint: endpoint)
            configuration.exportInterval = .milliseconds(options.tracing.otlpExportIntervalMilliseconds)
            configuration.resource.append(("service.instance.id", ProcessInfo.processInfo.hostName))
            return OTLPExporter(configuration: configuration, logger: logger)
        }
        if let traceExporter {
            InstrumentationSystem.bootstrap(
                OTLPTracer(exporter: traceExporter, sampleRatio: options.tracing.otlpSampleRatio))
        }
        var configuration = try options.configuration(baseURL: baseURL)
        configure(&configuration)
        func redisClient(_ url: String) throws -> RedisClient {
            var redisConfiguration = try RedisConfiguration(url: url)
            redisConfiguration.commandTimeout = .milliseconds(options.redis.redisTimeoutMilliseconds)
            try options.applyRedisTLS(to: &redisConfiguration)
            redisConfiguration.sentinelPassword = options.redis.redisSentinelPassword
            redisConfiguration.durableReplicas = options.redis.redisDurableReplicas
            return RedisClient(configuration: redisConfiguration, logger: logger)
        }
        // Two roles: the state that must not be lost, and the caches, which may be evicted.
        let stateURL = options.redis.stateRedisUrl ?? options.redis.redisUrl
        let cacheURL = options.redis.cacheRedisUrl ?? options.redis.redisUrl
        let redis: RedisClient? = try stateURL.map(redisClient)
        let cacheRedis: RedisClient? = try cacheURL.flatMap { $0 == stateURL ? nil : try redisClient($0) }
        if let redis {
            try await StateRedisPolicy.check(
                redis, allowEvicting: options.redis.allowEvictingStateRedis, shared: cacheRedis == nil, logger: logger)
        }
        // Acknowledged writes (feed events, job records) WAIT for replicas; on connections of
        // their own, so a slow replica never holds up the limiter's and the cache's commands.
        let durableRedis =
            options.redis.redisDurableReplicas > 0
            ? redis.map { RedisClient(configuration: $0.configuration, logger: logger) } : redis
        let transport = CurlTransport()
        defer { transport.shutdown() }
        let tlsContext = try options.grpcTLSContext(logger: logger)
        let gateway = try Gateway(
            configuration: configuration, credentials: credentials, developer: options.developerCredentials(),
            keys: keys, redis: redis, durableRedis: durableRedis, cacheRedis: cacheRedis, transport: transport,
            metrics: GatewayMetrics(), logger: logger)

        var grpcConfiguration = Nghttp2ServerTransportConfiguration(
            host: options.serving.host, port: options.serving.grpcPort)
        grpcConfiguration.shutdownGracePeriod = .seconds(options.serving.shutdownGraceSeconds)
        grpcConfiguration.maxConnectionAge =
            options.serving.maxConnectionAgeSeconds > 0 ? .seconds(options.serving.maxConnectionAgeSeconds) : nil
        if let tlsContext {
            grpcConfiguration.tls = .init(
                context: { tlsContext.current }, clientIdentityMetadataKey: CallerAuthenticationInterceptor.identityKey)
        }
        let grpcTransport = Nghttp2ServerTransport(configuration: grpcConfiguration, logger: logger)
        let server = GRPCServer(
            transport: grpcTransport, services: gateway.grpcServices, interceptors: gateway.interceptors)

        let router = Router()
        router.add(middleware: MetricsMiddleware())
        gateway.registerRoutes(on: router)
        let scrapeTime = ScrapeTimeMetrics(
            limiter: gateway.crm.upstream.limiter, feed: gateway.feed, apiVersion: gateway.crm.upstream.apiVersion)
        router.get("metrics") { _, _ -> Response in
            await scrapeTime.update()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        let http = Application(
            router: router,
            configuration: .init(
                address: .hostname(options.serving.host, port: options.serving.httpPort),
                serverName: "hubspot-gateway"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                FileHandle.standardOutput.write(Data("hubspot-gateway http listening on \(port)\n".utf8))
                onHTTPListening(gateway, port)
            }, logger: logger)

        // The exporter first: the group shuts services down last to first, so it sends the
        // spans of the final requests after the servers have drained.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] =
            traceExporter.map { [.init(service: $0, successTerminationBehavior: .ignore)] } ?? []
        services.append(
            .init(
                service: GRPCServerService(server: server, health: gateway.health),
                successTerminationBehavior: .gracefullyShutdownGroup))
        services.append(.init(service: http))
        // Background work ends by itself without Redis (or when it has nothing to do).
        services += gateway.services.map { .init(service: $0, successTerminationBehavior: .ignore) }
        if let tlsContext {
            services.append(
                .init(
                    service: TLSReloadService(
                        context: tlsContext, interval: .seconds(options.serving.tlsReloadSeconds), logger: logger),
                    successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let configuredPort = options.serving.grpcPort
        let announce = Task {
            if let address = try? await grpcTransport.listeningAddress {
                FileHandle.standardOutput.write(
                    Data("hubspot-gateway grpc listening on \(address.port ?? configuredPort)\n".utf8))
            }
        }
        defer { announce.cancel() }
        logger.info(
            "hubspot-gateway starting",
            metadata: [
                "hubspot": "\(hubspot)",
                "redis": "\(redis == nil ? "none (local limiter and cache)" : "configured")",
                "callers": "\(keys.services.joined(separator: ","))", "credentials": "\(credentials)",
            ])
        // The Redis clients close once, after the group, whether it ended or failed.
        var failure: (any Error)?
        do { try await group.run() } catch { failure = error }
        await redis?.shutdown()
        if durableRedis !== redis { await durableRedis?.shutdown() }
        await cacheRedis?.shutdown()
        if let failure { throw failure }
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

public struct GatewayStartError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
