import Foundation

/// A latency to add before answering.
public enum LatencySpec: Sendable, Equatable {
    case none
    case fixed(milliseconds: Int)
    /// Uniformly distributed between the bounds.
    case uniform(minMilliseconds: Int, maxMilliseconds: Int)
    /// Normally distributed, clamped at zero.
    case normal(meanMilliseconds: Int, standardDeviationMilliseconds: Int)

    /// Parses `50`, `20-80` (uniform) or `50~10` (normal: mean~deviation), all in milliseconds.
    public static func parse(_ text: String) -> LatencySpec? {
        if let fixed = Int(text), fixed >= 0 { return fixed == 0 ? LatencySpec.none : .fixed(milliseconds: fixed) }
        let uniform = text.split(separator: "-").compactMap { Int($0) }
        if uniform.count == 2, uniform[0] >= 0, uniform[0] <= uniform[1] {
            return .uniform(minMilliseconds: uniform[0], maxMilliseconds: uniform[1])
        }
        let normal = text.split(separator: "~").compactMap { Int($0) }
        if normal.count == 2, normal[0] >= 0, normal[1] >= 0 {
            return .normal(meanMilliseconds: normal[0], standardDeviationMilliseconds: normal[1])
        }
        return nil
    }

    func sample<G: RandomNumberGenerator>(using generator: inout G) -> Int {
        switch self {
        case .none: return 0
        case .fixed(let ms): return ms
        case .uniform(let low, let high): return Int.random(in: low...high, using: &generator)
        case .normal(let mean, let deviation):
            // Box–Muller.
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &generator)
            let u2 = Double.random(in: 0..<1, using: &generator)
            let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
            return max(0, Int((Double(mean) + z * Double(deviation)).rounded()))
        }
    }

    var description: String {
        switch self {
        case .none: "0"
        case .fixed(let ms): "\(ms)"
        case .uniform(let low, let high): "\(low)-\(high)"
        case .normal(let mean, let deviation): "\(mean)~\(deviation)"
        }
    }
}

/// One fault rule, applied to the endpoints it names.
public struct FaultRule: Sendable, Equatable {
    /// Endpoint name (`objects.get`, `objects.batch.read`, …) or prefix ending in `*`; nil = all.
    public var endpoint: String?
    public var latency: LatencySpec = .none
    /// Fraction of requests answered with one of `errorStatuses`.
    public var errorRate: Double = 0
    public var errorStatuses: [Int] = [500, 502, 503, 504]
    /// Fraction of requests whose connection is closed without an answer.
    public var dropRate: Double = 0
    /// Send the response body in pieces with this pause between them.
    public var slowBodyChunkDelay: Duration? = nil
    public var slowBodyChunkBytes: Int = 64
    /// The rule spares this many matching requests before it applies ("the second page hangs").
    public var afterRequests: Int = 0

    public init(endpoint: String? = nil) { self.endpoint = endpoint }

    func applies(to name: String) -> Bool {
        guard let endpoint else { return true }
        if endpoint.hasSuffix("*") { return name.hasPrefix(endpoint.dropLast()) }
        return endpoint == name
    }
}

/// Faults and latency in force; replaceable at run time through `/_sim/faults`.
public struct FaultConfiguration: Sendable, Equatable {
    /// Every API request is answered 503 (HubSpot down).
    public var outage = false
    public var rules: [FaultRule] = []
    /// Requests each rule has matched since the faults were set (for `afterRequests`).
    var matched: [Int] = []
    public init() {}

    /// The rules that apply to this request of `endpoint`, counting it against each rule that matches.
    mutating func rulesApplying(to endpoint: String) -> [FaultRule] {
        if matched.count != rules.count { matched = Array(repeating: 0, count: rules.count) }
        var applying: [FaultRule] = []
        for (index, rule) in rules.enumerated() where rule.applies(to: endpoint) {
            matched[index] += 1
            if matched[index] > rule.afterRequests { applying.append(rule) }
        }
        return applying
    }
}
