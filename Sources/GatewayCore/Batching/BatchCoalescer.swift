import Synchronization
import Tracing

/// Merges concurrent single-item requests that share a key (object type and property set,
/// say) into batch calls of at most `maxBatchSize` items.
///
/// The first request of a key becomes the leader: while it waits to be admitted (for a
/// rate-limit slot), later requests join its batch; once admitted, the batch closes and goes
/// out as one call. At low load a request is a batch of one (one call, no added latency); at
/// high load one call serves up to `maxBatchSize` requests. A request whose caller gives up
/// before its batch leaves is dropped from it; the others are not disturbed. With a
/// `BatchEarlyRefusal`, a request whose place in the line cannot reach a batch before its deadline
/// is refused on arrival instead of waiting out its deadline.
public final class BatchCoalescer<Key: Hashable & Sendable, Item: Sendable, Output: Sendable>: Sendable {
    /// What to do with two waiting requests of the same identity (`identity` of `submit`).
    public enum Merging: Sendable {
        /// They are one input: both get its result (reads of one id).
        case share
        /// They never share a batch and go out in arrival order (two updates of one record).
        case separate
    }

    /// Waits until a batch may go out (the rate limiter); throwing fails every request of the batch.
    public typealias Admit = @Sendable (_ deadline: ContinuousClock.Instant) async throws -> Void
    /// Sends one batch after admission and answers one result per item, in order. `deadline`
    /// is the latest of the waiting callers' deadlines.
    public typealias Send =
        @Sendable (_ key: Key, _ items: [Item], _ deadline: ContinuousClock.Instant) async -> [Result<
            Output, any Error
        >]

    public let maxBatchSize: Int
    public let merging: Merging
    public let earlyRefusal: BatchEarlyRefusal?
    private let now: @Sendable () -> ContinuousClock.Instant
    private let admit: Admit
    private let send: Send
    private let groups = Mutex<[Key: Group]>([:])

    private typealias Waiter = CheckedContinuation<Output, any Error>

    private struct Entry {
        var identity: String?
        var item: Item
        /// `trace`: the caller's span, which the batch's span links to.
        var waiters:
            [(
                token: Int, waiter: Waiter, deadline: ContinuousClock.Instant, share: BudgetClaim.Share?,
                trace: InstrumentationContext?
            )]
    }

    /// The requests of one key not yet sent.
    private struct Group {
        var entries: [Int: Entry] = [:]
        /// Entry numbers in arrival order.
        var order: [Int] = []
        /// Identity → entry number, for `.share`.
        var shared: [String: Int] = [:]
        var latestDeadline: ContinuousClock.Instant
        var leaderRunning = false
        var next = 0
        /// When the last batch left while others still waited, and the smoothed time between
        /// such departures: how fast this line moves (nil until measured under a backlog).
        var lastDeparture: ContinuousClock.Instant?
        var departureInterval: Duration?

        /// How long a new request would wait for its batch to leave, when the line is longer
        /// than one batch: at the measured pace, never faster than `fastest` allows (the budget's
        /// own pace; a first measurement across a window's edge can be far too quick).
        func expectedWait(batchSize: Int, fastest: Duration) -> Duration? {
            guard order.count >= batchSize else { return nil }
            let interval = max(departureInterval ?? .zero, fastest)
            return interval > .zero ? interval * (order.count / batchSize + 1) : nil
        }

        /// Notes a batch leaving at `now` (`stillWaiting`: requests remain for later batches).
        mutating func departed(at now: ContinuousClock.Instant, stillWaiting: Bool) {
            if let lastDeparture {
                let sample = now - lastDeparture
                departureInterval = departureInterval.map { $0 * 0.7 + sample * 0.3 } ?? sample
            }
            lastDeparture = stillWaiting ? now : nil
        }

        mutating func remove(_ number: Int) {
            guard let entry = entries.removeValue(forKey: number) else { return }
            order.removeAll { $0 == number }
            if let identity = entry.identity, shared[identity] == number { shared[identity] = nil }
        }
    }

    public convenience init(
        maxBatchSize: Int = 100, merging: Merging, earlyRefusal: BatchEarlyRefusal? = nil, admit: @escaping Admit,
        send: @escaping Send
    ) {
        self.init(
            maxBatchSize: maxBatchSize, merging: merging, earlyRefusal: earlyRefusal, now: { .now }, admit: admit,
            send: send)
    }

    /// `now`: the clock deadlines and the line's pace are read from (tests move it by hand).
    init(
        maxBatchSize: Int, merging: Merging, earlyRefusal: BatchEarlyRefusal?,
        now: @escaping @Sendable () -> ContinuousClock.Instant, admit: @escaping Admit, send: @escaping Send
    ) {
        precondition(maxBatchSize > 0)
        self.maxBatchSize = maxBatchSize
        self.merging = merging
        self.earlyRefusal = earlyRefusal
        self.now = now
        self.admit = admit
        self.send = send
    }

    /// Callers waiting for a result, in every group (tests wait on it instead of sleeping).
    var waitingCount: Int {
        groups.withLock { groups in
            groups.values.reduce(0) { sum, group in sum + group.entries.values.reduce(0) { $0 + $1.waiters.count } }
        }
    }

    /// Waits for `item`'s result from the batch it joins.
    public func submit(_ item: Item, key: Key, identity: String?, deadline: ContinuousClock.Instant) async throws
        -> Output
    {
        // (entry number, waiter token) once enqueued, for cancellation.
        let ticket = Mutex<(entry: Int, token: Int)?>(nil)
        // Who the input is for: the batch's budget claim charges each service its inputs.
        let share = Caller.current?.share
        try earlyRefusal?.refuseCaller?(share)
        let trace = InstrumentationContext.current
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiter: Waiter) in
                // Groups are changed in place: a copy of a group with thousands of waiting
                // requests per submit would cost O(n) each.
                let placed: Placement = groups.withLock { groups in
                    Self.enqueue(
                        &groups[key, default: Group(latestDeadline: deadline)], item, identity: identity,
                        merging: merging, batchSize: maxBatchSize, earlyRefusal: earlyRefusal, now: now(),
                        waiter: waiter, deadline: deadline, share: share, trace: trace, ticket: ticket)
                }
                switch placed {
                case .leader: Task { await self.lead(key) }
                case .follower: break
                case .refused(let refusal, let expectedWait): waiter.resume(throwing: refusal.refusal(expectedWait))
                }
            }
        } onCancel: {
            // The caller gave up before its batch left: drop only its wait.
            let waiter: Waiter? = groups.withLock { groups in
                guard let (number, token) = ticket.withLock({ $0 }), groups[key] != nil else { return nil }
                return Self.withdraw(&groups[key]!, number: number, token: token)
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private enum Placement {
        case leader, follower
        /// Not enqueued: the line ahead would outlast the deadline (the expected wait).
        case refused(BatchEarlyRefusal, Duration)
    }

    private static func enqueue(
        _ group: inout Group, _ item: Item, identity: String?, merging: Merging, batchSize: Int,
        earlyRefusal: BatchEarlyRefusal?, now: ContinuousClock.Instant, waiter: Waiter,
        deadline: ContinuousClock.Instant,
        share: BudgetClaim.Share?, trace: InstrumentationContext?, ticket: borrowing Mutex<(entry: Int, token: Int)?>
    ) -> Placement {
        // A request that joins an input already waiting costs nothing; a new input at the end of
        // a line longer than its time left allows is refused now rather than at its deadline.
        let existing = merging == .share ? identity.flatMap { group.shared[$0] } : nil
        if existing == nil, let earlyRefusal,
            let expected = group.expectedWait(batchSize: batchSize, fastest: earlyRefusal.fastestInterval),
            expected > now.duration(to: deadline) * earlyRefusal.share
        {
            return .refused(earlyRefusal, expected)
        }
        let token = group.next
        group.next += 1
        let number: Int
        if let existing {
            number = existing
            group.entries[existing]!.waiters.append((token, waiter, deadline, share, trace))
        } else {
            number = token
            group.entries[number] = Entry(
                identity: identity, item: item, waiters: [(token, waiter, deadline, share, trace)])
            group.order.append(number)
            if merging == .share, let identity { group.shared[identity] = number }
        }
        ticket.withLock { $0 = (number, token) }
        group.latestDeadline = max(group.latestDeadline, deadline)
        defer { group.leaderRunning = true }
        return group.leaderRunning ? .follower : .leader
    }

    /// Takes one waiter out of its entry (and the entry out, when it was the last).
    private static func withdraw(_ group: inout Group, number: Int, token: Int) -> Waiter? {
        guard let index = group.entries[number]?.waiters.firstIndex(where: { $0.token == token }) else { return nil }
        let removed = group.entries[number]!.waiters.remove(at: index).waiter
        if group.entries[number]!.waiters.isEmpty { group.remove(number) }
        return removed
    }

    /// Sends batches for a key until nothing is waiting. Each batch is admitted and sent under
    /// the budget claim of the services whose inputs it carries (`BudgetClaim.current`).
    private func lead(_ key: Key) async {
        while true {
            let next: (ContinuousClock.Instant, BudgetClaim)? = groups.withLock { groups in
                guard let group = groups[key], !group.order.isEmpty else {
                    groups[key] = nil
                    return nil
                }
                let shares = group.order.prefix(maxBatchSize).flatMap { group.entries[$0]!.waiters.map(\.share) }
                return (group.latestDeadline, BudgetClaim(batchOf: shares))
            }
            guard let (deadline, claim) = next else { return }
            await BudgetClaim.$current.withValue(claim) { await sendOne(key, deadline: deadline) }
        }
    }

    /// Admits and sends the next batch of `key`, in a span of its own (a trace of its own,
    /// linked to the span of every caller it serves).
    private func sendOne(_ key: Key, deadline: ContinuousClock.Instant) async {
        let span = InstrumentationSystem.tracer.startSpan("gateway.coalesced_batch", context: .topLevel)
        defer { span.end() }
        await InstrumentationContext.withValue(span.context) { await sendOne(key, deadline: deadline, span: span) }
    }

    private func sendOne(_ key: Key, deadline: ContinuousClock.Instant, span: any Span) async {
        // Later requests join while the batch waits to be admitted.
        var admission: (any Error)?
        do { try await admit(deadline) } catch { admission = error }

        let (batch, expired) = groups.withLock { groups in
            guard groups[key] != nil else { return ([Entry](), [Waiter]()) }
            let now = now()
            let taken = takeBatch(&groups[key]!, now: now)
            if groups[key]!.order.isEmpty { groups[key]!.latestDeadline = now }
            if admission == nil, !taken.0.isEmpty {
                groups[key]!.departed(at: now, stillWaiting: !groups[key]!.order.isEmpty)
            }
            return taken
        }
        for waiter in expired { waiter.resume(throwing: DeadlinePassed()) }
        if span.isRecording {
            span.attributes["gateway.batch.items"] = Int64(batch.count)
            span.attributes["gateway.batch.callers"] = Int64(batch.reduce(0) { $0 + $1.waiters.count })
            for entry in batch {
                for waiter in entry.waiters {
                    if let trace = waiter.trace { span.addLink(SpanLink(context: trace, attributes: [:])) }
                }
            }
        }
        guard !batch.isEmpty else { return }
        if let admission {
            span.recordError(admission)
            for entry in batch { for waiter in entry.waiters { waiter.waiter.resume(throwing: admission) } }
            return
        }
        let results = await send(key, batch.map(\.item), deadline)
        for (index, entry) in batch.enumerated() {
            let result = index < results.count ? results[index] : .failure(BatchAnswerMissing())
            for waiter in entry.waiters { waiter.waiter.resume(with: result) }
        }
    }

    /// Up to `maxBatchSize` entries in arrival order; with `.separate`, at most one per
    /// identity. Waiters whose deadline has passed are taken out (and returned) instead: under
    /// overload the budget goes to callers still waiting for an answer.
    private func takeBatch(_ group: inout Group, now: ContinuousClock.Instant) -> ([Entry], [Waiter]) {
        var taken: [Entry] = []
        var gone: Set<Int> = []
        var expired: [Waiter] = []
        var identities: Set<String> = []
        for number in group.order where taken.count < maxBatchSize {
            var entry = group.entries[number]!
            if merging == .separate, let identity = entry.identity, identities.contains(identity) { continue }
            let live = entry.waiters.filter { $0.deadline > now }
            if live.count < entry.waiters.count {
                expired += entry.waiters.filter { $0.deadline <= now }.map(\.waiter)
                entry.waiters = live
            }
            gone.insert(number)
            guard !live.isEmpty else { continue }
            if let identity = entry.identity { identities.insert(identity) }
            taken.append(entry)
        }
        group.order.removeAll { gone.contains($0) }
        for number in gone {
            if let identity = group.entries.removeValue(forKey: number)?.identity, group.shared[identity] == number {
                group.shared[identity] = nil
            }
        }
        return (taken, expired)
    }
}

/// Refusing on arrival a request whose batch could not leave before its deadline.
public struct BatchEarlyRefusal: Sendable {
    /// Refuse when the expected wait is over this share of the time left (0–1).
    public var share: Double
    /// The shortest time between two batches (one over the budget's calls per second): the line
    /// never moves faster, whatever was measured; zero: judge by measurement alone.
    public var fastestInterval: Duration
    /// The error a refused request gets, from its expected wait.
    public var refusal: @Sendable (_ expectedWait: Duration) -> any Error
    /// Refuses the calling service's input outright (its daily quota spent), before it joins.
    public var refuseCaller: (@Sendable (BudgetClaim.Share?) throws -> Void)?

    public init(
        share: Double, fastestInterval: Duration = .zero,
        refuseCaller: (@Sendable (BudgetClaim.Share?) throws -> Void)? = nil,
        refusal: @escaping @Sendable (_ expectedWait: Duration) -> any Error
    ) {
        self.share = share
        self.fastestInterval = fastestInterval
        self.refuseCaller = refuseCaller
        self.refusal = refusal
    }
}

/// The caller's deadline passed while its request waited for a batch; it was not sent.
public struct DeadlinePassed: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the deadline passed while the request waited for HubSpot's budget" }
}

/// A batch sender answered fewer results than it was given items (a bug, reported as an error).
public struct BatchAnswerMissing: Error, CustomStringConvertible {
    public var description: String { "the batch call gave no answer for this input" }
}
