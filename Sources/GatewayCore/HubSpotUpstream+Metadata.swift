import HubSpotAPI

/// Metadata reads through the door (budget, breaker, retries).
extension HubSpotUpstream {
    public func pipelines(of type: String, priority: CallPriority, deadline: ContinuousClock.Instant) async throws
        -> [Pipeline]
    {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.pipelines(of: type, options: options)
        }
    }

    public func owners(
        limit: Int, after: String?, email: String?, archived: Bool, priority: CallPriority,
        deadline: ContinuousClock.Instant
    ) async throws -> OwnerPage {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.owners(limit: limit, after: after, email: email, archived: archived, options: options)
        }
    }

    public func associationLabels(
        from: String, to: String, priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws -> [AssociationLabel] {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.associationLabels(from: from, to: to, options: options)
        }
    }
}
