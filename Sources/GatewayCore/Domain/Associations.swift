/// Associations (HubSpot's v4) between records of any types.
public struct Associations: Sendable {
    let upstream: HubSpotUpstream

    /// Associates two records with `kinds` (HubSpot's default kind between the two types when
    /// empty) and answers the kinds now between them. Both records' cached copies are dropped.
    public func associate(_ from: RecordRef, _ to: RecordRef, kinds: [AssociationKind], _ terms: CallTerms)
        async throws -> [AssociationKind]
    {
        try await translatingErrors {
            try await upstream.associate(
                from: (from.type, from.id), to: (to.type, to.id), types: kinds.map(\.spec), priority: terms.priority,
                deadline: terms.deadline)
        }
        let page = try await list(of: from, toType: to.type, terms)
        return page.associations.first { $0.toId == to.id }?.kinds ?? []
    }

    /// A page of the records of `toType` associated with `from`.
    public func list(
        of from: RecordRef, toType: String, limit: Int = 500, after cursor: String? = nil, _ terms: CallTerms
    ) async throws -> AssociationPage {
        try await translatingErrors {
            AssociationPage(
                try await upstream.associations(
                    of: (from.type, from.id), toType: toType, limit: limit, after: cursor, priority: terms.priority,
                    deadline: terms.deadline))
        }
    }

    /// The records of `toType` associated with each of `ids` (up to 1,000; HubSpot's batch
    /// read), in one call: keyed by id, absent when a record has none. Only the first page
    /// of each record's associations (HubSpot returns up to 500 per record).
    public func list(of type: String, ids: [String], toType: String, _ terms: CallTerms) async throws
        -> [String: [Association]]
    {
        try await translatingErrors {
            Association.byRecord(
                try await upstream.associations(
                    of: type, ids: ids, toType: toType, priority: terms.priority, deadline: terms.deadline))
        }
    }

    /// Removes every association between two records.
    public func remove(_ from: RecordRef, _ to: RecordRef, _ terms: CallTerms) async throws {
        try await translatingErrors {
            try await upstream.removeAssociations(
                from: (from.type, from.id), to: (to.type, to.id), priority: terms.priority, deadline: terms.deadline)
        }
    }
}
