import Tracing

/// The gateway's tracer: W3C trace context in and out (`traceparent`), spans parented through
/// the task-local `InstrumentationContext`, sampled spans handed to an `OTLPExporter`. A
/// caller's sampling decision is followed; a trace the gateway starts is sampled with
/// `sampleRatio`.
public struct OTLPTracer: Tracer {
    public typealias Span = OTLPSpan

    let exporter: OTLPExporter?
    public let sampleRatio: Double

    /// `exporter` nil: spans are made and propagated but never recorded.
    public init(exporter: OTLPExporter?, sampleRatio: Double = 1) {
        self.exporter = exporter
        self.sampleRatio = sampleRatio
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> OTLPSpan {
        var context = context()
        let parent = context.traceContext
        let trace = TraceContext(
            traceID: parent?.traceID ?? .random(), spanID: .random(),
            sampled: parent?.sampled ?? (sampleRatio >= 1 || Double.random(in: 0..<1) < sampleRatio))
        context.traceContext = trace
        return OTLPSpan(
            operationName: operationName, context: context, kind: kind, parentSpanID: parent?.spanID,
            startNanoseconds: instant().nanosecondsSinceEpoch, exporter: exporter)
    }

    public func forceFlush() { exporter?.flushSoon() }

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract
    ) where Extract.Carrier == Carrier {
        if let header = extractor.extract(key: "traceparent", from: carrier),
            let trace = TraceContext(traceparent: header)
        {
            context.traceContext = trace
        }
    }

    public func inject<Carrier, Inject: Injector>(
        _ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let trace = context.traceContext else { return }
        injector.inject(trace.traceparent, forKey: "traceparent", into: &carrier)
    }
}
