import JSONCore
import Tracing

/// OTLP/HTTP's JSON encoding of `ExportTraceServiceRequest` (opentelemetry-proto's
/// `trace/v1`): ids in lower-case hex, times as decimal strings of Unix nanoseconds, enums
/// as numbers.
enum OTLPJSON {
    static func request(_ spans: [FinishedSpan], resource: [(String, String)], scope: String) -> [UInt8] {
        var json = JSONWriter(capacity: 512 * spans.count + 256)
        json.beginObject()
        json.key("resourceSpans")
        json.beginArray()
        json.beginObject()
        json.key("resource")
        json.beginObject()
        json.key("attributes")
        json.beginArray()
        for (key, value) in resource { attribute(&json, key, .string(value)) }
        json.endArray()
        json.endObject()
        json.key("scopeSpans")
        json.beginArray()
        json.beginObject()
        json.key("scope")
        json.beginObject()
        json.member("name", scope)
        json.endObject()
        json.key("spans")
        json.beginArray()
        for span in spans { encode(span, into: &json) }
        json.endArray()
        json.endObject()
        json.endArray()
        json.endObject()
        json.endArray()
        json.endObject()
        return json.bytes
    }

    private static func encode(_ span: FinishedSpan, into json: inout JSONWriter) {
        json.beginObject()
        json.member("traceId", span.trace.traceID.hex)
        json.member("spanId", span.trace.spanID.hex)
        if let parent = span.parentSpanID { json.member("parentSpanId", parent.hex) }
        json.member("name", span.name)
        json.member("kind", kind(span.kind))
        json.member("startTimeUnixNano", String(span.startNanoseconds))
        json.member("endTimeUnixNano", String(span.endNanoseconds))
        json.key("attributes")
        attributes(&json, span.attributes)
        if !span.events.isEmpty {
            json.key("events")
            json.beginArray()
            for event in span.events {
                json.beginObject()
                json.member("name", event.name)
                json.member("timeUnixNano", String(event.nanosecondsSinceEpoch))
                json.key("attributes")
                attributes(&json, event.attributes)
                json.endObject()
            }
            json.endArray()
        }
        if !span.links.isEmpty {
            json.key("links")
            json.beginArray()
            for link in span.links {
                json.beginObject()
                json.member("traceId", link.traceID.hex)
                json.member("spanId", link.spanID.hex)
                json.endObject()
            }
            json.endArray()
        }
        if let status = span.status {
            json.key("status")
            json.beginObject()
            json.member("code", status.code == .ok ? 1 : 2)
            if let message = status.message { json.member("message", message) }
            json.endObject()
        }
        json.endObject()
    }

    private static func kind(_ kind: SpanKind) -> Int {
        switch kind {
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        default: 1
        }
    }

    private static func attributes(_ json: inout JSONWriter, _ attributes: SpanAttributes) {
        json.beginArray()
        attributes.forEach { key, value in attribute(&json, key, value) }
        json.endArray()
    }

    private static func attribute(_ json: inout JSONWriter, _ key: String, _ value: SpanAttribute) {
        json.beginObject()
        json.member("key", key)
        json.key("value")
        json.beginObject()
        switch value {
        case .int32(let number): json.member("intValue", String(number))
        case .int64(let number): json.member("intValue", String(number))
        case .double(let number): json.key("doubleValue"); json.value(.number(number))
        case .bool(let flag): json.member("boolValue", flag)
        case .string(let text): json.member("stringValue", text)
        default: json.member("stringValue", "\(value)")
        }
        json.endObject()
        json.endObject()
    }
}
