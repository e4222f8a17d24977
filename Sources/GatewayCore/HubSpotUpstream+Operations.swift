import HubSpotAPI

/// Every HubSpot operation the APIs use besides single reads and writes (`readObject`,
/// `write`), each through the door: the caller's priority and deadline, the budget, the breaker
/// and the door's retries; writes drop the cached copies of what they change. Nothing above
/// GatewayCore hands the door a closure over `HubSpotClient` any more.
extension HubSpotUpstream {
    /// One record by a unique property (`email`, a custom unique property), from HubSpot.
    public func object(
        _ type: String, uniqueProperty: String, value: String, properties: [String], priority: CallPriority,
        deadline: ContinuousClock.Instant
    ) async throws -> HubSpotObject {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.getObject(
                type, id: value, properties: properties, idProperty: uniqueProperty, options: options)
        }
    }

    /// A page of records in HubSpot's order.
    public func list(
        _ type: String, limit: Int, after cursor: String?, properties: [String], priority: CallPriority,
        deadline: ContinuousClock.Instant
    ) async throws -> ObjectPage {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.listObjects(type, limit: limit, after: cursor, properties: properties, options: options)
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

    /// The type's property definitions.
    public func properties(of type: String, priority: CallPriority, deadline: ContinuousClock.Instant) async throws
        -> [PropertyDefinition]
    {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.properties(of: type, options: options)
        }
    }

    // MARK: Associations

    /// Associates two records, with HubSpot's default type when `types` is empty.
    public func associate(
        from: (type: String, id: String), to: (type: String, id: String), types: [AssociationSpec],
        priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws {
        // Associations change what a record read with associations shows: drop both records.
        try await call(priority: priority, deadline: deadline, invalidating: [from, to]) { client, options in
            if types.isEmpty {
                try await client.associateDefault(
                    from: from.type, id: from.id, to: to.type, toId: to.id, options: options)
            } else {
                _ = try await client.associate(
                    from: from.type, id: from.id, to: to.type, toId: to.id, types: types, options: options)
            }
        }
    }

    /// A page of the records of `toType` associated with a record.
    public func associations(
        of from: (type: String, id: String), toType: String, limit: Int = 500, after cursor: String? = nil,
        priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws -> AssociationPage {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.listAssociations(
                from: from.type, id: from.id, to: toType, limit: limit, after: cursor, options: options)
        }
    }

    /// Removes every association between two records.
    public func removeAssociations(
        from: (type: String, id: String), to: (type: String, id: String), priority: CallPriority,
        deadline: ContinuousClock.Instant
    ) async throws {
        try await call(priority: priority, deadline: deadline, invalidating: [from, to]) { client, options in
            try await client.removeAssociations(
                from: from.type, id: from.id, to: to.type, toId: to.id, options: options)
        }
    }
}
