import ChangeFeed
import JSONCore

/// Outside bytes that reach JSONCore: every webhook body HubSpot (or anyone) POSTs, parsed
/// and turned into change events. Nothing may crash, hang or read out of bounds.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    _ = try? JSONParser.parse(bytes)
    _ = try? WebhookEvents.parse(bytes)
    return 0
}
