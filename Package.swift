// swift-tools-version:6.1
import PackageDescription

/// Strict Swift 6 everywhere; the upcoming features keep imports and existentials explicit.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "hubspot-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "HubSpotSimulator", targets: ["HubSpotSimulator"]),
        .library(name: "Digests", targets: ["Digests"]),
        .library(name: "HubSpotAPI", targets: ["HubSpotAPI"]),
        .library(name: "RedisClient", targets: ["RedisClient"]),
        .library(name: "GRPCNghttp2Transport", targets: ["GRPCNghttp2Transport"]),
        .library(name: "GRPCStandardServices", targets: ["GRPCStandardServices"]),
        .library(name: "GRPCInteropTesting", targets: ["GRPCInteropTesting"]),
        .executable(name: "hubspot-sim", targets: ["hubspot-sim"]),
        .executable(name: "hubspot-gateway", targets: ["hubspot-gateway"]),
        .executable(name: "hubspot-gateway-sandbox", targets: ["hubspot-gateway-sandbox"]),
        .executable(name: "grpc-interop-server", targets: ["grpc-interop-server"]),
        .executable(name: "hubspot-client-bench", targets: ["hubspot-client-bench"]),
        .executable(name: "redis-client-bench", targets: ["redis-client-bench"]),
        .executable(name: "gateway-core-bench", targets: ["gateway-core-bench"]),
        .executable(name: "change-feed-bench", targets: ["change-feed-bench"]),
        .executable(name: "rest-bare-bench", targets: ["rest-bare-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    ],
    targets: [
        // MARK: System libraries (Debian: libnghttp2-dev libhiredis-dev libcurl4-openssl-dev libssl-dev)
        .systemLibrary(
            name: "CNghttp2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"]), .brew(["nghttp2"])]
        ),
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"]), .brew(["hiredis"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),
        .systemLibrary(
            name: "CLibcrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl"])]
        ),
        /// Typed, non-variadic wrappers around curl_easy_setopt / curl_easy_getinfo / curl_multi_setopt,
        /// which Swift cannot call directly because they are C variadics.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),

        // MARK: Libraries
        /// The time module: the clock every component reads (`TimeSource`), `Duration` in milliseconds, HubSpot's timestamps.
        .target(name: "Time", swiftSettings: swiftSettings),
        .target(
            name: "Digests", dependencies: ["CLibcrypto", "Time"], swiftSettings: swiftSettings),
        .target(name: "JSONCore", swiftSettings: swiftSettings),
        /// swift-log handler writing one JSON object per line, with secrets redacted.
        .target(
            name: "JSONLogging",
            dependencies: ["JSONCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HubSpotSimulator",
            dependencies: [
                "JSONCore", "Digests", "Time",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "HubSpotAPI",
            dependencies: [
                "CCurl", "CCurlShim", "JSONCore", "Time",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis", "Time",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),

        /// The one door to HubSpot: shared rate limit, batching, circuit breaker, cache, metrics.
        .target(
            name: "GatewayCore",
            dependencies: [
                "HubSpotAPI", "RedisClient", "Time", "Digests",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "GRPCNghttp2Transport",
            dependencies: [
                "CNghttp2",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        /// grpc.health.v1 and grpc.reflection.v1 (generated code in Generated/ by scripts/gen-protos),
        /// and GRPCServerService (a GRPCServer in a ServiceGroup, draining on SIGTERM).
        .target(
            name: "GRPCStandardServices",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),

        /// The gateway's API contract: messages and service protocols generated from
        /// The change feed: HubSpot's webhooks in (signature, deduplication), a durable,
        /// resumable stream in Redis, and the cache invalidation it drives across the fleet.
        .target(
            name: "ChangeFeed",
            dependencies: [
                "GatewayCore", "HubSpotAPI", "JSONCore", "RedisClient", "Time", "Digests",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        /// OpenTelemetry traces: a W3C trace-context tracer and an OTLP/HTTP (JSON) exporter.
        .target(
            name: "GatewayTracing",
            dependencies: [
                "HubSpotAPI", "JSONCore",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),

        /// Durable write jobs: records stored in Redis, written by workers in every replica.
        .target(
            name: "WriteJobs",
            dependencies: [
                "GatewayCore", "RedisClient",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        /// Protos/hubspot/gateway/v1 (by scripts/gen-protos).
        .target(
            name: "GatewayProto",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),

        /// The gateway's gRPC services on GatewayCore: caller authentication, validation,
        /// error mapping, and the Contacts/Deals/Objects/Associations/Admin handlers.
        .target(
            name: "GatewayAPI",
            dependencies: [
                "ChangeFeed", "GatewayCore", "GatewayProto", "Digests", "Time", "WriteJobs",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),

        /// The REST endpoint on HubSpot's own paths: HubSpot's JSON mapped to the domain (`CRM`).
        .target(
            name: "GatewayREST",
            dependencies: [
                "GatewayCore", "JSONCore", "Time",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        /// The gateway assembled once from one configuration: the door, the domain, the feed, the
        /// jobs and both APIs, its gRPC services, HTTP routes and background services.
        .target(
            name: "GatewayAssembly",
            dependencies: [
                "ChangeFeed", "GatewayAPI", "GatewayCore", "GatewayProto", "GatewayREST", "GRPCNghttp2Transport",
                "GRPCStandardServices", "HubSpotAPI", "RedisClient", "Time", "WriteJobs",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        /// The command line of the gateway's executables: options grouped as the configuration
        /// is, mapped onto it, and the listeners, metrics and tracing around the assembly.
        .target(
            name: "GatewayCommandLine",
            dependencies: [
                "ChangeFeed", "GatewayAPI", "GatewayAssembly", "GatewayCore", "GatewayREST", "GatewayTracing",
                "GRPCNghttp2Transport", "GRPCStandardServices", "HubSpotAPI", "JSONLogging", "RedisClient", "WriteJobs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        /// The standard gRPC interop service grpc.testing.TestService, for checking the transport
        /// against other implementations' clients.
        .target(
            name: "GRPCInteropTesting",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Executables
        .executableTarget(
            name: "grpc-interop-server",
            dependencies: [
                "GRPCNghttp2Transport", "GRPCStandardServices", "GRPCInteropTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "hubspot-gateway",
            dependencies: ["GatewayCommandLine", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        /// The gateway against an in-process HubSpot simulator (scripts/run); not in the image.
        .executableTarget(
            name: "hubspot-gateway-sandbox",
            dependencies: [
                "ChangeFeed", "GatewayAssembly", "GatewayCommandLine", "GatewayCore", "HubSpotAPI", "HubSpotSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "hubspot-sim",
            dependencies: [
                "HubSpotSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Benchmarks (scripts/bench)
        .executableTarget(
            name: "hubspot-client-bench",
            dependencies: ["HubSpotAPI"],
            path: "Benchmarks/hubspot-client/Sources",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "gateway-core-bench",
            dependencies: [
                "GatewayCore", "HubSpotAPI", "RedisClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/gateway-core/Sources",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "change-feed-bench",
            dependencies: [
                "HubSpotAPI", "Digests",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/change-feed/Sources",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "rest-bare-bench",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/rest/Sources",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "redis-client-bench",
            dependencies: ["RedisClient", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/redis-client/Sources",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(
            name: "ChangeFeedTests",
            dependencies: [
                "ChangeFeed", "GatewayCore", "HubSpotAPI", "HubSpotSimulator", "RedisClient", "TestSupport",
                "Digests",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SystemLibrariesTests",
            dependencies: ["CNghttp2", "CHiredis", "CCurl", "CCurlShim"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HubSpotAPITests",
            dependencies: [
                "HubSpotAPI", "HubSpotSimulator", "TestSupport", "Time",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        /// Helpers the test targets share (spawning real servers).
        .target(
            name: "TestSupport",
            dependencies: [
                "Time",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RedisClientTests",
            dependencies: [
                "RedisClient", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GRPCNghttp2TransportTests",
            dependencies: [
                "GRPCNghttp2Transport", "GRPCInteropTesting", "GRPCStandardServices", "TestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayCoreTests",
            dependencies: [
                "GatewayCore", "HubSpotAPI", "HubSpotSimulator", "RedisClient", "TestSupport", "Time",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "JSONLoggingTests",
            dependencies: ["JSONCore", "JSONLogging", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayRESTTests",
            dependencies: [
                "GatewayAPI", "GatewayCore", "GatewayREST", "HubSpotAPI", "JSONCore",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayAPITests",
            dependencies: [
                "ChangeFeed", "GatewayAPI", "GatewayAssembly", "GatewayCore", "GatewayProto", "HubSpotAPI",
                "HubSpotSimulator", "RedisClient", "TestSupport", "Time", "WriteJobs",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "JSONCoreTests", dependencies: ["JSONCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "GatewayTracingTests",
            dependencies: [
                "GatewayTracing", "JSONCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "DigestsTests", dependencies: ["Digests"], swiftSettings: swiftSettings),
        .testTarget(
            name: "HubSpotSimulatorTests",
            dependencies: [
                "HubSpotSimulator", "TestSupport", "Time",
                "Digests",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// Container builds (the Dockerfile) copy only what the product needs: with
// HUBSPOT_GATEWAY_PRODUCT_ONLY set, the manifest leaves out the tests, their support code and
// the benchmarks, whose folders are not in the image's build context.
if Context.environment["HUBSPOT_GATEWAY_PRODUCT_ONLY"] != nil {
    let productOnly = { (target: Target) in
        target.type != .test && target.name != "TestSupport" && !(target.path ?? "").hasPrefix("Benchmarks/")
    }
    let removed = Set(package.targets.filter { !productOnly($0) }.map(\.name))
    package.targets.removeAll { removed.contains($0.name) }
    package.products.removeAll { product in product.name.hasSuffix("-bench") }
}

// MARK: Fuzz targets (scripts/fuzz): libFuzzer entry points over the decoders that take
// outside bytes, built only with HUBSPOT_GATEWAY_FUZZ=1 and -sanitize=fuzzer,address (libFuzzer
// supplies `main`), so ordinary builds never see them.
if Context.environment["HUBSPOT_GATEWAY_FUZZ"] == "1" {
    let fuzzSettings = swiftSettings + [.unsafeFlags(["-parse-as-library"])]
    package.targets += [
        .target(name: "CFuzzDriver", path: "Fuzz/CFuzzDriver"),
        .executableTarget(
            name: "FuzzJSON", dependencies: ["CFuzzDriver", "ChangeFeed", "JSONCore"], path: "Fuzz/FuzzJSON",
            swiftSettings: fuzzSettings),
        .executableTarget(
            name: "FuzzRESP", dependencies: ["CFuzzDriver", "RedisClient"], path: "Fuzz/FuzzRESP",
            swiftSettings: fuzzSettings),
        .executableTarget(
            name: "FuzzHTTP2",
            dependencies: [
                "CFuzzDriver", "GRPCNghttp2Transport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Fuzz/FuzzHTTP2", swiftSettings: fuzzSettings),
        .executableTarget(
            name: "FuzzCallerKeys", dependencies: ["CFuzzDriver", "GatewayCore"], path: "Fuzz/FuzzCallerKeys",
            swiftSettings: fuzzSettings),
    ]
}
