import HubSpotAPI

/// The door's coalesced operations besides single reads and writes: many reads and writes at
/// once, and association writes merged with other callers' into HubSpot's batch calls. Every
/// other operation is one `call` written once, in the domain (`HubSpotUpstream.perform`).
extension HubSpotUpstream {
    /// Many records through the read coalescer (one HubSpot call for the misses, shared with
    /// other callers); nil where HubSpot has no such record, in the order asked.
    public func readObjects(
        type: String, ids: [String], properties: [String], maxStaleness: Duration? = nil, _ terms: CallTerms
    ) async throws -> [HubSpotObject?] {
        let properties = PropertyNames.normalized(properties)
        return try await withThrowingTaskGroup(of: (Int, HubSpotObject?).self) { group in
            for (index, id) in ids.enumerated() {
                group.addTask {
                    let read = try await self.readObject(
                        type: type, id: id, properties: properties, maxStaleness: maxStaleness, terms)
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
    public func write(type: String, _ writes: [ObjectWrite], _ terms: CallTerms) async -> [Result<
        HubSpotObject, any Error
    >] {
        await withTaskGroup(of: (Int, Result<HubSpotObject, any Error>).self) { group in
            for (index, write) in writes.enumerated() {
                group.addTask {
                    do {
                        return (
                            index,
                            .success(try await self.write(type: type, write, terms))
                        )
                    } catch { return (index, .failure(error)) }
                }
            }
            var results = [Result<HubSpotObject, any Error>?](repeating: nil, count: writes.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }

    // MARK: Associations

    /// Associates two records, with HubSpot's default type when `types` is empty, in a batch
    /// call shared with other callers of the type pair.
    public func associate(
        from: (type: String, id: String), to: (type: String, id: String), types: [AssociationSpec],
        _ terms: CallTerms
    ) async throws {
        try await writeAssociation(
            types.isEmpty ? .associateDefault : .associate, from: from, to: to, types: types, terms)
    }

    /// One association write through the coalescer; both records' cached copies are dropped
    /// (a record read with associations shows them), whether it went through or not.
    func writeAssociation(
        _ operation: AssociationWriteCoalescer.Operation, from: (type: String, id: String),
        to: (type: String, id: String), types: [AssociationSpec] = [], _ terms: CallTerms
    ) async throws {
        do {
            try await associationWrites[terms.priority]!.write(
                operation, from: from.type, to: to.type, AssociationWrite(fromId: from.id, toId: to.id, types: types),
                deadline: terms.deadline)
        } catch {
            await invalidate([from, to])
            throw error
        }
        await invalidate([from, to])
    }

    /// Removes every association between two records, in a batch call shared with other
    /// callers of the type pair.
    public func removeAssociations(
        from: (type: String, id: String), to: (type: String, id: String), _ terms: CallTerms
    ) async throws {
        try await writeAssociation(.remove, from: from, to: to, terms)
    }
}
