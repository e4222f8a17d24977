import HubSpotAPI

/// Merges concurrent reads of one object type and property set into HubSpot batch reads of at
/// most `maxBatchSize` ids (see `BatchCoalescer`). Reads of the same id share one input.
public final class BatchReadCoalescer: Sendable {
    /// What the coalescer asks for one batch: the type, ids (distinct, ≤ `maxBatchSize`),
    /// properties, and the latest deadline of the readers waiting on it.
    public typealias Fetch =
        @Sendable (_ type: String, _ ids: [String], _ properties: [String], _ deadline: ContinuousClock.Instant)
        async throws -> BatchResult
    /// Waits for the budget before a batch goes out (the rate limiter).
    public typealias Admit = @Sendable (_ deadline: ContinuousClock.Instant) async throws -> Void

    private struct Group: Hashable, Sendable {
        var type: String
        var properties: [String]
    }

    private let coalescer: BatchCoalescer<Group, String, HubSpotObject?>

    public var maxBatchSize: Int { coalescer.maxBatchSize }
    /// Reads waiting for their batch.
    var waitingCount: Int { coalescer.waitingCount }

    public init(maxBatchSize: Int = 100, admit: @escaping Admit, fetch: @escaping Fetch) {
        coalescer = BatchCoalescer(maxBatchSize: maxBatchSize, merging: .share, admit: admit) { group, ids, deadline in
            do {
                let result = try await fetch(group.type, ids, group.properties, deadline)
                var found: [String: HubSpotObject] = [:]
                for object in result.results { found[object.id] = object }
                return ids.map { .success(found[$0]) }
            } catch {
                return ids.map { _ in .failure(error) }
            }
        }
    }

    /// One object by id, or nil when HubSpot does not have it. `properties` are normalized
    /// (`PropertyNames.normalized`) by the door; the batch group is keyed by the list as given.
    public func read(type: String, id: String, properties: [String], deadline: ContinuousClock.Instant) async throws
        -> HubSpotObject?
    {
        try await coalescer.submit(
            id, key: Group(type: type, properties: properties), identity: id, deadline: deadline)
    }
}
