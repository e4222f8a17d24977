// swift-tools-version:6.1
// A package of its own so the product build never compiles grpc-swift-nio-transport (and
// BoringSSL): it serves the same GRPCServer and service on either transport for h2load.
import PackageDescription

let package = Package(
    name: "grpc-transport-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "hubspot-gateway", path: "../.."),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
    ],
    targets: [
        .executableTarget(
            name: "grpc-bench-server",
            dependencies: [
                .product(name: "GRPCNghttp2Transport", package: "hubspot-gateway"),
                .product(name: "GRPCInteropTesting", package: "hubspot-gateway"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            path: "Sources/grpc-bench-server"
        )
    ]
)
