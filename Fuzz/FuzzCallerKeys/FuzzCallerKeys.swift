import CFuzzDriver
import GatewayCore

/// The caller-keys file (and HUBSPOT_GATEWAY_CALLER_KEYS), which operators write by hand:
/// any text is parsed or refused with a line number, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCallerKeys(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
    if let keys = try? CallerKeys(parsing: text) {
        _ = keys.caller(presenting: text)
        _ = keys.weights
    }
    return 0
}

/// The entry point SwiftPM's link aliases `main` to: libFuzzer's driver on the target above.
@_cdecl("FuzzCallerKeys_main")
public func fuzzCallerKeysMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    cfuzz_main(argc, argv) { data, count in fuzzCallerKeys(data, count) }
}
