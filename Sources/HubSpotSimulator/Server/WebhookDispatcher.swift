import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Digests
import JSONCore

/// Delivers store changes to the configured target as HubSpot does: JSON arrays of events,
/// signed with `X-HubSpot-Signature-v3`, retried with backoff when the target fails.
final class WebhookDispatcher: Sendable {
    struct Statistics: Sendable {
        var eventsQueued = 0
        var deliveries = 0
        var failedAttempts = 0
        var droppedBatches = 0
        var lastStatus: Int?
    }

    private struct Target: Sendable {
        var configuration: WebhookConfiguration
        var host: String
        var port: Int
        var path: String
        var uri: String
    }

    private struct State: Sendable {
        /// The first endpoint; deliveries rotate over `endpoints` (replicas behind a balancer).
        var target: Target?
        var endpoints: [Target] = []
        var nextEndpoint = 0
        var pending: [ChangeEvent] = []
        var nextEventId: Int64 = 1
        var statistics = Statistics()
        /// Batches held back to be delivered after the next one (the `reorder` fault).
        var heldBack: [UInt8]?
        var random = SplitMix64(seed: 0x3EB_400C)
    }

    private let portalId: Int
    private let appId: Int
    private let state = Mutex(State())
    private let logger: Logger

    /// Delivers to `configuration`'s target, or nowhere until `configure` names one.
    init(configuration: WebhookConfiguration?, portalId: Int, appId: Int, logger: Logger)
        throws(SimulatorConfigurationError)
    {
        self.portalId = portalId
        self.appId = appId
        self.logger = logger
        if let configuration { try configure(configuration) }
    }

    /// Points deliveries at a new target (a gateway started after the simulator); nil stops
    /// them (changes made meanwhile are not delivered, as with an app without subscriptions).
    func configure(_ configuration: WebhookConfiguration?) throws(SimulatorConfigurationError) {
        guard let configuration else {
            state.withLock {
                $0.target = nil
                $0.endpoints = []
            }
            return
        }
        var endpoints: [Target] = []
        for url in configuration.targetURL.split(separator: ",").map({ String($0.filter { $0 != " " }) }) {
            guard let parsed = Self.parseHTTPURL(url) else {
                throw SimulatorConfigurationError("webhook URL '\(url)' must look like http://host:port/path")
            }
            endpoints.append(
                Target(
                    configuration: configuration, host: parsed.host, port: parsed.port, path: parsed.path,
                    uri: configuration.signedURL ?? parsed.uri))
        }
        guard !endpoints.isEmpty else { throw SimulatorConfigurationError("the webhook target URL is empty") }
        state.withLock {
            $0.endpoints = endpoints
            $0.target = endpoints[0]
            $0.nextEndpoint = 0
        }
    }

    var configuration: WebhookConfiguration? { state.withLock { $0.target?.configuration } }

    static func parseHTTPURL(_ url: String) -> (host: String, port: Int, path: String, uri: String)? {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        let parts = authority.split(separator: ":")
        guard let host = parts.first, !host.isEmpty else { return nil }
        let port = parts.count > 1 ? Int(parts[1]) : 80
        guard let port else { return nil }
        return (String(host), port, path.isEmpty ? "/" : String(path), url)
    }

    var statistics: Statistics { state.withLock { $0.statistics } }

    /// Events queued and not yet taken into a delivery (a batch held back counts as one).
    var pendingEvents: Int { state.withLock { $0.pending.count + ($0.heldBack == nil ? 0 : 1) } }

    func enqueue(_ events: [ChangeEvent]) {
        guard !events.isEmpty else { return }
        state.withLock { state in
            guard state.target != nil else { return }
            state.pending += events
            state.statistics.eventsQueued += events.count
        }
    }

    /// Flushes queued events every `batchInterval` until cancelled.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration?.batchInterval ?? .milliseconds(200))
            while let (batch, target) = takeBatch() {
                let faults = target.configuration.faults
                if faults.delay > .zero { try? await Task.sleep(for: faults.delay) }
                // Out of order: this batch waits for the next one, which goes first.
                if faults.reorder {
                    let held: [UInt8]? = state.withLock { state in
                        defer { state.heldBack = state.heldBack == nil ? batch : nil }
                        return state.heldBack
                    }
                    guard let held else { continue }
                    await deliver(batch, to: target)
                    await deliver(held, to: target)
                    continue
                }
                await deliver(batch, to: target)
                let duplicate = state.withLock { Double.random(in: 0..<1, using: &$0.random) } < faults.duplicateRate
                if duplicate { await deliver(batch, to: target) }
            }
            // A batch held back for reordering goes out once nothing follows it.
            if let held = state.withLock({ state -> [UInt8]? in
                defer { state.heldBack = nil }
                return state.pending.isEmpty ? state.heldBack : nil
            }), let target = state.withLock({ $0.target }) {
                await deliver(held, to: target)
            }
        }
    }

    private func takeBatch() -> ([UInt8], Target)? {
        state.withLock { state -> ([UInt8], Target)? in
            guard !state.endpoints.isEmpty, !state.pending.isEmpty else { return nil }
            let target = state.endpoints[state.nextEndpoint % state.endpoints.count]
            state.nextEndpoint += 1
            let configuration = target.configuration
            let events = Array(state.pending.prefix(configuration.maxBatchSize))
            state.pending.removeFirst(events.count)
            var w = JSONWriter()
            w.beginArray()
            for event in events {
                WebhookEventJSON.write(&w, event, eventId: state.nextEventId, portalId: portalId, appId: appId)
                state.nextEventId += 1
            }
            w.endArray()
            return (w.bytes, target)
        }
    }

    private func deliver(_ body: [UInt8], to target: Target) async {
        let configuration = target.configuration
        var delay = configuration.retryBaseDelay
        for attempt in 1...max(1, configuration.maxAttempts) {
            let timestamp = Timestamps.now()
            let signature = HubSpotWebhookSignature.v3(
                clientSecret: configuration.clientSecret, method: "POST", uri: target.uri, body: body,
                timestampMilliseconds: timestamp)
            let status = await post(
                body: body, to: target,
                headers: [
                    ("Content-Type", "application/json"),
                    ("X-HubSpot-Signature-v3", signature),
                    ("X-HubSpot-Signature-Version", "v3"),
                    ("X-HubSpot-Request-Timestamp", String(timestamp)),
                    (
                        "User-Agent",
                        "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio) - hubspot-sim"
                    ),
                ])
            state.withLock { $0.statistics.lastStatus = status }
            if let status, (200..<300).contains(status) {
                state.withLock { $0.statistics.deliveries += 1 }
                return
            }
            state.withLock { $0.statistics.failedAttempts += 1 }
            logger.info(
                "webhook delivery failed",
                metadata: ["attempt": "\(attempt)", "status": "\(status.map(String.init) ?? "no answer")"])
            if attempt < configuration.maxAttempts {
                try? await Task.sleep(for: delay)
                delay *= 2
            }
        }
        state.withLock { $0.statistics.droppedBatches += 1 }
    }

    /// One POST on a fresh connection; nil when the target could not be reached in time.
    private func post(body: [UInt8], to target: Target, headers: [(String, String)]) async -> Int? {
        let configuration = target.configuration
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Int.self)
        let timeout = TimeAmount(configuration.timeout)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(StatusCollector(promise: promise))
                }
            }
        do {
            let channel = try await bootstrap.connect(host: target.host, port: target.port).get()
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target.path)
            head.headers.add(name: "Host", value: "\(target.host):\(target.port)")
            head.headers.add(name: "Content-Length", value: String(body.count))
            head.headers.add(name: "Connection", value: "close")
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            let scheduled = channel.eventLoop.scheduleTask(in: timeout) {
                promise.fail(ChannelError.connectTimeout(timeout))
                channel.close(promise: nil)
            }
            defer { scheduled.cancel() }
            let status = try await promise.futureResult.get()
            channel.close(promise: nil)
            return status
        } catch {
            promise.fail(error)
            return nil
        }
    }
}

/// Completes a promise with the status of the first response on the channel.
private final class StatusCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPClientResponsePart
    private let promise: EventLoopPromise<Int>

    init(promise: EventLoopPromise<Int>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) { promise.succeed(Int(head.status.code)) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.inputClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
