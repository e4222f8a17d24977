import CoreMetrics
import HubSpotAPI
import Logging
import ServiceLifecycle
import Synchronization

/// Sends finished spans to an OpenTelemetry collector over OTLP/HTTP (JSON), in batches, from
/// a bounded queue: when the collector is slow or down, spans are dropped (and counted), never
/// the gateway's requests held up or its memory grown.
public final class OTLPExporter: Service, Sendable {
    public struct Configuration: Sendable {
        /// The collector's OTLP/HTTP base URL (`http://otel-collector:4318`); spans go to
        /// `/v1/traces` under it unless the URL already names that path.
        public var endpoint: String
        /// Resource attributes (`service.name`, `service.instance.id`, …).
        public var resource: [(String, String)] = [("service.name", "hubspot-gateway")]
        /// How often queued spans are sent.
        public var exportInterval: Duration = .seconds(1)
        /// Spans per request at most; a fuller queue is sent at once.
        public var maxBatchSize = 512
        /// Spans held while the collector is behind; more are dropped.
        public var maxQueueSize = 4096
        /// Longest one export may take.
        public var timeout: Duration = .seconds(5)

        public init(endpoint: String) { self.endpoint = endpoint }

        var tracesURL: String {
            let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
            return base.hasSuffix("/v1/traces") ? base : base + "/v1/traces"
        }
    }

    /// Metric names.
    public enum Name {
        /// Spans the collector accepted.
        public static let exported = "gateway_trace_spans_exported_total"
        /// Spans dropped, by `reason` (`queue_full`, `export_failed`).
        public static let dropped = "gateway_trace_spans_dropped_total"
    }

    public let configuration: Configuration
    private let transport: CurlTransport
    private let logger: Logger
    private let queue = Mutex<[FinishedSpan]>([])
    /// When a failed export was last logged (at most one warning a minute while the collector is down).
    private let lastWarning = Mutex<ContinuousClock.Instant?>(nil)
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    private let exported = Counter(label: Name.exported)
    private let droppedFull = Counter(label: Name.dropped, dimensions: [("reason", "queue_full")])
    private let droppedFailed = Counter(label: Name.dropped, dimensions: [("reason", "export_failed")])

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        transport = CurlTransport()
        (wakes, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func enqueue(_ span: FinishedSpan) {
        let (accepted, full) = queue.withLock { queue -> (Bool, Bool) in
            guard queue.count < configuration.maxQueueSize else { return (false, true) }
            queue.append(span)
            return (true, queue.count >= configuration.maxBatchSize)
        }
        if !accepted { droppedFull.increment() }
        if full { wake.yield() }
    }

    /// Spans waiting to be sent.
    var queuedCount: Int { queue.withLock { $0.count } }

    /// Asks for the queue to be sent without waiting for the interval.
    public func flushSoon() { wake.yield() }

    /// Sends every `exportInterval` (sooner when a batch is full) until shutdown, then sends
    /// what is left once.
    public func run() async throws {
        let interval = configuration.exportInterval
        let ticker = Task { [wake] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                wake.yield()
            }
        }
        defer { ticker.cancel() }
        await cancelWhenGracefulShutdown {
            for await _ in self.wakes {
                await self.exportQueued()
                if Task.isCancelled { break }
            }
        }
        await exportQueued()
        transport.shutdown()
    }

    /// Sends everything queued now, in batches.
    func exportQueued() async {
        while true {
            let batch = queue.withLock { queue -> [FinishedSpan] in
                let batch = Array(queue.prefix(configuration.maxBatchSize))
                queue.removeFirst(batch.count)
                return batch
            }
            guard !batch.isEmpty else { return }
            await send(batch)
        }
    }

    private func send(_ batch: [FinishedSpan]) async {
        let body = OTLPJSON.request(batch, resource: configuration.resource, scope: "hubspot-gateway")
        let request = HTTPRequest(
            method: .post, url: configuration.tracesURL, headers: [("Content-Type", "application/json")], body: body)
        do {
            let response = try await transport.send(request, timeout: configuration.timeout)
            guard (200..<300).contains(response.status) else {
                throw ExportRefused(
                    status: response.status, body: String(decoding: response.body.prefix(200), as: UTF8.self))
            }
            exported.increment(by: batch.count)
        } catch {
            droppedFailed.increment(by: batch.count)
            let now = ContinuousClock.now
            let due = lastWarning.withLock { last in
                guard last.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
                last = now
                return true
            }
            guard due else { return }
            logger.warning(
                "could not export spans to the OTLP collector; dropped them",
                metadata: ["spans": "\(batch.count)", "error": "\(error)", "url": "\(configuration.tracesURL)"])
        }
    }

    private struct ExportRefused: Error, CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "the collector answered HTTP \(status): \(body)" }
    }
}
