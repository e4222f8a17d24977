import HubSpotAPI
import Foundation

/// A list of records (marketing's segments).
public struct CRMList: Sendable, Equatable {
    public var id: String
    public var name: String
    /// The records' object type id ("0-1": contacts).
    public var objectTypeId: String
    /// MANUAL (static: members changed by API), DYNAMIC (by filters) or SNAPSHOT.
    public var processingType: String
    public var size: Int?
    public var updatedAt: Date?
}

/// A page of lists.
public struct CRMListPage: Sendable {
    public var lists: [CRMList]
    /// Where the next page starts; nil on the last.
    public var nextOffset: Int?
    public var total: Int?
}

/// A page of a list's members.
public struct CRMListMembers: Sendable {
    public var recordIds: [String]
    public var next: String?
}

/// What a membership change did.
public struct CRMListChange: Sendable, Equatable {
    public var changed: [String]
    /// Ids that name no record of the list's type (additions only).
    public var missing: [String]
}

/// HubSpot's lists: found by name, read with their members, and the members of static
/// (MANUAL) lists added and removed in batches.
public struct CRMLists: Sendable {
    let upstream: HubSpotUpstream

    /// Lists whose name contains `query` (all when nil), from `offset`.
    public func find(query: String?, offset: Int, count: Int, _ terms: CallTerms) async throws -> CRMListPage {
        CRMListPage(
            try await upstream.perform(terms) {
                try await $0.searchLists(query: query, offset: offset, count: count, options: $1)
            })
    }

    public func get(_ id: String, _ terms: CallTerms) async throws -> CRMList {
        CRMList(try await upstream.perform(terms) { try await $0.list(id, options: $1) })
    }

    public func members(of id: String, limit: Int, after: String?, _ terms: CallTerms) async throws -> CRMListMembers {
        CRMListMembers(
            try await upstream.perform(terms) {
                try await $0.listMemberships(id, limit: limit, after: after, options: $1)
            })
    }

    /// Adds (or removes) members of a MANUAL list, in calls of at most `batchSize` ids.
    public func change(_ id: String, add: Bool, recordIds: [String], batchSize: Int = 10_000, _ terms: CallTerms)
        async throws -> CRMListChange
    {
        var total = CRMListChange(changed: [], missing: [])
        for start in stride(from: 0, to: recordIds.count, by: batchSize) {
            let batch = Array(recordIds[start..<min(recordIds.count, start + batchSize)])
            let change = CRMListChange(
                try await upstream.perform(terms) {
                    try await $0.changeListMemberships(id, add: add, recordIds: batch, options: $1)
                }, add: add)
            total.changed += change.changed
            total.missing += change.missing
        }
        return total
    }
}
