/// How a walk over a type's records by modification time searches.
public struct ModifiedWalkTerms: Sendable {
    /// Properties returned with each record (the modification property is always added).
    public var properties: [String]
    /// Results per search call (HubSpot's maximum is 200).
    public var pageSize: Int
    /// Results one search query can page through (HubSpot stops at 10,000): a walk starts a
    /// new query from where it is before reaching it.
    public var resultCap: Int
    /// Only records modified at or before this millisecond (nil: up to now).
    public var until: Int64?
    /// Priority and deadline of each call, asked before it.
    public var terms: @Sendable () -> CallTerms
    /// Runs before each search call (a job's pacing and call counting).
    public var beforeCall: @Sendable () async throws -> Void

    public init(
        properties: [String] = [], pageSize: Int = 200, resultCap: Int = 10_000, until: Int64? = nil,
        terms: @escaping @Sendable () -> CallTerms, beforeCall: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.properties = properties
        self.pageSize = pageSize
        self.resultCap = resultCap
        self.until = until
        self.terms = terms
        self.beforeCall = beforeCall
    }
}

/// A record found by a walk, and its place in the walk's order.
public struct PositionedRecord: Sendable {
    public var position: ModificationPosition
    public var record: CRMRecord
}

extension Records {
    /// Every record of `type` after `start` in (modification, id) order, delivered in batches
    /// of that order with search's 10,000-result cap respected: a query walks one modification
    /// millisecond at a time by id (`EQ` on the time, `GT` on `hs_object_id`), then every later
    /// millisecond by time (`GT`), starting a new query from the millisecond it reached before
    /// the cap. Records sharing a millisecond across a page boundary are held back until the
    /// millisecond is complete, so delivery never depends on how HubSpot orders ties, and
    /// more than 10,000 records in one millisecond are walked by id. Returns the position of
    /// the last record delivered (`start` when none).
    @discardableResult
    public func walkModified(
        _ type: String, after start: ModificationPosition, _ walk: ModifiedWalkTerms,
        deliver: ([PositionedRecord]) async throws -> Void
    ) async throws -> ModificationPosition {
        try Caller.authorize(.read, type)
        let property = ModificationPosition.modifiedProperty(of: type)
        let properties = Array(Set(walk.properties + [property]))
        var position = start
        var delivered = start
        func search(_ filters: [RecordQuery.Filter], sort: String, after: String?) async throws -> RecordPage {
            try await walk.beforeCall()
            return try await self.search(
                type,
                RecordQuery(
                    filterGroups: [filters], sorts: [.init(sort)], properties: properties, limit: walk.pageSize,
                    after: after), walk.terms())
        }
        func positioned(_ records: [CRMRecord]) -> [PositionedRecord] {
            records.compactMap { record in
                ModificationPosition(of: record, type: type).map { PositionedRecord(position: $0, record: record) }
            }
        }
        func hand(_ batch: [PositionedRecord]) async throws {
            guard !batch.isEmpty else { return }
            try await deliver(batch)
            delivered = batch[batch.count - 1].position
        }
        while true {
            if let until = walk.until, position.modifiedMs > until { return delivered }
            // The rest of one millisecond, by id.
            var lowId = position.id ?? 0
            var after: String? = nil
            var offset = 0
            while true {
                let page = try await search(
                    [
                        .init(property, .eq, value: String(position.modifiedMs)),
                        .init("hs_object_id", .gt, value: String(lowId)),
                    ], sort: "hs_object_id", after: after)
                let batch = positioned(page.records)
                    .filter { $0.position.modifiedMs == position.modifiedMs && $0.position.id! > lowId }
                    .sorted { $0.position < $1.position }
                try await hand(batch)
                offset += page.records.count
                guard let next = page.next, !page.records.isEmpty else { break }
                if offset + walk.pageSize > walk.resultCap {
                    lowId = batch.last?.position.id ?? lowId
                    after = nil
                    offset = 0
                } else {
                    after = next
                }
            }
            // Every later millisecond, by time.
            let lower = position.modifiedMs
            var filters: [RecordQuery.Filter] = [.init(property, .gt, value: String(lower))]
            if let until = walk.until { filters.append(.init(property, .lte, value: String(until))) }
            var held: [PositionedRecord] = []
            after = nil
            offset = 0
            while true {
                let page = try await search(filters, sort: property, after: after)
                let found = positioned(page.records).filter {
                    $0.position.modifiedMs > lower && $0.position.modifiedMs <= (walk.until ?? .max)
                }
                held += found
                guard let next = page.next, !page.records.isEmpty else {
                    try await hand(held.sorted { $0.position < $1.position })
                    return delivered
                }
                // The last millisecond of a page may continue on the next one: hold it back.
                let newest = found.map(\.position.modifiedMs).max() ?? lower
                try await hand(held.filter { $0.position.modifiedMs < newest }.sorted { $0.position < $1.position })
                held.removeAll { $0.position.modifiedMs < newest }
                offset += page.records.count
                if offset + walk.pageSize > walk.resultCap {
                    // A new query: everything before `newest` is delivered, none of `newest`.
                    position = ModificationPosition(modifiedMs: newest)
                    break
                }
                after = next
            }
        }
    }
}
