import CFuzzDriver
@testable import RedisClient

/// Bytes from the Redis server through hiredis' reader (`RESPReader`), fed in two pieces so
/// that replies split across reads are covered too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESP(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data, count: count)
    let reader = RESPReader()
    let split = count == 0 ? 0 : Int(bytes[0]) % (count + 1)
    for part in [bytes[..<split], bytes[split...]] {
        reader.feed(UnsafeRawBufferPointer(rebasing: part))
        while true {
            guard let reply = try? reader.next() else { break }
            _ = reply.string
            _ = reply.integer
        }
    }
    return 0
}

/// The entry point SwiftPM's link aliases `main` to: libFuzzer's driver on the target above.
@_cdecl("FuzzRESP_main")
public func fuzzRESPMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    cfuzz_main(argc, argv) { data, count in fuzzRESP(data, count) }
}
