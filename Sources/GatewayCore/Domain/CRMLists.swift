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

/// A filter-based list's filters: a record is a member when it matches every condition of any
/// one group.
public struct CRMListFilter: Sendable, Equatable {
    public enum Operator: Sendable, Equatable {
        case equals, notEquals, contains, isKnown, isUnknown
    }

    public struct Condition: Sendable, Equatable {
        public var property: String
        public var op: Operator
        /// Compared case-insensitively; none for `isKnown` and `isUnknown`.
        public var values: [String]

        public init(property: String, op: Operator, values: [String] = []) {
            self.property = property
            self.op = op
            self.values = values
        }
    }

    public var anyOf: [[Condition]]

    public init(anyOf: [[Condition]]) { self.anyOf = anyOf }

    /// HubSpot's `filterBranch`: an OR branch of AND branches.
    var branch: ListFilterBranch {
        ListFilterBranch(
            filterBranchType: "OR",
            filterBranches: anyOf.map { group in
                ListFilterBranch(
                    filterBranchType: "AND",
                    filters: group.map { condition in
                        let operation: ListPropertyFilter.Operation =
                            switch condition.op {
                            case .equals:
                                .init(operationType: "MULTISTRING", operator: "IS_EQUAL_TO", values: condition.values)
                            case .notEquals:
                                .init(
                                    operationType: "MULTISTRING", operator: "IS_NOT_EQUAL_TO", values: condition.values)
                            case .contains:
                                .init(operationType: "MULTISTRING", operator: "CONTAINS", values: condition.values)
                            case .isKnown: .init(operationType: "ALL_PROPERTY", operator: "IS_KNOWN")
                            case .isUnknown: .init(operationType: "ALL_PROPERTY", operator: "IS_UNKNOWN")
                            }
                        return ListPropertyFilter(property: condition.property, operation: operation)
                    })
            })
    }
}

extension CRMLists {
    /// A new list of `objectType` records: static (members added by API) without a filter,
    /// filter-based (HubSpot keeps its members) with one.
    public func create(name: String, objectType: String, filter: CRMListFilter?, _ terms: CallTerms) async throws
        -> CRMList
    {
        try Caller.authorize(.write, objectType)
        guard let typeId = ObjectTypeAliases.objectTypeId(of: objectType) else {
            throw CRMError(
                .invalidRequest, "\(objectType) is not an object type lists can hold (contacts, companies, deals, …)")
        }
        return CRMList(
            try await upstream.perform(terms, idempotent: false) {
                try await $0.createList(name: name, objectTypeId: typeId, filters: filter?.branch, options: $1)
            })
    }

    public func rename(_ id: String, to name: String, _ terms: CallTerms) async throws -> CRMList {
        CRMList(try await upstream.perform(terms) { try await $0.renameList(id, to: name, options: $1) })
    }

    /// New filters of a filter-based list (its members follow).
    public func setFilter(_ id: String, _ filter: CRMListFilter, _ terms: CallTerms) async throws -> CRMList {
        CRMList(try await upstream.perform(terms) { try await $0.updateListFilters(id, filter.branch, options: $1) })
    }

    public func delete(_ id: String, _ terms: CallTerms) async throws {
        try await upstream.perform(terms) { try await $0.deleteList(id, options: $1) }
    }
}
