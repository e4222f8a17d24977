import HubSpotAPI

/// Reads, searches and writes of CRM records of any type.
public struct Records: Sendable {
    let upstream: HubSpotUpstream
    /// The metadata of each type: writes are checked against its properties (when fresh in the
    /// cache) before HubSpot is called, and its association types give default kinds.
    let metadata: CRMMetadata

    /// One record by id through the shared cache (at most `maxStaleness` old; nil: the cache's
    /// TTL; zero: from HubSpot), served stale when HubSpot cannot be asked. `record` is nil when
    /// HubSpot has no such record.
    public func get(
        _ type: String, id: String, properties: [String], maxStaleness: Duration? = nil, _ terms: CallTerms
    ) async throws -> RecordRead {
        try Caller.authorize(.read, type)
        return try await translatingErrors {
            RecordRead(
                try await upstream.readObject(
                    type: type, id: id, properties: properties, maxStaleness: maxStaleness,
                    terms))
        }
    }

    /// One record by the value of a unique property (`email`, a custom unique property), through
    /// the same cache and batch reads as reads by id.
    public func get(
        _ type: String, uniqueProperty: String, value: String, properties: [String], maxStaleness: Duration? = nil,
        _ terms: CallTerms
    ) async throws -> RecordRead {
        try Caller.authorize(.read, type)
        return try await explainingIdProperty(type, uniqueProperty, terms) {
            RecordRead(
                try await upstream.readObject(
                    type: type, uniqueProperty: uniqueProperty, value: value, properties: properties,
                    maxStaleness: maxStaleness, terms))
        }
    }

    /// Many records by id (one HubSpot batch read for the cache's misses, shared with other
    /// callers); nil where HubSpot has no such record, in the order asked.
    public func get(
        _ type: String, ids: [String], properties: [String], maxStaleness: Duration? = nil, _ terms: CallTerms
    ) async throws -> [CRMRecord?] {
        try Caller.authorize(.read, type)
        return try await translatingErrors {
            try await upstream.readObjects(
                type: type, ids: ids, properties: properties, maxStaleness: maxStaleness,
                terms
            ).map { $0.map(CRMRecord.init) }
        }
    }

    /// A page of records in HubSpot's order (by id); `archived` lists the archived ones instead,
    /// each with its `archivedAt` (search never finds them).
    public func list(
        _ type: String, limit: Int, after cursor: String?, properties: [String], archived: Bool = false,
        _ terms: CallTerms
    ) async throws -> RecordPage {
        try Caller.authorize(.read, type)
        let properties = PropertyNames.normalized(properties)
        return RecordPage(
            try await upstream.perform(terms) {
                try await $0.listObjects(
                    type, limit: limit, after: cursor, properties: properties, archived: archived, options: $1)
            })
    }

    /// A page of search results (search has its own, smaller budget).
    /// HubSpot's search pages end at this many results per query.
    public static let searchResultsCap = 10_000

    public func search(_ type: String, _ query: RecordQuery, _ terms: CallTerms) async throws -> RecordPage {
        try Caller.authorize(.read, type)
        // HubSpot refuses pages past its 10,000th result (after is an offset): say why, unspent.
        if let offset = query.after.flatMap({ Int($0) }), offset + query.limit > Self.searchResultsCap {
            throw CRMError(
                .searchResultsCap,
                "search stops at HubSpot's \(Self.searchResultsCap)th result (after \(offset), limit \(query.limit)): narrow the query — e.g. filter on hs_lastmodifieddate or hs_object_id ranges — or use ObjectsService.ExportChanged"
            )
        }
        let request = SearchRequest(query)
        return RecordPage(
            try await upstream.perform(terms, .search) { try await $0.search(type, request, options: $1) })
    }

    /// Creates, updates or upserts one record (merged with other callers' writes into HubSpot's
    /// batch calls); the record's cached copies are dropped. A write whose outcome cannot be
    /// known fails with `WriteOutcomeUnknown`.
    public func write(_ type: String, _ write: ObjectWrite, _ terms: CallTerms) async throws -> CRMRecord {
        try Caller.authorize(.write, type)
        if let refusal = await schemaRefusal(type, [write]).first ?? nil { throw refusal }
        if let refusal = await stageRefusal(type, write, terms) { throw refusal }
        let write = try await withDefaultKinds(type, [write], terms)[0].get()
        let idProperty: String? = if case .upsert(let idProperty, _, _) = write { idProperty } else { nil }
        let body = {
            CRMRecord(
                try await upstream.write(type: type, write, terms))
        }
        guard let idProperty else { return try await translatingErrors(body) }
        return try await explainingIdProperty(type, idProperty, terms, body)
    }

    /// Many writes, each merged into HubSpot batch calls; one result per input, in input order.
    public func write(_ type: String, _ writes: [ObjectWrite], _ terms: CallTerms) async
        -> [Result<CRMRecord, any Error>]
    {
        do { try Caller.authorize(.write, type) } catch { return writes.map { _ in .failure(error) } }
        let resolved = await withDefaultKinds(type, writes, terms)
        var refusals: [(any Error)?] = await schemaRefusal(type, writes)
        for (index, write) in writes.enumerated() where refusals[index] == nil {
            refusals[index] = await stageRefusal(type, write, terms)
        }
        for (index, write) in resolved.enumerated() {
            if case .failure(let error) = write, refusals[index] == nil { refusals[index] = error }
        }
        let writes = resolved.map { (try? $0.get()) ?? .create(properties: [:]) }
        // Only the writes nothing refused go to HubSpot.
        let checked = writes.indices.filter { refusals[$0] == nil }
        let sent =
            checked.isEmpty
            ? []
            : await upstream.write(
                type: type, checked.map { writes[$0] }, terms)
        var results = refusals.map { refusal in refusal.map { Result<CRMRecord, any Error>.failure($0) } }
        for (index, result) in zip(checked, sent) {
            results[index] = result.map(CRMRecord.init).mapError(CRMError.translating)
        }
        return results.map { $0! }
    }

    /// The writes with HubSpot's default kind filled in where a new record's association names
    /// none: the standard pairs' from memory, every other HubSpot-defined pair's (line items,
    /// products, quotes, notes, tasks, calls, emails, meetings, custom objects) from the
    /// association types in the metadata cache, and kinds named by their label found there. A
    /// pair without one, or an unknown label, fails its write.
    func withDefaultKinds(_ type: String, _ writes: [ObjectWrite], _ terms: CallTerms) async
        -> [Result<ObjectWrite, any Error>]
    {
        var defaults: [String: Result<AssociationKind, any Error>] = [:]
        var results: [Result<ObjectWrite, any Error>] = []
        for write in writes {
            guard case .create(let properties, var associations) = write,
                associations.contains(where: { $0.kinds.isEmpty || $0.kinds.contains { $0.typeId == 0 } })
            else {
                results.append(.success(write))
                continue
            }
            do {
                for index in associations.indices {
                    // Kinds named by their label: the pair's kind of that label.
                    for (k, kind) in associations[index].kinds.enumerated() where kind.typeId == 0 {
                        associations[index].kinds[k] = try await metadata.associationKind(
                            labelled: kind.label ?? "", from: type, to: associations[index].to.type, terms)
                    }
                }
                for index in associations.indices where associations[index].kinds.isEmpty {
                    let toType = associations[index].to.type
                    if defaults[toType] == nil {
                        do {
                            defaults[toType] = .success(try await defaultKind(from: type, to: toType, terms))
                        } catch {
                            defaults[toType] = .failure(error)
                        }
                    }
                    associations[index].kinds = [try defaults[toType]!.get()]
                }
                results.append(.success(.create(properties: properties, associations: associations)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    private func defaultKind(from: String, to: String, _ terms: CallTerms) async throws -> AssociationKind {
        if let known = AssociationKind.default(from: from, to: to) { return known }
        let kinds = try await metadata.associationKinds(from: from, to: to, terms)
        guard let kind = kinds.first(where: { $0.category == .hubspotDefined && $0.label == nil }) else {
            throw CRMError(
                .invalidRequest,
                "HubSpot has no default association from \(from) to \(to); name its types (ListAssociationTypes lists them)"
            )
        }
        return kind
    }

    /// Per write, HubSpot's own refusal of a property it would refuse — unknown, read-only, or
    /// an enumeration value outside the options — when the type's properties are fresh in the
    /// metadata cache (nil per write otherwise: HubSpot checks it).
    func schemaRefusal(_ type: String, _ writes: [ObjectWrite]) async -> [CRMError?] {
        guard let definitions = await metadata.freshProperties(type)
        else { return writes.map { _ in nil } }
        let byName = Dictionary(definitions.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return writes.map { write in
            let properties: [String: String?] =
                switch write {
                case .create(let properties, _): properties.mapValues { Optional($0) }
                case .update(_, let properties), .upsert(_, _, let properties): properties
                }
            for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
                guard let definition = byName[name] else {
                    return CRMError(.invalidInput(property: name), "Property \"\(name)\" does not exist")
                }
                if definition.modificationMetadata?.readOnlyValue == true {
                    return CRMError(
                        .invalidInput(property: name), "\(name) is a read only property; its value cannot be set.")
                }
                if let value, !value.isEmpty, definition.type == "enumeration", let options = definition.options,
                    !options.isEmpty
                {
                    let allowed = Set(options.map(\.value))
                    // Multiple checkboxes hold several options, separated by semicolons.
                    let chosen =
                        definition.fieldType == "checkbox" ? value.split(separator: ";").map(String.init) : [value]
                    if let wrong = chosen.first(where: { !allowed.contains($0) }) {
                        return CRMError(
                            .invalidInput(property: name),
                            "\(wrong) was not one of the allowed options: [\(options.map(\.value).joined(separator: ", "))]"
                        )
                    }
                }
            }
            return nil
        }
    }

    /// Merges `mergedId` into `primaryId` and answers the surviving record (HubSpot may keep
    /// either id: the answer's id is the survivor's). A read of the merged-away id answers the
    /// survivor from then on, as HubSpot does. A merge whose outcome cannot be known fails with
    /// `WriteOutcomeUnknown`.
    public func merge(_ type: String, primaryId: String, mergedId: String, _ terms: CallTerms) async throws
        -> CRMRecord
    {
        try Caller.authorize(.write, type)
        // Never retried once it may have reached HubSpot; both records' cached copies are
        // dropped, and reads of the merged-away id are served the survivor from then on.
        let survivor = try await upstream.perform(
            terms, idempotent: false, invalidating: [(type, primaryId), (type, mergedId)]
        ) { try await $0.mergeObjects(type, primaryId: primaryId, mergedId: mergedId, options: $1) }
        for gone in [mergedId, primaryId] where gone != survivor.id {
            await upstream.cache.rememberMerge(type: type, id: gone, into: survivor.id)
        }
        return CRMRecord(survivor)
    }

    /// Archives one record.
    public func archive(_ type: String, id: String, _ terms: CallTerms) async throws {
        try Caller.authorize(.write, type)
        try await upstream.perform(terms, invalidating: [(type, id)]) {
            try await $0.archiveObject(type, id: id, options: $1)
        }
    }

    /// Archives up to 100 records in one HubSpot call.
    public func archive(_ type: String, ids: [String], _ terms: CallTerms) async throws {
        try Caller.authorize(.write, type)
        try await upstream.perform(terms, invalidating: ids.map { (type, $0) }) {
            try await $0.batchArchive(type, ids: ids, options: $1)
        }
    }

    /// Runs `body`; when HubSpot refuses it as invalid input and `idProperty` is not a unique
    /// property of `type` (HubSpot finds and upserts records only by those: `domain` of
    /// companies is not one), fails with `.notAUniqueProperty` naming the type's unique
    /// properties. That costs one properties call, on this error path only.
    func explainingIdProperty<T>(
        _ type: String, _ idProperty: String, _ terms: CallTerms, _ body: () async throws -> T
    ) async throws -> T {
        do {
            return try await translatingErrors(body)
        } catch let error as CRMError {
            guard case .invalidInput = error.reason else { throw error }
            let definitions = try? await upstream.perform(terms) { try await $0.properties(of: type, options: $1) }
            guard let definitions,
                !definitions.contains(where: { $0.name == idProperty && $0.hasUniqueValue == true })
            else { throw error }
            let unique = definitions.filter { $0.hasUniqueValue == true }.map(\.name)
            let none = "none yet; create a custom property with unique values"
            let names = unique.isEmpty ? none : unique.joined(separator: ", ")
            throw CRMError(
                .notAUniqueProperty(idProperty, uniqueProperties: unique),
                "'\(idProperty)' is not a unique property of \(type): HubSpot looks records up and upserts them only by a unique property (for \(type): \(names)); HubSpot said: \(error.message)",
                correlationId: error.correlationId)
        }
    }
}

extension Records {
    /// HubSpot's batch read takes at most this many records when it returns property history.
    static let historyBatchSize = 50

    /// Records by id with the history of `historyOf` (and the current values of `properties`),
    /// always from HubSpot: histories are not cached. A history is many values a property held,
    /// asked for rarely (audits, analytics), so caching it would spend the cache's memory on
    /// data few read twice, and a record's cached entry would need invalidating per property set.
    /// nil where HubSpot has no such record, in the order asked; 50 records per HubSpot call.
    /// - Parameter beforeCall: runs before each HubSpot call (an export's pacing and counting).
    public func withHistory(
        _ type: String, ids: [String], properties: [String], historyOf: [String], _ terms: CallTerms,
        beforeCall: @Sendable () async throws -> Void = {}
    ) async throws -> [CRMRecord?] {
        try Caller.authorize(.read, type)
        let properties = PropertyNames.normalized(properties)
        let historyOf = PropertyNames.normalized(historyOf)
        var found: [String: CRMRecord] = [:]
        var seen = Set<String>()
        let unique = ids.filter { seen.insert($0).inserted }
        for start in stride(from: 0, to: unique.count, by: Self.historyBatchSize) {
            let chunk = Array(unique[start..<min(unique.count, start + Self.historyBatchSize)])
            try await beforeCall()
            let result = try await upstream.perform(terms) {
                try await $0.batchRead(
                    type, ids: chunk, properties: properties, propertiesWithHistory: historyOf, options: $1)
            }
            for object in result.results { found[object.id] = CRMRecord(object) }
        }
        return ids.map { found[$0] }
    }
}
