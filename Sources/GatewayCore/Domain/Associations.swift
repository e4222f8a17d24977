import HubSpotAPI
/// Associations (HubSpot's v4) between records of any types.
public struct Associations: Sendable {
    let upstream: HubSpotUpstream
    /// Where kinds named by their label are found (`resolve`).
    let metadata: CRMMetadata

    /// Associates two records with `kinds` (HubSpot's default kind between the two types when
    /// empty), in a batch call shared with other callers of the type pair, and answers the
    /// kinds made (the default kind, when HubSpot's is known for the pair). Both records'
    /// cached copies are dropped.
    public func associate(_ from: RecordRef, _ to: RecordRef, kinds: [AssociationKind], _ terms: CallTerms)
        async throws -> [AssociationKind]
    {
        try Self.authorize(from, to)
        let kinds = try await resolve(kinds, from: from.type, to: to.type, terms)
        try await translatingErrors {
            try await upstream.associate(
                from: (from.type, from.id), to: (to.type, to.id), types: kinds.map(\.spec),
                terms)
        }
        return kinds.isEmpty ? [AssociationKind.default(from: from.type, to: to.type)].compactMap { $0 } : kinds
    }

    /// Associates each pair (all of one type pair) with `kinds` (the default kind when empty),
    /// in as few batch calls as the coalescer makes of them; one result per pair, in order.
    public func associate(_ pairs: [(from: RecordRef, to: RecordRef)], kinds: [AssociationKind], _ terms: CallTerms)
        async -> [Result<Void, any Error>]
    {
        guard let first = pairs.first else { return [] }
        let resolved: [AssociationKind]
        do {
            resolved = try await resolve(kinds, from: first.from.type, to: first.to.type, terms)
        } catch {
            return pairs.map { _ in .failure(error) }
        }
        return await each(pairs) { from, to in
            _ = try await associate(from, to, kinds: resolved, terms)
        }
    }

    /// The kinds with those named by their label (type id 0) found among the pair's kinds.
    func resolve(_ kinds: [AssociationKind], from: String, to: String, _ terms: CallTerms) async throws
        -> [AssociationKind]
    {
        var resolved: [AssociationKind] = []
        for kind in kinds {
            guard kind.typeId == 0, let label = kind.label else {
                resolved.append(kind)
                continue
            }
            resolved.append(try await metadata.associationKind(labelled: label, from: from, to: to, terms))
        }
        return resolved
    }

    /// Removes every association between each pair, batched like `associate`.
    public func remove(_ pairs: [(from: RecordRef, to: RecordRef)], _ terms: CallTerms) async
        -> [Result<Void, any Error>]
    {
        await each(pairs) { from, to in try await remove(from, to, terms) }
    }

    /// Changing an association changes the record it starts from and names the other: the
    /// caller needs write access to the first type and read access to the second.
    static func authorize(_ from: RecordRef, _ to: RecordRef) throws {
        try Caller.authorize(.write, from.type)
        try Caller.authorize(.read, to.type)
    }

    /// Runs `body` for every pair at once (so that the coalescer batches them); results in order.
    private func each(
        _ pairs: [(from: RecordRef, to: RecordRef)],
        _ body: @escaping @Sendable (RecordRef, RecordRef) async throws -> Void
    ) async -> [Result<Void, any Error>] {
        await withTaskGroup(of: (Int, Result<Void, any Error>).self) { group in
            for (index, pair) in pairs.enumerated() {
                group.addTask {
                    do {
                        try await body(pair.from, pair.to)
                        return (index, .success(()))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results = [Result<Void, any Error>](repeating: .success(()), count: pairs.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
    }

    /// A page of the records of `toType` associated with `from`.
    public func list(
        of from: RecordRef, toType: String, limit: Int = 500, after cursor: String? = nil, _ terms: CallTerms
    ) async throws -> AssociationPage {
        try Caller.authorize(.read, from.type)
        try Caller.authorize(.read, toType)
        return AssociationPage(
            try await upstream.perform(terms) {
                try await $0.listAssociations(
                    from: from.type, id: from.id, to: toType, limit: limit, after: cursor, options: $1)
            })
    }

    /// The records of `toType` associated with each of `ids` (up to 1,000; HubSpot's batch
    /// read), in one call: keyed by id, absent when a record has none. Only the first page
    /// of each record's associations (HubSpot returns up to 500 per record).
    public func list(of type: String, ids: [String], toType: String, _ terms: CallTerms) async throws
        -> [String: [Association]]
    {
        try Caller.authorize(.read, type)
        try Caller.authorize(.read, toType)
        return Association.byRecord(
            try await upstream.perform(terms) {
                try await $0.batchReadAssociations(from: type, to: toType, ids: ids, options: $1)
            })
    }

    /// Removes every association between two records.
    public func remove(_ from: RecordRef, _ to: RecordRef, _ terms: CallTerms) async throws {
        try Self.authorize(from, to)
        try await translatingErrors {
            try await upstream.removeAssociations(
                from: (from.type, from.id), to: (to.type, to.id), terms)
        }
    }
}

/// A record and the ids of the records of each asked type it is associated with.
public struct RecordAssociations: Sendable, Equatable {
    public var id: String
    /// By type: every asked type, empty when the record has none of it.
    public var associated: [String: [String]]
}

extension Associations {
    /// A page of `type`'s records in HubSpot's order (100 a call), each with the ids of the
    /// records of `toTypes` it is associated with: one HubSpot call for the page and every type
    /// (the list read with `associations`); a record with more of a type than a read holds is
    /// listed whole for that type through the associations API.
    public func page(
        of type: String, toTypes: [String], after cursor: String?, _ terms: CallTerms
    ) async throws -> (records: [RecordAssociations], next: String?) {
        try Caller.authorize(.read, type)
        for toType in toTypes { try Caller.authorize(.read, toType) }
        let page = try await upstream.perform(terms) {
            try await $0.listObjects(
                type, limit: 100, after: cursor, properties: ["hs_object_id"], associations: toTypes, options: $1)
        }
        var records: [RecordAssociations] = []
        for object in page.results {
            var associated: [String: [String]] = [:]
            for toType in toTypes {
                associated[toType] = try await ids(
                    object.associations?[toType], of: RecordRef(type, object.id), toType: toType, terms)
            }
            records.append(RecordAssociations(id: object.id, associated: associated))
        }
        return (records, page.nextAfter)
    }

    /// The ids a read's `associations` block holds for `toType`, once each (a record associated
    /// with several kinds is listed once per kind); when HubSpot says the block has more (it
    /// pages them), every one, through the associations API (500 a call).
    func ids(_ block: AssociationIds?, of record: RecordRef, toType: String, _ terms: CallTerms) async throws
        -> [String]
    {
        guard let block else { return [] }
        var found = block.results.map(\.id)
        if block.paging?.next != nil {
            found = []
            var cursor: String?
            repeat {
                let page = try await list(of: record, toType: toType, after: cursor, terms)
                found += page.associations.map(\.toId)
                cursor = page.next
            } while cursor != nil
        }
        var seen = Set<String>()
        return found.filter { seen.insert($0).inserted }
    }
}
