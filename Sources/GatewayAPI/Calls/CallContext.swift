import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf
import Time

/// What every handler needs to know about the call it serves: until when, and at which priority.
public struct CallContext: Sendable {
    /// From the caller's `grpc-timeout`, or now + the default deadline when it sent none.
    public var deadline: ContinuousClock.Instant
    /// `x-gateway-priority: bulk` marks batch jobs and syncs, which only get the budget
    /// interactive callers leave.
    public var priority: CallPriority

    public init(metadata: Metadata, defaultTimeout: Duration, now: ContinuousClock.Instant = .now) {
        let terms = FrontMatter.terms(
            timeout: metadata.firstString("grpc-timeout").flatMap(Self.parseTimeout), defaultTimeout: defaultTimeout,
            priority: metadata.firstString("x-gateway-priority"), now: now)
        deadline = terms.deadline
        priority = terms.priority
    }

    /// `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n).
    static func parseTimeout(_ text: String) -> Duration? {
        guard let unit = text.last, let value = Int64(text.dropLast()), value >= 0, text.count <= 9 else { return nil }
        switch unit {
        case "H": return .seconds(value * 3600)
        case "M": return .seconds(value * 60)
        case "S": return .seconds(value)
        case "m": return .milliseconds(value)
        case "u": return .microseconds(value)
        case "n": return .nanoseconds(value)
        default: return nil
        }
    }
}

extension Hubspot_Gateway_V1_ReadOptions {
    /// nil: the cache's TTL; zero: bypass the cache.
    var maxStalenessDuration: Duration? {
        guard hasMaxStaleness else { return nil }
        return .seconds(maxStaleness.seconds) + .nanoseconds(Int64(maxStaleness.nanos))
    }
}

extension Hubspot_Gateway_V1_Freshness {
    init(_ read: RecordRead) {
        self.init()
        source =
            switch read.source {
            case .cache: .cache
            case .upstream: .hubspot
            case .stale: .staleCache
            }
        let milliseconds = read.age.milliseconds
        age = Google_Protobuf_Duration(seconds: milliseconds / 1000, nanos: Int32(milliseconds % 1000) * 1_000_000)
    }
}
