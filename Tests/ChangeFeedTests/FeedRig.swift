import ChangeFeed
import Foundation
import GatewayCore
import Logging
import RedisClient
import TestSupport
import Digests

/// A real redis-server, a feed on it, and signed webhook requests to an intake.
struct FeedRig {
    static let publicURL = "https://gateway.example.com/webhooks/hubspot"
    static let secret = "client-secret-1"

    let redis: RedisServerProcess
    let client: RedisClient
    let feed: ChangeFeed

    static func with(
        configure: (inout ChangeFeedConfiguration) -> Void = { _ in }, _ body: (FeedRig) async throws -> Void
    ) async throws {
        let redis = try await RedisServerProcess.start()
        var redisConfiguration = try RedisConfiguration(url: redis.url)
        redisConfiguration.commandTimeout = .seconds(2)
        redisConfiguration.maxReconnectDelay = .milliseconds(100)
        let client = RedisClient(configuration: redisConfiguration, logger: quietLogger())
        try await client.waitUntilConnected()
        var configuration = ChangeFeedConfiguration()
        configuration.keyPrefix = "test:\(UUID().uuidString)"
        configure(&configuration)
        let rig = FeedRig(redis: redis, client: client, feed: ChangeFeed(redis: client, configuration: configuration))
        do {
            try await body(rig)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    func intake(
        portals: PortalFilter? = nil, _ configure: (inout WebhookIntakeConfiguration) -> Void = { _ in }
    ) -> WebhookIntake {
        var configuration = WebhookIntakeConfiguration()
        configuration.publicURL = Self.publicURL
        configuration.clientSecrets = [Self.secret]
        configure(&configuration)
        return WebhookIntake(configuration: configuration, feed: feed, portals: portals, logger: quietLogger())
    }

    /// Every event in the feed, oldest first.
    func stored() async throws -> [ChangeEvent] {
        var events: [ChangeEvent] = []
        var cursor = "0-0"
        while true {
            let batch = try await feed.read(after: cursor, count: 500)
            guard let last = batch.last?.cursor else { return events }
            events += batch
            cursor = last
        }
    }
}

/// A webhook request as HubSpot sends it.
struct SignedDelivery {
    var body: [UInt8]
    var headers: [String: String]

    /// `events` as HubSpot's JSON, signed with v3 at `timestamp` (default: now).
    init(
        _ body: String, secret: String = FeedRig.secret, uri: String = FeedRig.publicURL,
        timestamp: Int64 = Int64(Date().timeIntervalSince1970 * 1000)
    ) {
        self.body = Array(body.utf8)
        headers = [
            "x-hubspot-signature-v3": HubSpotWebhookSignature.v3(
                clientSecret: secret, method: "POST", uri: uri, body: self.body, timestampMilliseconds: timestamp),
            "x-hubspot-request-timestamp": String(timestamp),
        ]
    }

    func send(to intake: WebhookIntake, query: String = "") async -> WebhookIntake.Answer {
        await intake.handle(method: "POST", query: query, header: { headers[$0.lowercased()] }, body: body)
    }

    /// HubSpot's event JSON.
    static func event(
        _ eventId: Int, _ subscriptionType: String, objectId: Int, property: (String, String)? = nil,
        extra: String = "", portal: Int = 62515
    ) -> String {
        var fields = [
            "\"eventId\":\(eventId)", "\"subscriptionId\":1", "\"portalId\":\(portal)", "\"appId\":1",
            "\"occurredAt\":1700000000000", "\"subscriptionType\":\"\(subscriptionType)\"", "\"attemptNumber\":0",
            "\"objectId\":\(objectId)", "\"changeSource\":\"CRM_UI\"",
        ]
        if let (name, value) = property {
            fields += ["\"propertyName\":\"\(name)\"", "\"propertyValue\":\"\(value)\""]
        }
        if !extra.isEmpty { fields.append(extra) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func batch(_ events: [String]) -> String { "[" + events.joined(separator: ",") + "]" }
}
