import HubSpotAPI

/// HubSpot's webhooks journal through the door, with the app's developer-platform client:
/// lookups and subscriptions spend the general budget at bulk priority like any call; the
/// entry's data is a file download (no API call) and spends none.
extension HubSpotUpstream {
    public func journalEntry(_ position: JournalPosition, in scope: JournalScope, deadline: ContinuousClock.Instant)
        async throws -> JournalEntry?
    {
        try await developerCall(priority: .bulk, deadline: deadline) { client, options in
            try await client.journalEntry(position, in: scope, options: options)
        }
    }

    public func journalData(of entry: JournalEntry, deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        guard let developerClient else { throw Self.noDeveloperClient }
        try breaker.refuseIfOpen()
        return try await developerClient.downloadJournalData(from: entry.url, options: CallOptions(deadline: deadline))
    }

    public func journalSubscriptions(deadline: ContinuousClock.Instant) async throws -> [JournalSubscription] {
        try await developerCall(priority: .bulk, deadline: deadline) { client, options in
            try await client.journalSubscriptions(options: options)
        }
    }

    public func upsertJournalSubscription(_ subscription: JournalSubscription, deadline: ContinuousClock.Instant)
        async throws
    {
        _ = try await developerCall(priority: .bulk, deadline: deadline) { client, options in
            try await client.upsertJournalSubscription(subscription, options: options)
        }
    }
}
