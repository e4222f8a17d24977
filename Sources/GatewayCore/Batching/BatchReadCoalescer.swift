import HubSpotAPI

/// Merges concurrent reads of one object type and property set into HubSpot batch reads of at
/// most `maxBatchSize` ids (see `BatchCoalescer`). Reads of the same id share one input. Reads
/// by the value of a unique property (`idProperty`, e.g. `email`) are merged the same way, in
/// batches of their own.
public final class BatchReadCoalescer: Sendable {
    /// What the coalescer asks for one batch: the type, ids or unique values (distinct,
    /// ≤ `maxBatchSize`), properties, the unique property the ids are values of (nil: HubSpot
    /// ids), and the latest deadline of the readers waiting on it.
    public typealias Fetch =
        @Sendable (
            _ type: String, _ ids: [String], _ properties: [String], _ idProperty: String?,
            _ deadline: ContinuousClock.Instant
        ) async throws -> BatchResult
    /// Waits for the budget before a batch goes out (the rate limiter).
    public typealias Admit = @Sendable (_ deadline: ContinuousClock.Instant) async throws -> Void

    private struct Group: Hashable, Sendable {
        var type: String
        var properties: [String]
        var idProperty: String?
    }

    private let coalescer: BatchCoalescer<Group, String, HubSpotObject?>

    public var maxBatchSize: Int { coalescer.maxBatchSize }
    /// Reads waiting for their batch.
    var waitingCount: Int { coalescer.waitingCount }

    public init(
        maxBatchSize: Int = 100, earlyRefusal: BatchEarlyRefusal? = nil, admit: @escaping Admit,
        fetch: @escaping Fetch
    ) {
        coalescer = BatchCoalescer(
            maxBatchSize: maxBatchSize, merging: .share, earlyRefusal: earlyRefusal, admit: admit
        ) {
            group, ids, deadline in
            do {
                let result = try await fetch(group.type, ids, group.properties, group.idProperty, deadline)
                guard let idProperty = group.idProperty else { return Self.attribute(result, ids: ids) }
                return Self.attribute(result, values: ids, of: idProperty)
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

    /// One object by the value of a unique property, or nil when no record holds it.
    /// `properties` must include `idProperty` (the answer is matched to the values by it);
    /// fails with `UnattributedRead` when HubSpot's answer does not say which record holds
    /// the value (it matched another of the record's values, e.g. an additional email).
    public func read(
        type: String, idProperty: String, value: String, properties: [String], deadline: ContinuousClock.Instant
    ) async throws -> HubSpotObject? {
        try await coalescer.submit(
            value, key: Group(type: type, properties: properties, idProperty: idProperty),
            identity: UniqueValues.normalized(value, of: idProperty), deadline: deadline)
    }

    /// Reads by id: a record answers its id; an id HubSpot lists as not found has none; an id
    /// neither answered nor listed was merged into another record (HubSpot answers the
    /// survivor, under the survivor's id), which the door asks for alone.
    static func attribute(_ result: BatchResult, ids: [String]) -> [Result<HubSpotObject?, any Error>] {
        var found: [String: HubSpotObject] = [:]
        for object in result.results { found[object.id] = object }
        var missing = Set<String>()
        for error in result.errors { missing.formUnion(error.context?["ids"] ?? []) }
        return ids.map { id in
            if let object = found[id] { return .success(object) }
            if missing.contains(id) { return .success(nil) }
            return .failure(UnattributedRead())
        }
    }

    /// A batch read by unique values answers records, not which input each matched: a record
    /// belongs to the value it holds; a value HubSpot lists as not found has none.
    static func attribute(_ result: BatchResult, values: [String], of idProperty: String)
        -> [Result<HubSpotObject?, any Error>]
    {
        var holders: [String: HubSpotObject] = [:]
        for object in result.results {
            if let held = object[idProperty] { holders[UniqueValues.normalized(held, of: idProperty)] = object }
        }
        var missing = Set<String>()
        for error in result.errors {
            for id in error.context?["ids"] ?? [] { missing.insert(UniqueValues.normalized(id, of: idProperty)) }
        }
        return values.map { value in
            let key = UniqueValues.normalized(value, of: idProperty)
            if let object = holders[key] { return .success(object) }
            if missing.contains(key) { return .success(nil) }
            return .failure(UnattributedRead())
        }
    }
}

/// A batch read answered a record for this input without saying so (a value held in another
/// property, an id merged into another record); the door asks for it alone.
struct UnattributedRead: Error {}
