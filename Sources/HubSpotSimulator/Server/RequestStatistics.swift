import Synchronization
import Time

/// What arrived at the simulator: counts per endpoint, per status and per wall-clock second,
/// plus a bounded log of arrival times for sliding-window checks
/// ("never more than N requests in any one second").
final class RequestStatistics: Sendable {
    struct Arrival: Sendable {
        var milliseconds: Int64
        var status: Int
        /// A search call (HubSpot limits searches on their own).
        var search: Bool
    }

    /// One wall-clock second's requests, all and by endpoint (requests, of which 429s).
    struct Second: Sendable {
        var all = 0
        var rateLimited = 0
        var byEndpoint: [String: (all: Int, rateLimited: Int)] = [:]

        mutating func count(endpoint: String, refused: Bool) {
            all += 1
            byEndpoint[endpoint, default: (0, 0)].all += 1
            if refused {
                rateLimited += 1
                byEndpoint[endpoint, default: (0, 0)].rateLimited += 1
            }
        }
    }

    struct State: Sendable {
        var startedAt: Int64
        /// API requests received, counted when they arrive (before faults and handlers).
        var received = 0
        /// API requests answered (or dropped), counted when they end.
        var total = 0
        var byEndpoint: [String: Int] = [:]
        var byStatus: [Int: Int] = [:]
        /// API requests by the version of their path (`2026-09`, `legacy`).
        var byVersion: [String: Int] = [:]
        var byEndpointAndStatus: [String: [Int: Int]] = [:]
        /// Epoch second → (all, answered 429).
        var perSecond: [Int64: Second] = [:]
        var arrivals: [Arrival] = []
        var arrivalsHead = 0
        var arrivalsDropped = 0
    }

    private let capacity: Int
    private let time: TimeSource
    private let state: Mutex<State>

    init(capacity: Int, time: TimeSource) {
        self.capacity = max(1, capacity)
        self.time = time
        state = Mutex(State(startedAt: time.wallMilliseconds))
    }

    /// An API request arrived on a path of `version` (it is `record`ed when it ends).
    func arrived(version: String) {
        state.withLock {
            $0.received += 1
            $0.byVersion[version, default: 0] += 1
        }
    }

    func record(endpoint: String, status: Int, arrivedAt: Int64) {
        state.withLock { state in
            state.total += 1
            state.byEndpoint[endpoint, default: 0] += 1
            state.byStatus[status, default: 0] += 1
            state.byEndpointAndStatus[endpoint, default: [:]][status, default: 0] += 1
            let second = arrivedAt / 1000
            state.perSecond[second, default: Second()].count(endpoint: endpoint, refused: status == 429)
            if state.perSecond.count > 7200 {
                // Keep two hours of seconds.
                state.perSecond = state.perSecond.filter { $0.key > second - 7200 }
            }
            let arrival = Arrival(milliseconds: arrivedAt, status: status, search: endpoint.hasSuffix("search"))
            if state.arrivals.count < capacity {
                state.arrivals.append(arrival)
            } else {
                state.arrivals[state.arrivalsHead] = arrival
                state.arrivalsHead = (state.arrivalsHead + 1) % capacity
                state.arrivalsDropped += 1
            }
        }
    }

    func reset() {
        state.withLock { $0 = State(startedAt: time.wallMilliseconds) }
    }

    func snapshot() -> State { state.withLock { $0 } }

    /// The largest number of arrivals (all, not answered 429, and of these the searches and
    /// the other calls) inside any window of `windowMilliseconds`, over the kept arrival log.
    static func maxInWindow(_ state: State, windowMilliseconds: Int64) -> (
        all: Int, admitted: Int, admittedSearches: Int, admittedOthers: Int
    ) {
        let ordered = (Array(state.arrivals[state.arrivalsHead...]) + Array(state.arrivals[..<state.arrivalsHead]))
            .sorted { $0.milliseconds < $1.milliseconds }
        func maxWindow(_ times: [Int64]) -> Int {
            var best = 0
            var start = 0
            for end in times.indices {
                while times[end] - times[start] >= windowMilliseconds { start += 1 }
                best = max(best, end - start + 1)
            }
            return best
        }
        let admitted = ordered.filter { $0.status != 429 }
        return (
            maxWindow(ordered.map(\.milliseconds)), maxWindow(admitted.map(\.milliseconds)),
            maxWindow(admitted.filter(\.search).map(\.milliseconds)),
            maxWindow(admitted.filter { !$0.search }.map(\.milliseconds))
        )
    }
}
