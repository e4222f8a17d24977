import HubSpotAPI

/// Lists v3 calls through the door.
extension HubSpotUpstream {
    public func searchLists(
        query: String?, offset: Int, count: Int, priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws -> ListSearchPage {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.searchLists(query: query, offset: offset, count: count, options: options)
        }
    }

    public func list(_ id: String, priority: CallPriority, deadline: ContinuousClock.Instant) async throws
        -> HubSpotList
    {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.list(id, options: options)
        }
    }

    public func listMemberships(
        _ id: String, limit: Int, after: String?, priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws -> ListMembershipPage {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.listMemberships(id, limit: limit, after: after, options: options)
        }
    }

    public func changeListMemberships(
        _ id: String, add: Bool, recordIds: [String], priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws -> ListMembershipChange {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.changeListMemberships(id, add: add, recordIds: recordIds, options: options)
        }
    }
}
