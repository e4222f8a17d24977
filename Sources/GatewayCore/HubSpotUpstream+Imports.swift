import HubSpotAPI

/// HubSpot's imports through the door (each call counted in the general budget).
extension HubSpotUpstream {
    func startImport(
        name: String, objectTypeId: String, idProperty: String, columns: [String], csv: [UInt8],
        priority: CallPriority, deadline: ContinuousClock.Instant
    ) async throws -> HubSpotClient.ImportStatus {
        // Not idempotent: a retried upload would be a second import.
        try await call(priority: priority, deadline: deadline, idempotent: false) { client, options in
            try await client.startImport(
                name: name, objectTypeId: objectTypeId, idProperty: idProperty, columns: columns, csv: csv,
                options: options)
        }
    }

    func importStatus(_ id: String, priority: CallPriority, deadline: ContinuousClock.Instant) async throws
        -> HubSpotClient.ImportStatus
    {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.importStatus(id, options: options)
        }
    }

    func importErrors(_ id: String, after: String?, priority: CallPriority, deadline: ContinuousClock.Instant)
        async throws -> HubSpotClient.ImportErrorPage
    {
        try await call(priority: priority, deadline: deadline) { client, options in
            try await client.importErrors(id, after: after, options: options)
        }
    }
}
