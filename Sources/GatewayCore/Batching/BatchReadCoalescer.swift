import HubSpotAPI
import Synchronization

/// Merges concurrent reads of one object type and property set into HubSpot batch reads of at
/// most `maxBatchSize` ids. The first read of a group becomes the batch's leader: while it
/// waits for a rate-limit slot, later reads join its batch; when the slot comes, the batch
/// closes and goes out as one call. At low load a read is a batch of one (one call, no added
/// latency); at high load one call serves up to `maxBatchSize` readers.
public final class BatchReadCoalescer: Sendable {
    /// What the coalescer asks for one batch: the type, ids (distinct, ≤ `maxBatchSize`),
    /// properties, and the latest deadline of the readers waiting on it.
    public typealias Fetch = @Sendable (_ type: String, _ ids: [String], _ properties: [String], _ deadline: ContinuousClock.Instant) async throws -> BatchResult
    /// Waits for the budget before a batch goes out (the rate limiter).
    public typealias Admit = @Sendable (_ deadline: ContinuousClock.Instant) async throws -> Void

    public let maxBatchSize: Int
    private let admit: Admit
    private let fetch: Fetch
    private let groups = Mutex<[GroupKey: Group]>([:])

    private struct GroupKey: Hashable {
        var type: String
        var properties: [String]
    }

    private typealias Waiter = CheckedContinuation<HubSpotObject?, any Error>

    /// The reads of one group not yet sent.
    private struct Group {
        var waiting: [String: [(token: Int, waiter: Waiter)]] = [:]
        var order: [String] = []
        var latestDeadline: ContinuousClock.Instant
        var leaderRunning = false
        var nextToken = 0
    }

    public init(maxBatchSize: Int = 100, admit: @escaping Admit, fetch: @escaping Fetch) {
        precondition(maxBatchSize > 0)
        self.maxBatchSize = maxBatchSize
        self.admit = admit
        self.fetch = fetch
    }

    /// One object by id, or nil when HubSpot does not have it.
    public func read(type: String, id: String, properties: [String], deadline: ContinuousClock.Instant) async throws -> HubSpotObject? {
        let key = GroupKey(type: type, properties: properties.sorted())
        let token = Mutex<Int?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiter: Waiter) in
                let startLeader: Bool = groups.withLock { groups in
                    var group = groups[key] ?? Group(latestDeadline: deadline)
                    if group.waiting[id] == nil { group.order.append(id) }
                    group.waiting[id, default: []].append((group.nextToken, waiter))
                    token.withLock { $0 = group.nextToken }
                    group.nextToken += 1
                    group.latestDeadline = max(group.latestDeadline, deadline)
                    let start = !group.leaderRunning
                    group.leaderRunning = true
                    groups[key] = group
                    return start
                }
                if startLeader {
                    Task { await self.lead(key) }
                }
            }
        } onCancel: {
            // The caller gave up (its RPC was cancelled or timed out): drop only its wait.
            let waiter: Waiter? = groups.withLock { groups in
                guard let mine = token.withLock({ $0 }), var group = groups[key] else { return nil }
                for (id, waiters) in group.waiting {
                    if let index = waiters.firstIndex(where: { $0.token == mine }) {
                        let removed = waiters[index].waiter
                        group.waiting[id]!.remove(at: index)
                        if group.waiting[id]!.isEmpty {
                            group.waiting[id] = nil
                            group.order.removeAll { $0 == id }
                        }
                        groups[key] = group
                        return removed
                    }
                }
                return nil
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Sends batches for a group until nothing is waiting.
    private func lead(_ key: GroupKey) async {
        while true {
            let deadline: ContinuousClock.Instant? = groups.withLock { groups in
                guard let group = groups[key], !group.order.isEmpty else {
                    groups[key] = nil
                    return nil
                }
                return group.latestDeadline
            }
            guard let deadline else { return }
            // Later readers join while the batch waits for its slot.
            var admission: (any Error)?
            do { try await admit(deadline) } catch { admission = error }

            let batch: [(id: String, waiters: [Waiter])] = groups.withLock { groups in
                guard var group = groups[key] else { return [] }
                let ids = Array(group.order.prefix(maxBatchSize))
                group.order.removeFirst(ids.count)
                let taken = ids.map { id in (id, group.waiting.removeValue(forKey: id)!.map(\.waiter)) }
                if group.order.isEmpty { group.latestDeadline = .now }
                groups[key] = group
                return taken
            }
            guard !batch.isEmpty else { continue }
            if let admission {
                for entry in batch { for waiter in entry.waiters { waiter.resume(throwing: admission) } }
                continue
            }
            do {
                let result = try await fetch(key.type, batch.map(\.id), key.properties, deadline)
                var found: [String: HubSpotObject] = [:]
                for object in result.results { found[object.id] = object }
                for entry in batch {
                    for waiter in entry.waiters { waiter.resume(returning: found[entry.id]) }
                }
            } catch {
                for entry in batch { for waiter in entry.waiters { waiter.resume(throwing: error) } }
            }
        }
    }
}
