import Synchronization
import Tracing

/// A span of `OTLPTracer`: mutable until it ends, then handed to the exporter once (when
/// sampled).
public final class OTLPSpan: Span {
    public let context: InstrumentationContext
    public let kind: SpanKind
    public let parentSpanID: SpanID?
    let startNanoseconds: UInt64
    private let exporter: OTLPExporter?

    struct State {
        var operationName: String
        var attributes: SpanAttributes = [:]
        var events: [SpanEvent] = []
        var links: [SpanLink] = []
        var status: SpanStatus?
        var ended = false
    }
    private let state: Mutex<State>

    init(
        operationName: String, context: InstrumentationContext, kind: SpanKind, parentSpanID: SpanID?,
        startNanoseconds: UInt64, exporter: OTLPExporter?
    ) {
        self.context = context
        self.kind = kind
        self.parentSpanID = parentSpanID
        self.startNanoseconds = startNanoseconds
        self.exporter = context.traceContext?.sampled == true ? exporter : nil
        state = Mutex(State(operationName: operationName))
    }

    public var operationName: String {
        get { state.withLock { $0.operationName } }
        set { state.withLock { if !$0.ended { $0.operationName = newValue } } }
    }

    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { if !$0.ended { $0.attributes = newValue } } }
    }

    public var isRecording: Bool { exporter != nil && !state.withLock { $0.ended } }

    public func setStatus(_ status: SpanStatus) {
        state.withLock { if !$0.ended { $0.status = status } }
    }

    public func addEvent(_ event: SpanEvent) {
        state.withLock { if !$0.ended { $0.events.append(event) } }
    }

    public func recordError<Instant: TracerInstant>(
        _ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant
    ) {
        var attributes = attributes
        attributes["exception.type"] = "\(type(of: error))"
        attributes["exception.message"] = "\(error)"
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: attributes))
    }

    public func addLink(_ link: SpanLink) {
        state.withLock { if !$0.ended { $0.links.append(link) } }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let finished: State? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        guard let finished, let exporter, let trace = context.traceContext else { return }
        exporter.enqueue(
            FinishedSpan(
                trace: trace, parentSpanID: parentSpanID, name: finished.operationName, kind: kind,
                startNanoseconds: startNanoseconds, endNanoseconds: instant().nanosecondsSinceEpoch,
                attributes: finished.attributes, events: finished.events,
                links: finished.links.compactMap { $0.context.traceContext }, status: finished.status))
    }
}

/// What the exporter sends of an ended span.
struct FinishedSpan: Sendable {
    var trace: TraceContext
    var parentSpanID: SpanID?
    var name: String
    var kind: SpanKind
    var startNanoseconds: UInt64
    var endNanoseconds: UInt64
    var attributes: SpanAttributes
    var events: [SpanEvent]
    var links: [TraceContext]
    var status: SpanStatus?
}
