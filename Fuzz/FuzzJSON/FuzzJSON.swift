import CFuzzDriver
import ChangeFeed
import JSONCore

/// Outside bytes that reach JSONCore: every webhook body HubSpot (or anyone) POSTs, parsed
/// and turned into change events. Nothing may crash, hang or read out of bounds.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    _ = try? JSONParser.parse(bytes)
    _ = try? WebhookEvents.parse(bytes)
    return 0
}

/// The entry point SwiftPM's link aliases `main` to: libFuzzer's driver on the target above.
@_cdecl("FuzzJSON_main")
public func fuzzJSONMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    cfuzz_main(argc, argv) { data, count in fuzzJSON(data, count) }
}
