@testable import RedisClient

/// Bytes from the Redis server through hiredis' reader (`RESPReader`), fed in two pieces so
/// that replies split across reads are covered too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRESP(_ data: UnsafePointer<UInt8>, _ count: Int) -> CInt {
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
