import CoreMetrics
import Foundation
import Logging
import Digests

/// Settings of the webhook intake (`--webhook-*` options).
public struct WebhookIntakeConfiguration: Sendable {
    public enum SignatureVersion: String, Sendable, CaseIterable {
        case v1, v2, v3
    }

    /// The HTTP path the intake answers on.
    public var path = "/webhooks/hubspot"
    /// The URL configured in the HubSpot app, which HubSpot signs (v2, v3). Behind an ingress
    /// the gateway cannot rebuild it from the request, so it is configured.
    public var publicURL: String?
    /// The app's client secrets; several at once while one is rotated out.
    public var clientSecrets: [String] = []
    /// The signature versions accepted (v1 and v2 carry no timestamp and can be replayed).
    public var signatureVersions: Set<SignatureVersion> = [.v3]
    /// Oldest `X-HubSpot-Request-Timestamp` accepted (HubSpot's rule: 5 minutes).
    public var maxAge: Duration = .seconds(300)
    /// Largest body accepted (HubSpot sends at most 100 events).
    public var maxBodyBytes = 1 << 20
    /// Most events accepted in one request.
    public var maxEventsPerRequest = 100

    public init() {}
}

/// HubSpot's webhook deliveries in: signature checked, events parsed, stored in the feed at
/// most once, and only then answered 200. Anything the gateway cannot store is answered 503,
/// so HubSpot delivers it again; nothing unsigned reaches the feed. Independent of the HTTP
/// framework: the route hands it the request's parts.
public struct WebhookIntake: Sendable {
    /// How a request ended, as counted (`gateway_webhook_requests_total{outcome}`).
    public enum Outcome: String, Sendable {
        case accepted
        /// Every event was already in the feed (a retried delivery).
        case duplicate
        case badSignature = "bad_signature"
        /// The same signed request again.
        case replayed
        case tooLarge = "too_large"
        case malformed
        /// The feed could not be written (Redis unreachable): HubSpot will retry.
        case unavailable
    }

    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var body: String
        public var outcome: Outcome
    }

    public let configuration: WebhookIntakeConfiguration
    let feed: ChangeFeed
    let logger: Logger
    /// Drops the events of other portals (nil: every event is kept).
    let portals: PortalFilter?

    public init(
        configuration: WebhookIntakeConfiguration, feed: ChangeFeed, portals: PortalFilter? = nil, logger: Logger
    ) {
        self.configuration = configuration
        self.feed = feed
        self.portals = portals
        self.logger = logger
    }

    /// Handles one delivery. `header` looks a header up by name (case-insensitively);
    /// `query` is the request's query string without `?` (empty: none).
    public func handle(
        method: String, query: String, header: (String) -> String?, body: [UInt8], now: Date = Date()
    ) async -> Answer {
        let answer =
            body.count > configuration.maxBodyBytes
            ? tooLargeAnswer : await answer(method: method, query: query, header: header, body: body, now: now)
        return counted(answer)
    }

    /// The answer to a body over `maxBodyBytes` (the route stops reading it there), counted.
    public func tooLarge() -> Answer { counted(tooLargeAnswer) }

    private var tooLargeAnswer: Answer {
        Answer(status: 413, body: "the body is larger than \(configuration.maxBodyBytes) bytes", outcome: .tooLarge)
    }

    /// Counts (and logs, when refused) how a request ended.
    private func counted(_ answer: Answer) -> Answer {
        Counter(label: Self.requestsMetric, dimensions: [("outcome", answer.outcome.rawValue)]).increment()
        if answer.status >= 400 {
            logger.notice(
                "webhook request refused",
                metadata: [
                    "status": "\(answer.status)", "outcome": "\(answer.outcome.rawValue)", "why": "\(answer.body)",
                ])
        }
        return answer
    }

    public static let requestsMetric = "gateway_webhook_requests_total"
    public static let eventsMetric = "gateway_webhook_events_total"

    private func answer(
        method: String, query: String, header: (String) -> String?, body: [UInt8], now: Date
    ) async -> Answer {
        let requestKey: String?
        switch verify(method: method, query: query, header: header, body: body, now: now) {
        case .success(let key): requestKey = key
        case .failure(let why): return Answer(status: 401, body: why.message, outcome: .badSignature)
        }
        let delivered: [ChangeEvent]
        do {
            delivered = try WebhookEvents.parse(body, maxEvents: configuration.maxEventsPerRequest)
        } catch {
            return Answer(status: 400, body: error.message, outcome: .malformed)
        }
        // Another portal's events are answered as accepted (HubSpot must not retry them) and
        // never stored.
        let events = portals?.keep(delivered, intake: "webhook") ?? delivered
        let foreign = delivered.count - events.count
        let appended: ChangeFeed.Appended
        do {
            appended = try await feed.append(events, requestKey: requestKey, replayWindow: configuration.maxAge)
        } catch {
            logger.warning("could not store webhook events; HubSpot will retry", metadata: ["error": "\(error)"])
            return Answer(
                status: 503, body: "the change feed cannot be written now; deliver again later", outcome: .unavailable)
        }
        if appended.replayed {
            return Answer(status: 401, body: "this signed request was already received", outcome: .replayed)
        }
        for (event, cursor) in zip(events, appended.cursors) where cursor != nil {
            Counter(label: Self.eventsMetric, dimensions: [("kind", event.kind.rawValue)]).increment()
        }
        let stored = appended.storedCount
        return Answer(
            status: 200,
            body: "{\"accepted\":\(stored),\"duplicates\":\(events.count - stored)"
                + (foreign > 0 ? ",\"otherPortals\":\(foreign)}" : "}"),
            outcome: stored == 0 && !events.isEmpty ? .duplicate : .accepted)
    }

    /// The signed URI: the configured public URL, with the request's query string when the
    /// configured URL has none.
    func signedURI(query: String) -> String {
        let base = configuration.publicURL ?? configuration.path
        return query.isEmpty || base.contains("?") ? base : base + "?" + query
    }

    /// Checks the request's signature with every configured secret (all of them, so the time
    /// taken does not say which one matched). Success carries a key for replay detection (v3).
    func verify(method: String, query: String, header: (String) -> String?, body: [UInt8], now: Date)
        -> Result<String?, VerificationRefusal>
    {
        guard !configuration.clientSecrets.isEmpty else {
            return .failure(VerificationRefusal("the webhook intake has no client secret configured"))
        }
        let uri = signedURI(query: query)
        if let signature = header("X-HubSpot-Signature-v3") {
            guard configuration.signatureVersions.contains(.v3) else {
                return .failure(VerificationRefusal("signature v3 is not accepted here"))
            }
            var matched = false
            var failure: HubSpotWebhookSignature.VerificationFailure?
            for secret in configuration.clientSecrets {
                do {
                    try HubSpotWebhookSignature.verifyV3(
                        clientSecret: secret, method: method, uri: uri, body: body, signature: signature,
                        timestamp: header("X-HubSpot-Request-Timestamp"), now: now, maxAge: configuration.maxAge)
                    matched = true
                } catch {
                    failure = failure ?? error
                }
            }
            if matched { return .success(signature) }
            return .failure(VerificationRefusal(Self.explain(failure ?? .signatureMismatch)))
        }
        let version = (header("X-HubSpot-Signature-Version") ?? "v1").lowercased()
        guard let signature = header("X-HubSpot-Signature") else {
            return .failure(VerificationRefusal("the request carries no HubSpot signature"))
        }
        guard let accepted = WebhookIntakeConfiguration.SignatureVersion(rawValue: version),
            configuration.signatureVersions.contains(accepted)
        else {
            return .failure(VerificationRefusal("signature \(version) is not accepted here"))
        }
        var matched = false
        for secret in configuration.clientSecrets {
            if (try? HubSpotWebhookSignature.verify(
                version: version, clientSecret: secret, method: method, uri: uri, body: body, signature: signature))
                != nil
            {
                matched = true
            }
        }
        return matched ? .success(nil) : .failure(VerificationRefusal("the \(version) signature does not match"))
    }

    static func explain(_ failure: HubSpotWebhookSignature.VerificationFailure) -> String {
        switch failure {
        case .missingSignature: "the request carries no X-HubSpot-Signature-v3"
        case .missingOrInvalidTimestamp: "X-HubSpot-Request-Timestamp is missing or not milliseconds"
        case .timestampTooOld(let age):
            "the request is \(age / 1000) s old; HubSpot's signatures are good for 5 minutes"
        case .signatureMismatch: "the v3 signature does not match"
        }
    }
}

/// Why a webhook request's signature was refused.
struct VerificationRefusal: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
