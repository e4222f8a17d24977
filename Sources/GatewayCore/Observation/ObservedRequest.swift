import Synchronization

/// What the outermost observer of a request (the gRPC interceptor, the REST middleware) learns
/// from the code inside it: today the calling service, recorded once its key is checked.
public final class ObservedRequest: Sendable {
    private let state = Mutex<String?>(nil)
    /// The request id the observer gave the request (for error details).
    public let requestId: String?

    public init(requestId: String? = nil) { self.requestId = requestId }

    /// The calling service's name, once authenticated.
    public var caller: String? { state.withLock { $0 } }

    public func record(caller: String) { state.withLock { $0 = caller } }

    /// The request being observed (set by the observer around the handler).
    @TaskLocal public static var current: ObservedRequest?

    /// The caller label of requests that presented no valid key (and of health and reflection).
    public static let anonymousCaller = "none"
}

/// Which finished requests get an access-log line (`--access-log`).
public enum AccessLogPolicy: String, Sendable, CaseIterable {
    /// Every request.
    case all
    /// Requests that failed (gRPC status other than OK; HTTP status 400 or above).
    case errors
    /// None (metrics only).
    case off
}

/// Request ids: the caller's own (`x-request-id`) when it is a sane token, else a new one.
public enum RequestIds {
    private static let sequence = Atomic<UInt64>(.random(in: .min ... .max))

    /// `given` when it is 1–128 visible ASCII characters, else 16 hex digits that look random
    /// and never repeat within the process.
    public static func make(given: String?) -> String {
        if let given, !given.isEmpty, given.utf8.count <= 128, given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        // A counter from a random start, through SplitMix64's finalizer (a bijection): unique
        // here, as unlikely as random ones to meet another replica's, and no system call per
        // request (the system's random source cost ~1 % of a cache hit).
        var bits = sequence.add(1, ordering: .relaxed).newValue
        bits = (bits ^ (bits >> 30)) &* 0xbf58_476d_1ce4_e5b9
        bits = (bits ^ (bits >> 27)) &* 0x94d0_49bb_1331_11eb
        bits ^= bits >> 31
        return String(unsafeUninitializedCapacity: 16) { buffer in
            let digits: StaticString = "0123456789abcdef"
            for index in (0..<16).reversed() {
                buffer[index] = digits.utf8Start[Int(bits & 0xf)]
                bits >>= 4
            }
            return 16
        }
    }
}
