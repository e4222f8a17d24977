import Foundation
import GatewayAPI
import GatewayAssembly
import GatewayCore
import GatewayProto
import GRPCCore
import GRPCInProcessTransport
import HubSpotAPI
import HubSpotSimulator
import Logging
import MetricsTestKit
import RedisClient
import SwiftProtobuf
import Synchronization
import Testing
import TestSupport
import WriteJobs

/// The gateway services behind the caller-authentication interceptor, served in-process over
/// GRPCCore, on a real redis-server and an in-process hubspot-sim.
struct GatewayRig {
    static let writerKey = "writer-key-0123456789"
    static let readerKey = "reader-key-0123456789"
    static let adminKey = "admin-key-0123456789"
    /// Marketing: contacts only (read and write), weight 2.
    static let contactsOnlyKey = "marketing-key-0123456789"

    let client: Hubspot_Gateway_V1_ContactsService.Client<InProcessTransport.Client>
    let admin: Hubspot_Gateway_V1_AdminService.Client<InProcessTransport.Client>
    let deals: Hubspot_Gateway_V1_DealsService.Client<InProcessTransport.Client>
    let objects: Hubspot_Gateway_V1_ObjectsService.Client<InProcessTransport.Client>
    let associations: Hubspot_Gateway_V1_AssociationsService.Client<InProcessTransport.Client>
    let metadata: Hubspot_Gateway_V1_MetadataService.Client<InProcessTransport.Client>
    let lists: Hubspot_Gateway_V1_ListsService.Client<InProcessTransport.Client>
    let jobs: Hubspot_Gateway_V1_JobsService.Client<InProcessTransport.Client>
    let jobStore: WriteJobStore
    /// The rig's redis-server.
    let redisURL: String
    /// The replica's job workers (running when `jobWorkers` > 0).
    let workers: WriteJobWorkers
    let ids: [String]
    /// The simulator's address and an HTTP client for its admin API (`/_sim/...`).
    let simulatorURL: String
    let simulatorAdmin: CurlTransport
    /// What the request-observation interceptor recorded.
    let requestMetrics: TestMetrics
    let accessLog: CapturedLog

    static func with(
        contacts: Int = 5, generalPerSecond: Int = 8, accessLog: RequestObservationInterceptor.AccessLog = .off,
        hubspotRequestTimeout: Duration = .seconds(30), jobWorkers: Int = 0,
        jobVisibilityTimeout: Duration = .seconds(60), jobMaxBatchAttempts: Int = 5, jobImportThreshold: Int = 0,
        exportFileChunkBytes: Int = ExportFileTerms().chunkBytes, _ body: (GatewayRig) async throws -> Void
    ) async throws {
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
                var configuration = GatewayConfiguration(baseURL: baseURL)
                let prefix = "test:\(UUID().uuidString)"
                configuration.prefixKeys(prefix)
                configuration.door.redisTimeout = .seconds(2)
                configuration.door.limits.generalPerSecond = generalPerSecond
                configuration.door.hubspot.requestTimeout = hubspotRequestTimeout
                configuration.accessLog = accessLog
                configuration.jobs.visibilityTimeout = jobVisibilityTimeout
                configuration.jobs.workersPerReplica = max(1, jobWorkers)
                configuration.jobs.maxBatchAttempts = jobMaxBatchAttempts
                configuration.jobs.importThreshold = jobImportThreshold
                configuration.jobs.importPollInterval = .milliseconds(50)
                configuration.jobWatchInterval = .milliseconds(50)
                configuration.exports.file.chunkBytes = exportFileChunkBytes
                configuration.exports.file.firstPoll = .milliseconds(200)
                // A Redis this fleet has been using: its first call would otherwise find it new and
                // wait out the current second (what a Redis that lost its data gets), which a short
                // deadline on a loaded machine may not outlast.
                try await redisClient.send("SET", [.init(configuration.door.limits.keyPrefix + ":incarnation"), "0"])
                let transport = CurlTransport()
                defer { transport.shutdown() }
                let keys = try CallerKeys(
                    parsing: """
                        # service key-hash scopes
                        orders \(CallerKeys.line(service: "orders", key: writerKey, scopes: [.read, .write]).split(separator: " ")[1]) crm.read,crm.write
                        analytics \(CallerKeys.line(service: "analytics", key: readerKey, scopes: [.read]).split(separator: " ")[1]) crm.read
                        ops \(CallerKeys.line(service: "ops", key: adminKey, scopes: [.admin]).split(separator: " ")[1]) admin
                        \(CallerKeys.line(service: "marketing", key: contactsOnlyKey, scopeNames: ["crm.objects.contacts.read", "crm.objects.contacts.write"], weight: 2))
                        """)
                let requestMetrics = TestMetrics()
                let captured = CapturedLog()
                let gateway = try Gateway(
                    configuration: configuration, credentials: .privateAppToken(Secret(simulator.token)), keys: keys,
                    redis: redisClient, transport: transport, replicaID: "rig", logger: quietLogger(),
                    accessLogger: captured.logger, metricsFactory: requestMetrics)
                let inProcess = InProcessTransport()
                let jobStore = gateway.jobStore!
                let workers = gateway.jobWorkers!
                let server = GRPCServer(
                    transport: inProcess.server, services: gateway.grpcServices, interceptors: gateway.interceptors)
                let hubspot = HubSpotClient(
                    transport: transport, credentials: .privateAppToken(Secret(simulator.token)),
                    configuration: HubSpotClientConfiguration(baseURL: baseURL))
                let ids = try await hubspot.listObjects("contacts", limit: 100).results.map(\.id)
                try await withGRPCClient(transport: inProcess.client) { grpc in
                    try await withThrowingDiscardingTaskGroup { group in
                        group.addTask { try await server.serve() }
                        let working = Task { if jobWorkers > 0 { await workers.workAll() } }
                        try await body(
                            GatewayRig(
                                client: .init(wrapping: grpc), admin: .init(wrapping: grpc),
                                deals: .init(wrapping: grpc),
                                objects: .init(wrapping: grpc), associations: .init(wrapping: grpc),
                                metadata: .init(wrapping: grpc), lists: .init(wrapping: grpc),
                                jobs: .init(wrapping: grpc), jobStore: jobStore, redisURL: redis.url, workers: workers,
                                ids: ids,
                                simulatorURL: baseURL, simulatorAdmin: transport,
                                requestMetrics: requestMetrics, accessLog: captured))
                        working.cancel()
                        await working.value
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

    /// Sets the simulator's faults (`{"rules": [...]}` or `{"outage": true}`).
    func faults(_ json: String) async throws {
        let response = try await simulatorAdmin.send(
            HTTPRequest(
                method: .put, url: simulatorURL + "/_sim/faults", headers: [("Content-Type", "application/json")],
                body: Array(json.utf8)), timeout: .seconds(30))
        #expect(response.status == 200, "faults: \(String(decoding: response.body, as: UTF8.self))")
    }

    /// How many requests to `endpoint` the simulator has answered with a 2xx.
    func answeredOK(_ endpoint: String) async throws -> Int { try await answered(endpoint, statusPrefix: "2") }

    /// How many requests to `endpoint` the simulator answered with a 4xx.
    func simulatorErrors(_ endpoint: String) async throws -> Int { try await answered(endpoint, statusPrefix: "4") }

    /// How many requests to `endpoint` the simulator answered with a status starting so.
    func answered(_ endpoint: String, statusPrefix: String) async throws -> Int {
        let response = try await simulatorAdmin.send(
            HTTPRequest(method: .get, url: simulatorURL + "/_sim/stats"), timeout: .seconds(30))
        let stats = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        let statuses = (stats?["byEndpointAndStatus"] as? [String: Any])?[endpoint] as? [String: Any] ?? [:]
        return statuses.filter { $0.key.hasPrefix(statusPrefix) }.compactMap { ($0.value as? NSNumber)?.intValue }
            .reduce(0, +)
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

/// A logger whose events are kept for the test to read.
final class CapturedLog: Sendable {
    struct Event: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: Logger.Metadata
    }

    private let events = Mutex<[Event]>([])
    var all: [Event] { events.withLock { $0 } }

    var logger: Logger {
        Logger(label: "captured") { _ in Handler(log: self) }
    }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            log.events.withLock { $0.append(Event(level: event.level, message: "\(event.message)", metadata: merged)) }
        }
    }
}
