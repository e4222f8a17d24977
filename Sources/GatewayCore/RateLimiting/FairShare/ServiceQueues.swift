import Synchronization
import Time

/// This replica's view of each calling service's HubSpot calls: how many wait for a slot, at
/// what rate the service has been granted slots lately, what it was charged and refused. It
/// answers the early refusal (a call whose place in its service's queue cannot be reached
/// before its deadline is refused at once) and feeds `GetStatus` and the metrics.
///
/// A service's calls wait in line here, first come first served: only the head of each line
/// asks the fleet's limiter for a slot (the Redis script decides between services), so a call's
/// place in line and the service's grant rate say when its turn comes.
///
/// Each replica judges by its own line and its own grants: with callers spread over the
/// replicas (what the gRPC load balancing does), a service's local line and local rate are
/// both about 1/replicas of the fleet's, so their ratio — the wait — is the fleet's.
final class ServiceQueues: Sendable {
    struct Key: Hashable, Sendable {
        var kind: UpstreamCallKind
        var priority: CallPriority
        /// nil: the gateway's own calls.
        var service: String?
    }

    private struct Queue {
        /// Calls in line, in arrival order; the first asks the limiter.
        var line: [Int] = []
        /// Calls in line waiting for their turn (all but the head, once they parked).
        var parked: [Int: Parked] = [:]
        /// Times of the latest grants (oldest first), for the grant rate.
        var grants: [ContinuousClock.Instant] = []
        /// The service's weight, as its calls claim it.
        var weight: Double = 1
    }

    private struct State {
        var queues: [Key: Queue] = [:]
        var statistics: [String: ServiceBudgetStatistics] = [:]
        var nextToken = 0
    }

    private let state = Mutex(State())
    private let metrics: GatewayMetrics
    private let time: TimeSource

    init(metrics: GatewayMetrics, time: TimeSource = .system) {
        self.metrics = metrics
        self.time = time
    }
    /// Grants remembered per queue for the rate; older than `rateHorizon` they no longer count.
    static let rateSamples = 32
    static let rateHorizon: Duration = .seconds(10)
    /// A rate needs this many grants before it is trusted for a refusal.
    static let minimumSamples = 4

    /// Joins `key`'s line and returns once the call is at its head (at once for the gateway's
    /// own calls, which have no line); the token it returns leaves the line. Throws
    /// `RateLimitExceeded` (`callerShare`) when the deadline comes first.
    func waitTurn(_ key: Key, weight: Double, budgetPerSecond: Double, deadline: ContinuousClock.Instant)
        async throws -> Int?
    {
        guard let service = key.service else { return nil }
        let (token, head, length) = state.withLock { state -> (Int, Bool, Int) in
            let token = state.nextToken
            state.nextToken += 1
            state.queues[key, default: Queue()].line.append(token)
            state.queues[key]!.weight = weight
            state.statistics[service, default: ServiceBudgetStatistics(service: service)].queued += 1
            let line = state.queues[key]!.line
            return (token, line.count == 1, line.count)
        }
        metrics.gauge(GatewayMetrics.Name.budgetQueued, Self.labels(key, service), Double(length))
        guard !head else { return token }
        do {
            try await park(key, token, deadline: deadline, budgetPerSecond: budgetPerSecond)
        } catch {
            leave(key, token)
            throw error
        }
        return token
    }

    /// A call parked in its line: resumed when it heads the line, or with `RateLimitExceeded`
    /// by its timer at the deadline. Whoever resumes it first takes it out of `parked` and cancels
    /// the timer at once, so no timer outlives its call.
    private struct Parked {
        var continuation: CheckedContinuation<Void, any Error>
        var timer: Task<Void, Never>?

        func resume(throwing error: (any Error)? = nil) {
            timer?.cancel()
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
    }

    /// Suspends until `token` heads its line, the deadline passes or the task is cancelled.
    private func park(_ key: Key, _ token: Int, deadline: ContinuousClock.Instant, budgetPerSecond: Double)
        async throws
    {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case parked, headsTheLine, cancelled }
                let outcome: Outcome = state.withLock { state in
                    guard state.queues[key]?.line.contains(token) == true else { return .headsTheLine }
                    if state.queues[key]!.line.first == token { return .headsTheLine }
                    // Cancelled before it parked: the cancellation handler found nothing to resume.
                    if Task.isCancelled { return .cancelled }
                    state.queues[key]!.parked[token] = Parked(continuation: continuation)
                    return .parked
                }
                switch outcome {
                case .headsTheLine: return continuation.resume()
                case .cancelled: return continuation.resume(throwing: CancellationError())
                case .parked: break
                }
                let timer = Task { [time] in
                    guard (try? await time.sleep(until: deadline)) != nil else { return }
                    let parked = self.state.withLock { $0.queues[key]?.parked.removeValue(forKey: token) }
                    parked?.resume(
                        throwing: RateLimitExceeded(
                            kind: key.kind,
                            retryAfter: self.expectedWait(key, budgetPerSecond: budgetPerSecond) ?? .seconds(1),
                            cause: .callerShare))
                }
                let taken = state.withLock { state -> Bool in
                    guard state.queues[key]?.parked[token] != nil else { return true }
                    state.queues[key]!.parked[token]!.timer = timer
                    return false
                }
                if taken { timer.cancel() }
            }
        } onCancel: {
            let parked = state.withLock { $0.queues[key]?.parked.removeValue(forKey: token) }
            parked?.resume(throwing: CancellationError())
        }
    }

    /// Takes `token` out of its line; the next call in line gets its turn.
    func leave(_ key: Key, _ token: Int?) {
        guard let token, let service = key.service else { return }
        let (next, length): (Parked?, Int) = state.withLock { state in
            guard var queue = state.queues[key], let index = queue.line.firstIndex(of: token) else { return (nil, 0) }
            queue.line.remove(at: index)
            queue.parked[token] = nil
            var next: Parked?
            if index == 0, let head = queue.line.first { next = queue.parked.removeValue(forKey: head) }
            state.queues[key] = queue
            state.statistics[service]?.queued -= 1
            return (next, queue.line.count)
        }
        metrics.gauge(GatewayMetrics.Name.budgetQueued, Self.labels(key, service), Double(length))
        next?.resume()
    }

    static func labels(_ key: Key, _ service: String) -> [(String, String)] {
        [("service", service), ("bucket", key.kind.metricLabel)]
    }

    func granted(_ key: Key, claim: BudgetClaim?, waited: Duration) {
        let now = time.now
        state.withLock { state in
            var queue = state.queues[key, default: Queue()]
            queue.grants.append(now)
            if queue.grants.count > Self.rateSamples { queue.grants.removeFirst(queue.grants.count - Self.rateSamples) }
            state.queues[key] = queue
            if let service = key.service {
                state.statistics[service, default: ServiceBudgetStatistics(service: service)].waited += waited
                state.statistics[service, default: ServiceBudgetStatistics(service: service)].grants += 1
            }
            guard let claim else { return }
            for (share, fraction) in claim.fractions {
                var statistics = state.statistics[share.service] ?? ServiceBudgetStatistics(service: share.service)
                statistics.calls += fraction
                statistics.records += claim.inputs[share] ?? 0
                state.statistics[share.service] = statistics
            }
        }
        if let service = key.service { metrics.time(GatewayMetrics.Name.budgetWait, Self.labels(key, service), waited) }
        for (share, fraction) in claim?.fractions ?? [] {
            let labels = Self.labels(key, share.service)
            metrics.increment(GatewayMetrics.Name.budgetCalls, labels, by: fraction)
            metrics.increment(GatewayMetrics.Name.budgetRecords, labels, by: claim?.inputs[share] ?? 0)
        }
    }

    func refused(_ key: Key, reason: RateLimitExceeded.Cause) {
        guard let service = key.service else { return }
        state.withLock { state in
            state.statistics[service, default: ServiceBudgetStatistics(service: service)]
                .refusals[reason, default: 0] += 1
        }
        metrics.increment(
            GatewayMetrics.Name.budgetRefusals, Self.labels(key, service) + [("reason", reason.rawValue)])
    }

    /// How long a call entering `key`'s queue now would wait at the service's recent grant
    /// rate; nil when there is no queue or no trustworthy rate (then nothing is refused early).
    ///
    /// Until the service has been granted enough calls to measure its rate, its share of
    /// `budgetPerSecond` by weight among the services in line here (of this kind and priority)
    /// stands in: a cold start refuses early too, instead of letting the first seconds' calls
    /// pile up and fail at their deadlines.
    func expectedWait(_ key: Key, budgetPerSecond: Double) -> Duration? {
        guard key.service != nil else { return nil }
        let now = time.now
        return state.withLock { state -> Duration? in
            guard let queue = state.queues[key], !queue.line.isEmpty else { return nil }
            let recent = queue.grants.filter { now - $0 < Self.rateHorizon }
            var rate: Double
            if recent.count >= Self.minimumSamples, let first = recent.first, now - first > .zero {
                // Grants per second over the span since the oldest recent one (to now: a queue
                // that stopped being served has a falling rate).
                rate = Double(recent.count) / ((now - first) / .seconds(1))
            } else {
                let weights = state.queues.filter {
                    $0.key.kind == key.kind && $0.key.priority == key.priority && !$0.value.line.isEmpty
                }.values.reduce(0) { $0 + $1.weight }
                rate = budgetPerSecond * queue.weight / max(queue.weight, weights)
            }
            guard rate > 0 else { return nil }
            return .seconds(Double(queue.line.count + 1) / rate)
        }
    }

    /// Every service's figures, by name.
    var statistics: [ServiceBudgetStatistics] {
        state.withLock { $0.statistics.values.sorted { $0.service < $1.service } }
    }
}

/// What a calling service got of the budget on this replica (`AdminService.GetStatus`).
public struct ServiceBudgetStatistics: Sendable, Equatable {
    public var service: String
    /// Calls it was charged for (fractions of coalesced batches included).
    public var calls: Double = 0
    /// Inputs it brought to the calls (a batch call carries up to 100).
    public var records: Int = 0
    /// Its calls waiting for a slot on this replica now.
    public var queued: Int = 0
    /// Total time its granted calls waited for their slot.
    public var waited: Duration = .zero
    /// Granted calls (the denominator of the mean wait).
    public var grants: Int = 0
    /// Refusals by cause.
    public var refusals: [RateLimitExceeded.Cause: Int] = [:]
}
