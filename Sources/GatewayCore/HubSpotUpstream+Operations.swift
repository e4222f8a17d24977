import HubSpotAPI

/// Every HubSpot operation the APIs use besides single reads and writes (`readObject`,
/// `write`), each through the door: the caller's priority and deadline, the budget, the breaker
/// and the door's retries; writes drop the cached copies of what they change. Nothing above
/// GatewayCore hands the door a closure over `HubSpotClient` any more.
extension HubSpotUpstream {
    /// Many records through the read coalescer (one HubSpot call for the misses, shared with
    /// other callers); nil where HubSpot has no such record, in the order asked.
    public func readObjects(
        type: String, ids: [String], properties: [String], maxStaleness: Duration? = nil, priority: CallPriority,
        deadline: ContinuousClock.Instant
    ) async throws -> [HubSpotObject?] {
        let properties = PropertyNames.normalized(properties)
        return try await withThrowingTaskGroup(of: (Int, HubSpotObject?).self) { group in
            for (index, id) in ids.enumerated() {
                group.addTask {
                    let read = try await self.readObject(
                        type: type, id: id, properties: properties, maxStaleness: maxStaleness, priority: priority,
                        deadline: deadline)
                    return (index, read.object)
                }
            }
            var objects = [HubSpotObject?](repeating: nil, count: ids.count)
            for try await (index, object) in group { objects[index] = object }
            return objects
        }
    }

    /// Many writes through the write coalescer (merged with other callers' into HubSpot batch
    /// calls); one result per input, in input order.
    public func write(
        type: String, _ writes: [ObjectWrite], priority: CallPriority, deadline: ContinuousClock.Instant
    ) async -> [Result<HubSpotObject, any Error>] {
        await withTaskGroup(of: (Int, Result<HubSpotObject, any Error>).self) { group in
            for (index, write) in writes.enumerated() {
                group.addTask {
                    do {
                        return (
                            index,
                            .success(try await self.write(type: type, write, priority: priority, deadline: deadline))
                        )
                    } catch { return (index, .failure(error)) }
                }
            }
            var results = [Result<HubSpotObject, any Error>?](repeating: nil, count: writes.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }

    /// A page of records in HubSpot's order.
    public func list(
        _ type: String, limit: Int, after cursor: String?, properties: [String], archived: Bool = false,
        priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws -> ObjectPage {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.listObjects(
                type, limit: limit, after: cursor, properties: PropertyNames.normalized(properties), archived: archived,
                options: options)
        }
    }

    /// A page of search results (search has its own, smaller budget).
    public func search(
        _ type: String, _ request: SearchRequest, priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws -> SearchPage {
        try await call(.search, priority: priority, deadline: deadline) { client, options in
            try await client.search(type, request, options: options)
        }
    }

    /// Archives one record.
    public func archive(_ type: String, id: String, priority: CallPriority, deadline: ContinuousClock.Instant)
        async throws
    {
        try await call(priority: priority, deadline: deadline, invalidating: [(type, id)]) { client, options in
            try await client.archiveObject(type, id: id, options: options)
        }
    }

    /// Archives up to 100 records in one call.
    public func archive(_ type: String, ids: [String], priority: CallPriority, deadline: ContinuousClock.Instant)
        async throws
    {
        try await call(priority: priority, deadline: deadline, invalidating: ids.map { (type, $0) }) {
            client, options in
            try await client.batchArchive(type, ids: ids, options: options)
        }
    }

    /// Merges `mergedId` into `primaryId` (HubSpot's merge endpoint; never retried once it may
    /// have reached HubSpot) and answers the surviving record. Both records' cached copies are
    /// dropped, and reads of the merged-away id are served the survivor from then on.
    public func merge(
        _ type: String, primaryId: String, mergedId: String, priority: CallPriority,
        deadline: ContinuousClock.Instant
    ) async throws -> HubSpotObject {
        let survivor = try await call(
            priority: priority, deadline: deadline, idempotent: false,
            invalidating: [(type, primaryId), (type, mergedId)]
        ) { client, options in
            try await client.mergeObjects(type, primaryId: primaryId, mergedId: mergedId, options: options)
        }
        for gone in [mergedId, primaryId] where gone != survivor.id {
            await cache.rememberMerge(type: type, id: gone, into: survivor.id)
        }
        return survivor
    }

    /// The type's property definitions.
    public func properties(of type: String, priority: CallPriority, deadline: ContinuousClock.Instant) async throws
        -> [PropertyDefinition]
    {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.properties(of: type, options: options)
        }
    }

    // MARK: Associations

    /// Associates two records, with HubSpot's default type when `types` is empty, in a batch
    /// call shared with other callers of the type pair.
    public func associate(
        from: (type: String, id: String), to: (type: String, id: String), types: [AssociationSpec],
        priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws {
        try await writeAssociation(
            types.isEmpty ? .associateDefault : .associate, from: from, to: to, types: types, priority: priority,
            deadline: deadline)
    }

    /// One association write through the coalescer; both records' cached copies are dropped
    /// (a record read with associations shows them), whether it went through or not.
    func writeAssociation(
        _ operation: AssociationWriteCoalescer.Operation, from: (type: String, id: String),
        to: (type: String, id: String), types: [AssociationSpec] = [], priority: CallPriority,
        deadline: ContinuousClock.Instant
    ) async throws {
        do {
            try await associationWrites[priority]!.write(
                operation, from: from.type, to: to.type, AssociationWrite(fromId: from.id, toId: to.id, types: types),
                deadline: deadline)
        } catch {
            await invalidate([from, to])
            throw error
        }
        await invalidate([from, to])
    }

    /// A page of the records of `toType` associated with a record.
    public func associations(
        of from: (type: String, id: String), toType: String, limit: Int = 500, after cursor: String? = nil,
        priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws -> HubSpotAPI.AssociationPage {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.listAssociations(
                from: from.type, id: from.id, to: toType, limit: limit, after: cursor, options: options)
        }
    }

    /// The records of `toType` associated with each of up to 1,000 records, in one call.
    public func associations(
        of type: String, ids: [String], toType: String, priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws -> AssociationBatchResult {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.batchReadAssociations(from: type, to: toType, ids: ids, options: options)
        }
    }

    /// Removes every association between two records, in a batch call shared with other
    /// callers of the type pair.
    public func removeAssociations(
        from: (type: String, id: String), to: (type: String, id: String), priority: CallPriority,
        deadline: ContinuousClock.Instant
    ) async throws {
        try await writeAssociation(.remove, from: from, to: to, priority: priority, deadline: deadline)
    }
}
