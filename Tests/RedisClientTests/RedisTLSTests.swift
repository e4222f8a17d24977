import Foundation
import RedisClient
import Testing
import TestSupport

/// Redis over TLS against a real `redis-server` serving TLS only, with a CA the test made.
@Suite struct RedisTLSTests {
    @Test func aRedissURLTurnsTLSOnWithTheSystemsTrustStore() throws {
        let configuration = try RedisConfiguration(url: "rediss://:secret@redis.managed.example:6380/1")
        #expect(configuration.tls == RedisConfiguration.TLS())
        #expect(configuration.endpoint == .tcp(host: "redis.managed.example", port: 6380))
        #expect(try RedisConfiguration(url: "redis://localhost").tls == nil)
    }

    @Test func commandsRunOverTLSWhenTheServersCertificateIsSignedByTheGivenCA() async throws {
        let certificates = try await TestCertificates.make()
        let server = try await RedisServerProcess.start(password: "pw", tls: certificates)
        try await withClient(server, configure: { $0.tls?.caFile = certificates.caFile }) { client in
            try await client.set("greeting", "over TLS")
            let value = try await client.get("greeting")
            #expect(value.map { String(decoding: $0, as: UTF8.self) } == "over TLS")
        }
    }

    @Test func aServerWhoseCertificateNoTrustedCASignedIsNeverConnected() async throws {
        let certificates = try await TestCertificates.make()
        let server = try await RedisServerProcess.start(tls: certificates)
        // The system's trust store does not know the test's CA.
        var configuration = try RedisConfiguration(url: server.url)
        configuration.poolSize = 1
        let client = RedisClient(configuration: configuration, logger: quietLogger())
        await #expect(throws: RedisError.self) { try await client.waitUntilConnected(timeout: .seconds(2)) }
        // A loaded machine may end the wait before the handshake failed: wait for the failure.
        try await eventually("the client recorded why it could not connect") { client.health.lastError != nil }
        let lastError = client.health.lastError ?? ""
        #expect(lastError.contains("TLS with Redis failed"), "\(lastError)")
        await client.shutdown()
    }

    @Test func aClientCertificateIsPresentedWhenTheServerRequiresOne() async throws {
        let certificates = try await TestCertificates.make()
        let server = try await RedisServerProcess.start(tls: certificates, requireClientCertificates: true)
        var without = try RedisConfiguration(url: server.url)
        without.tls?.caFile = certificates.caFile
        without.poolSize = 1
        let refused = RedisClient(configuration: without, logger: quietLogger())
        await #expect(throws: RedisError.self) { try await refused.waitUntilConnected(timeout: .seconds(2)) }
        await refused.shutdown()

        let (certificate, key) = try certificates.client("gateway")
        try await withClient(
            server,
            configure: {
                $0.tls = RedisConfiguration.TLS(caFile: certificates.caFile, certificateFile: certificate, keyFile: key)
            }
        ) { client in
            let pong = try await client.ping()
            #expect(pong == "PONG")
        }
    }

    @Test func aRedisClusterNodeIsRefusedWithAnErrorThatSaysWhy() async throws {
        let server = try await RedisServerProcess.start(extraArguments: ["--cluster-enabled", "yes"])
        var configuration = try RedisConfiguration(url: server.url)
        configuration.poolSize = 1
        let client = RedisClient(configuration: configuration, logger: quietLogger())
        await #expect(throws: RedisError.self) { try await client.waitUntilConnected(timeout: .seconds(2)) }
        try await eventually("the client recorded why it could not connect") { client.health.lastError != nil }
        #expect(client.health.lastError == RedisError.clusterNotSupported.description)
        await client.shutdown()
    }
}
