import Foundation
@testable import GatewayTracing
import JSONCore
import Logging
import Testing
import Tracing

@Suite struct TraceContextTests {
    @Test func parsesAndWritesW3CTraceparent() throws {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let context = try #require(TraceContext(traceparent: header))
        #expect(context.traceID.hex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.spanID.hex == "00f067aa0ba902b7")
        #expect(context.sampled)
        #expect(context.traceparent == header)
        // A later version is read as version 00 (extra fields ignored), as the spec asks.
        #expect(
            TraceContext(traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra")?.sampled == false
        )
    }

    @Test func refusesMalformedOrZeroIds() {
        for bad in [
            "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            #expect(TraceContext(traceparent: bad) == nil, "\(bad)")
        }
    }
}

@Suite struct OTLPTracerTests {
    private func exporter(queue: Int = 100) -> OTLPExporter {
        var configuration = OTLPExporter.Configuration(endpoint: "http://127.0.0.1:9/")
        configuration.maxQueueSize = queue
        return OTLPExporter(configuration: configuration, logger: Logger(label: "test"))
    }

    @Test func childSpansShareTheTraceAndNameTheirParent() throws {
        let tracer = OTLPTracer(exporter: exporter())
        let root = tracer.startSpan("root", context: .topLevel, ofKind: .server)
        let child = tracer.startSpan("child", context: root.context, ofKind: .client)
        let rootTrace = try #require(root.context.traceContext)
        let childTrace = try #require(child.context.traceContext)
        #expect(childTrace.traceID == rootTrace.traceID && childTrace.spanID != rootTrace.spanID)
        #expect(child.parentSpanID == rootTrace.spanID && root.parentSpanID == nil)
        #expect(child.isRecording)
        child.end()
        #expect(!child.isRecording)
    }

    @Test func theCallersSamplingDecisionIsFollowed() throws {
        let tracer = OTLPTracer(exporter: exporter(), sampleRatio: 1)
        var parent = InstrumentationContext.topLevel
        parent.traceContext = TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
        let span = tracer.startSpan("rpc", context: parent, ofKind: .server)
        #expect(!span.isRecording)
        #expect(span.context.traceContext?.sampled == false)
        // Never sampling the gateway's own traces.
        #expect(!OTLPTracer(exporter: exporter(), sampleRatio: 0).startSpan("x", context: .topLevel).isRecording)
    }

    @Test func injectAndExtractCarryTraceparent() throws {
        let tracer = OTLPTracer(exporter: nil)
        let span = tracer.startSpan("rpc", context: .topLevel)
        var headers: [String: String] = [:]
        tracer.inject(span.context, into: &headers, using: DictionaryInjector())
        var extracted = InstrumentationContext.topLevel
        tracer.extract(headers, into: &extracted, using: DictionaryExtractor())
        #expect(extracted.traceContext == span.context.traceContext)
    }

    @Test func aFullQueueDropsSpansInsteadOfGrowing() async throws {
        let exporter = exporter(queue: 2)
        let tracer = OTLPTracer(exporter: exporter)
        for _ in 0..<5 { tracer.startSpan("x", context: .topLevel).end() }
        #expect(exporter.queuedCount == 2)
    }

    @Test func spansAreEncodedAsOTLPJSON() throws {
        let tracer = OTLPTracer(exporter: nil)
        let parent = tracer.startSpan("parent", context: .topLevel)
        let trace = try #require(parent.context.traceContext)
        var attributes = SpanAttributes()
        attributes["rpc.system"] = "grpc"
        attributes["hubspot.attempt"] = Int64(2)
        let span = FinishedSpan(
            trace: trace, parentSpanID: SpanID(value: 0xab), name: "call", kind: .client, startNanoseconds: 1,
            endNanoseconds: 2_000_000_000, attributes: attributes, events: [],
            links: [trace], status: SpanStatus(code: .error, message: "HTTP 502"))
        let json = try JSONParser.parse(
            OTLPJSON.request([span], resource: [("service.name", "hubspot-gateway")], scope: "hubspot-gateway"))
        let encoded = try #require(
            json["resourceSpans"]?.arrayValue?.first?["scopeSpans"]?.arrayValue?.first?["spans"]?.arrayValue?.first)
        #expect(encoded["traceId"]?.stringValue == trace.traceID.hex)
        #expect(encoded["parentSpanId"]?.stringValue == "00000000000000ab")
        #expect(encoded["kind"] == .number(3))
        #expect(encoded["endTimeUnixNano"]?.stringValue == "2000000000")
        #expect(encoded["status"]?["code"] == .number(2))
        #expect(encoded["links"]?.arrayValue?.first?["spanId"]?.stringValue == trace.spanID.hex)
        let keys = encoded["attributes"]?.arrayValue?.compactMap { $0["key"]?.stringValue } ?? []
        #expect(Set(keys) == ["rpc.system", "hubspot.attempt"])
    }
}

private struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

private struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}
