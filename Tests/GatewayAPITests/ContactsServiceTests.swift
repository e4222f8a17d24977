import Foundation
import GatewayAPI
import GatewayCore
import GatewayProto
import GRPCCore
import GRPCInProcessTransport
import HubSpotAPI
import HubSpotSimulator
import Logging
import RedisClient
import SwiftProtobuf
import Testing
import TestSupport

func quietLogger() -> Logger {
    var logger = Logger(label: "gateway-api-test")
    logger.logLevel = .critical
    return logger
}

/// The contacts service behind the caller-authentication interceptor, served in-process over
/// GRPCCore, on a real redis-server and an in-process hubspot-sim.
struct ContactsRig {
    static let writerKey = "writer-key-0123456789"
    static let readerKey = "reader-key-0123456789"
    static let adminKey = "admin-key-0123456789"

    let client: Hubspot_Gateway_V1_ContactsService.Client<InProcessTransport.Client>
    let admin: Hubspot_Gateway_V1_AdminService.Client<InProcessTransport.Client>
    let ids: [String]

    static func with(contacts: Int = 5, generalPerSecond: Int = 8, _ body: (ContactsRig) async throws -> Void) async throws {
        let redis = try await RedisServerProcess.start()
        var redisConfiguration = try RedisConfiguration(url: redis.url)
        redisConfiguration.commandTimeout = .seconds(2)
        let redisClient = RedisClient(configuration: redisConfiguration, logger: quietLogger())
        try await redisClient.waitUntilConnected()
        var simulator = SimulatorConfiguration()
        simulator.seedContacts = contacts
        simulator.dailyLimit = 0
        do {
            try await HubSpotSimulator.withRunning(simulator, logger: quietLogger()) { _, baseURL in
                var limits = RateLimiterConfiguration()
                limits.keyPrefix = "test:\(UUID().uuidString)"
                limits.redisTimeout = .seconds(2)
                limits.generalPerSecond = generalPerSecond
                let limiter = FixedWindowRateLimiter(redis: redisClient, configuration: limits, logger: quietLogger())
                let transport = CurlTransport()
                defer { transport.shutdown() }
                let hubspot = HubSpotClient(transport: transport, credentials: .privateAppToken(Secret(simulator.token)),
                                            configuration: HubSpotClientConfiguration(baseURL: baseURL), observer: HubSpotUpstream.observer(for: limiter))
                var cacheConfiguration = ObjectCache.Configuration()
                cacheConfiguration.keyPrefix = limits.keyPrefix
                cacheConfiguration.redisTimeout = .seconds(2)
                let upstream = HubSpotUpstream(client: hubspot, limiter: limiter, breaker: CircuitBreaker(logger: quietLogger()),
                                               cache: ObjectCache(redis: redisClient, configuration: cacheConfiguration, logger: quietLogger()), logger: quietLogger())
                let keys = try CallerKeys(parsing: """
                    # service key-hash scopes
                    orders \(CallerKeys.line(service: "orders", key: writerKey, scopes: [.read, .write]).split(separator: " ")[1]) crm.read,crm.write
                    analytics \(CallerKeys.line(service: "analytics", key: readerKey, scopes: [.read]).split(separator: " ")[1]) crm.read
                    ops \(CallerKeys.line(service: "ops", key: adminKey, scopes: [.admin]).split(separator: " ")[1]) admin
                    """)
                let inProcess = InProcessTransport()
                let server = GRPCServer(transport: inProcess.server, services: [ContactsService(upstream: upstream), AdminService(upstream: upstream, redisConfigured: true)],
                                        interceptors: [CallerAuthenticationInterceptor(keys: keys, logger: quietLogger())])
                let ids = try await hubspot.listObjects("contacts", limit: 100).results.map(\.id)
                try await withGRPCClient(transport: inProcess.client) { grpc in
                    try await withThrowingDiscardingTaskGroup { group in
                        group.addTask { try await server.serve() }
                        try await body(ContactsRig(client: .init(wrapping: grpc), admin: .init(wrapping: grpc), ids: ids))
                        server.beginGracefulShutdown()
                    }
                }
            }
        } catch {
            await redisClient.shutdown()
            throw error
        }
        await redisClient.shutdown()
        withExtendedLifetime(redis) {}
    }

    static func metadata(key: String? = writerKey, bulk: Bool = false) -> Metadata {
        var metadata = Metadata()
        if let key { metadata.addString("Bearer \(key)", forKey: "authorization") }
        if bulk { metadata.addString("bulk", forKey: "x-gateway-priority") }
        return metadata
    }
}

/// The RPC error a call threw.
func rpcError(_ body: () async throws -> Void) async -> RPCError? {
    do {
        try await body()
        return nil
    } catch let error as RPCError {
        return error
    } catch {
        Issue.record("not an RPCError: \(error)")
        return nil
    }
}

@Suite struct ContactsServiceTests {
    @Test func aContactIsReadFromHubSpotOnceThenFromTheCacheAndSaysSo() async throws {
        try await ContactsRig.with { rig in
            let request = Hubspot_Gateway_V1_GetContactRequest.with { $0.id = rig.ids[0]; $0.properties = ["phone"] }
            let first = try await rig.client.getContact(request, metadata: ContactsRig.metadata())
            #expect(first.contact.id == rig.ids[0] && !first.contact.email.isEmpty && first.contact.properties["phone"] != nil)
            #expect(first.freshness.source == .hubspot)
            let second = try await rig.client.getContact(request, metadata: ContactsRig.metadata(key: ContactsRig.readerKey))
            #expect(second.freshness.source == .cache && second.contact == first.contact)
            let fresh = try await rig.client.getContact(.with { $0.id = rig.ids[0]; $0.readOptions.maxStaleness = .init(seconds: 0) }, metadata: ContactsRig.metadata())
            #expect(fresh.freshness.source == .hubspot, "zero staleness bypasses the cache")
            let byEmail = try await rig.client.getContact(.with { $0.email = first.contact.email }, metadata: ContactsRig.metadata())
            #expect(byEmail.contact.id == rig.ids[0])
            let missing = await rpcError { _ = try await rig.client.getContact(.with { $0.id = "999999999" }, metadata: ContactsRig.metadata()) }
            #expect(missing?.code == .notFound)
        }
    }

    @Test func callsWithoutAKnownKeyOrTheRightScopeAreRefused() async throws {
        try await ContactsRig.with { rig in
            let get = Hubspot_Gateway_V1_GetContactRequest.with { $0.id = rig.ids[0] }
            #expect(await rpcError { _ = try await rig.client.getContact(get, metadata: ContactsRig.metadata(key: nil)) }?.code == .unauthenticated)
            #expect(await rpcError { _ = try await rig.client.getContact(get, metadata: ContactsRig.metadata(key: "not-a-key")) }?.code == .unauthenticated)
            let denied = await rpcError {
                _ = try await rig.client.createContact(.with { $0.contact.email = "new@example.com" }, metadata: ContactsRig.metadata(key: ContactsRig.readerKey))
            }
            #expect(denied?.code == .permissionDenied && denied?.message.contains("crm.write") == true)
        }
    }

    @Test func badInputIsRefusedWithTheFieldNamed() async throws {
        try await ContactsRig.with { rig in
            let email = await rpcError { _ = try await rig.client.createContact(.with { $0.contact.email = "not an email" }, metadata: ContactsRig.metadata()) }
            #expect(email?.code == .invalidArgument && email?.message.contains("contact.email") == true)
            let id = await rpcError { _ = try await rig.client.getContact(.with { $0.id = "12a" }, metadata: ContactsRig.metadata()) }
            #expect(id?.code == .invalidArgument)
            let batch = await rpcError {
                _ = try await rig.client.batchGetContacts(.with { $0.ids = (0..<101).map { String(1000 + $0) } }, metadata: ContactsRig.metadata())
            }
            #expect(batch?.code == .invalidArgument && batch?.message.contains("at most 100") == true)
            let search = await rpcError {
                _ = try await rig.client.searchContacts(.with { $0.query.filterGroups = (0..<6).map { _ in .with { $0.filters = [.with { $0.propertyName = "email"; $0.operator = .hasProperty }] } } },
                                                        metadata: ContactsRig.metadata())
            }
            #expect(search?.code == .invalidArgument && search?.message.contains("at most 5") == true)
            // HubSpot's own validation comes back as INVALID_ARGUMENT with the property named.
            let stage = await rpcError {
                _ = try await rig.client.createContact(.with { $0.contact.email = "stage@example.com"; $0.contact.lifecycleStage = "no-such-stage" }, metadata: ContactsRig.metadata())
            }
            #expect(stage?.code == .invalidArgument)
            #expect(stage?.metadata[stringValues: GatewayErrors.Key.property].first(where: { _ in true }) == "lifecyclestage")
        }
    }

    @Test func writesAreVisibleAtOnceAndDuplicatesNameTheExistingRecord() async throws {
        try await ContactsRig.with { rig in
            let created = try await rig.client.createContact(.with { $0.contact.email = "ada@example.com"; $0.contact.firstName = "Ada" }, metadata: ContactsRig.metadata())
            let id = created.contact.id
            #expect(!id.isEmpty && created.contact.firstName == "Ada")
            _ = try await rig.client.getContact(.with { $0.id = id }, metadata: ContactsRig.metadata())  // now cached
            _ = try await rig.client.updateContact(.with { $0.contact.id = id; $0.contact.lastName = "Lovelace" }, metadata: ContactsRig.metadata())
            let read = try await rig.client.getContact(.with { $0.id = id }, metadata: ContactsRig.metadata())
            #expect(read.contact.lastName == "Lovelace" && read.freshness.source == .hubspot, "the write dropped the cached copy")
            let duplicate = await rpcError { _ = try await rig.client.createContact(.with { $0.contact.email = "ada@example.com" }, metadata: ContactsRig.metadata()) }
            #expect(duplicate?.code == .alreadyExists)
            #expect(duplicate?.metadata[stringValues: GatewayErrors.Key.existingId].first(where: { _ in true }) == id)
            let upserted = try await rig.client.upsertContact(.with { $0.contact.email = "ADA@example.com"; $0.contact.firstName = "Augusta" }, metadata: ContactsRig.metadata())
            #expect(upserted.contact.id == id && !upserted.created)
            let fresh = try await rig.client.upsertContact(.with { $0.contact.email = "grace@example.com" }, metadata: ContactsRig.metadata())
            #expect(fresh.created && fresh.contact.id != id)
        }
    }

    @Test func aBatchWriteAnswersPerInput() async throws {
        try await ContactsRig.with { rig in
            let response = try await rig.client.batchCreateContacts(.with {
                $0.contacts = [
                    .with { $0.email = "one@example.com" },
                    .with { $0.email = "two@example.com"; $0.lifecycleStage = "no-such-stage" },
                    .with { $0.email = "three@example.com" },
                ]
            }, metadata: ContactsRig.metadata())
            #expect(response.contacts.count == 3)
            #expect(response.contacts[0].email == "one@example.com" && response.contacts[2].email == "three@example.com")
            #expect(response.errors.map(\.index) == [1])
            #expect(response.errors.first?.code == Int32(RPCError.Code.invalidArgument.rawValue))
            let batch = try await rig.client.batchGetContacts(.with { $0.ids = [response.contacts[0].id, "999999999"] }, metadata: ContactsRig.metadata())
            #expect(batch.contacts.map(\.email) == ["one@example.com"] && batch.missingIds == ["999999999"])
        }
    }

    @Test func noBudgetBeforeTheDeadlineIsResourceExhaustedWithTheWait() async throws {
        try await ContactsRig.with(generalPerSecond: 1) { rig in
            _ = try await rig.client.listContacts(.init(), metadata: ContactsRig.metadata())
            let refused = await rpcError {
                var options = CallOptions.defaults
                options.timeout = .milliseconds(100)
                _ = try await rig.client.listContacts(.init(), metadata: ContactsRig.metadata(), options: options)
            }
            // Either the gateway's refusal (with the wait) or, if the clock ran out first, the deadline.
            #expect(refused?.code == .resourceExhausted || refused?.code == .deadlineExceeded)
            if refused?.code == .resourceExhausted {
                let wait = refused?.metadata[stringValues: GatewayErrors.Key.retryAfterMilliseconds].first(where: { _ in true }).flatMap(Int.init)
                #expect(wait.map { $0 > 0 && $0 <= 1000 } == true)
            }
        }
    }
}

@Suite struct AdminServiceTests {
    @Test func anOperatorSeesBudgetBreakerCacheAndRedis() async throws {
        try await ContactsRig.with { rig in
            let request = Hubspot_Gateway_V1_GetContactRequest.with { $0.id = rig.ids[0] }
            _ = try await rig.client.getContact(request, metadata: ContactsRig.metadata())
            _ = try await rig.client.getContact(request, metadata: ContactsRig.metadata())
            let status = try await rig.admin.getStatus(.init(), metadata: ContactsRig.metadata(key: ContactsRig.adminKey))
            #expect(status.breaker == .closed && status.redis == .up)
            #expect(status.cacheHitRatio == 0.5, "one miss, one hit")
            let daily = status.budget.first { $0.bucket == "daily" }
            #expect(daily.map { $0.used == 1 && $0.limit == 250_000 } == true, "one HubSpot call (the miss) went through the door today: \(status.budget)")
            #expect(status.budget.contains { $0.bucket == "general" && $0.limit == 8 })
            #expect(!status.replicaID.isEmpty)
            let denied = await rpcError { _ = try await rig.admin.getStatus(.init(), metadata: ContactsRig.metadata()) }
            #expect(denied?.code == .permissionDenied)
        }
    }
}
