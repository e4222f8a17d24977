import Foundation
import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// `hubspot.gateway.v1.ListsService`: HubSpot's lists, on the domain's `CRMLists`.
public struct ListsService: Hubspot_Gateway_V1_ListsService.ServiceProtocol {
    private let records: RecordOperations
    private var lists: CRMLists { records.crm.lists }

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    public init(crm: CRM, defaultTimeout: Duration = .seconds(10)) {
        records = RecordOperations(crm: crm, defaultTimeout: defaultTimeout)
    }

    private static func listId(_ id: String) throws(RPCError) -> String {
        try InputValidation.id(id, field: "list_id")
        return id
    }

    public func listLists(request: ServerRequest<Hubspot_Gateway_V1_ListListsRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_ListListsResponse>
    {
        let message = request.message
        guard (0...500).contains(message.page.pageSize) else {
            throw InputValidation.invalid(field: "page.page_size", "page.page_size must be between 0 and 500")
        }
        let offset: Int
        if message.page.cursor.isEmpty {
            offset = 0
        } else if let parsed = Int(message.page.cursor), parsed >= 0 {
            offset = parsed
        } else {
            throw InputValidation.invalid(field: "page.cursor", "page.cursor is not one this RPC handed out")
        }
        let terms = records.terms(request.metadata)
        let page = try await records.mapped("the lists") {
            try await lists.find(
                query: message.nameContains.isEmpty ? nil : message.nameContains, offset: offset,
                count: message.page.pageSize == 0 ? 20 : Int(message.page.pageSize), terms)
        }
        return ServerResponse(
            message: .with {
                $0.lists = page.lists.map(Hubspot_Gateway_V1_CrmList.init)
                $0.page = .init(next: page.nextOffset.map(String.init))
                if let total = page.total { $0.page.total = Int64(total) }
            })
    }

    public func getList(request: ServerRequest<Hubspot_Gateway_V1_GetListRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_GetListResponse>
    {
        let id = try Self.listId(request.message.listID)
        let terms = records.terms(request.metadata)
        let list = try await records.mapped("list \(id)") { try await lists.get(id, terms) }
        return ServerResponse(message: .with { $0.list = .init(list) })
    }

    public func listMemberships(
        request: ServerRequest<Hubspot_Gateway_V1_ListMembershipsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_ListMembershipsResponse> {
        let message = request.message
        let id = try Self.listId(message.listID)
        guard (0...250).contains(message.page.pageSize) else {
            throw InputValidation.invalid(field: "page.page_size", "page.page_size must be between 0 and 250")
        }
        let terms = records.terms(request.metadata)
        let page = try await records.mapped("the members of list \(id)") {
            try await lists.members(
                of: id, limit: message.page.pageSize == 0 ? 100 : Int(message.page.pageSize),
                after: message.page.cursor.isEmpty ? nil : message.page.cursor, terms)
        }
        return ServerResponse(
            message: .with {
                $0.recordIds = page.recordIds
                $0.page = .init(next: page.next)
            })
    }

    public func addListMembers(
        request: ServerRequest<Hubspot_Gateway_V1_ChangeListMembersRequest>, context: ServerContext
    )
        async throws -> ServerResponse<Hubspot_Gateway_V1_ChangeListMembersResponse>
    {
        try await change(request, add: true)
    }

    public func removeListMembers(
        request: ServerRequest<Hubspot_Gateway_V1_ChangeListMembersRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_ChangeListMembersResponse> {
        try await change(request, add: false)
    }

    private func change(_ request: ServerRequest<Hubspot_Gateway_V1_ChangeListMembersRequest>, add: Bool) async throws
        -> ServerResponse<Hubspot_Gateway_V1_ChangeListMembersResponse>
    {
        let message = request.message
        let id = try Self.listId(message.listID)
        guard !message.recordIds.isEmpty, message.recordIds.count <= 100_000 else {
            throw InputValidation.invalid(
                field: "record_ids", "record_ids must hold 1 to 100,000 ids, not \(message.recordIds.count)")
        }
        for (index, record) in message.recordIds.enumerated() {
            try InputValidation.id(record, field: "record_ids[\(index)]")
        }
        let terms = records.terms(request.metadata)
        let change = try await records.mapped("the members of list \(id)") {
            try await lists.change(id, add: add, recordIds: message.recordIds, terms)
        }
        return ServerResponse(
            message: .with {
                $0.changedRecordIds = change.changed
                $0.missingRecordIds = change.missing
            })
    }
}

extension ListsService {
    static func name(_ text: String) throws(RPCError) -> String {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty, text.count <= 255 else {
            throw InputValidation.invalid(field: "name", "name is required (at most 255 characters)")
        }
        return text
    }

    static func filter(_ filter: Hubspot_Gateway_V1_ListFilter) throws(RPCError) -> CRMListFilter {
        guard !filter.anyOf.isEmpty else {
            throw InputValidation.invalid(field: "filter.any_of", "filter.any_of must hold at least one group")
        }
        var groups: [[CRMListFilter.Condition]] = []
        for (g, group) in filter.anyOf.enumerated() {
            guard !group.allOf.isEmpty else {
                throw InputValidation.invalid(
                    field: "filter.any_of[\(g)].all_of", "filter.any_of[\(g)].all_of must hold at least one condition")
            }
            var conditions: [CRMListFilter.Condition] = []
            for (c, condition) in group.allOf.enumerated() {
                let field = "filter.any_of[\(g)].all_of[\(c)]"
                try InputValidation.propertyName(condition.property, field: "\(field).property")
                let op: CRMListFilter.Operator
                switch condition.operator {
                case .equals: op = .equals
                case .notEquals: op = .notEquals
                case .contains: op = .contains
                case .isKnown: op = .isKnown
                case .isUnknown: op = .isUnknown
                case .unspecified, .UNRECOGNIZED:
                    throw InputValidation.invalid(field: "\(field).operator", "\(field).operator is required")
                }
                let compares = [.equals, .notEquals, .contains].contains(op)
                guard compares == !condition.values.isEmpty else {
                    throw InputValidation.invalid(
                        field: "\(field).values",
                        compares
                            ? "\(field).values must hold at least one value"
                            : "\(field).values must be empty for IS_KNOWN and IS_UNKNOWN")
                }
                conditions.append(.init(property: condition.property, op: op, values: condition.values))
            }
            groups.append(conditions)
        }
        return CRMListFilter(anyOf: groups)
    }

    public func createList(request: ServerRequest<Hubspot_Gateway_V1_CreateListRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_CreateListResponse>
    {
        let message = request.message
        let name = try Self.name(message.name)
        let type = message.objectType.isEmpty ? "contacts" : message.objectType
        try InputValidation.objectType(type)
        let filter = message.hasFilter ? try Self.filter(message.filter) : nil
        let terms = records.terms(request.metadata)
        let list = try await records.mapped("the list \(name)") {
            try await lists.create(name: name, objectType: type, filter: filter, terms)
        }
        return ServerResponse(message: .with { $0.list = .init(list) })
    }

    public func renameList(request: ServerRequest<Hubspot_Gateway_V1_RenameListRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_RenameListResponse>
    {
        let id = try Self.listId(request.message.listID)
        let name = try Self.name(request.message.name)
        let terms = records.terms(request.metadata)
        let list = try await records.mapped("list \(id)") { try await lists.rename(id, to: name, terms) }
        return ServerResponse(message: .with { $0.list = .init(list) })
    }

    public func updateListFilter(
        request: ServerRequest<Hubspot_Gateway_V1_UpdateListFilterRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_UpdateListFilterResponse> {
        let id = try Self.listId(request.message.listID)
        let filter = try Self.filter(request.message.filter)
        let terms = records.terms(request.metadata)
        let list = try await records.mapped("list \(id)") { try await lists.setFilter(id, filter, terms) }
        return ServerResponse(message: .with { $0.list = .init(list) })
    }

    public func deleteList(request: ServerRequest<Hubspot_Gateway_V1_DeleteListRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_DeleteListResponse>
    {
        let id = try Self.listId(request.message.listID)
        let terms = records.terms(request.metadata)
        try await records.mapped("list \(id)") { try await lists.delete(id, terms) }
        return ServerResponse(message: .init())
    }
}

extension Hubspot_Gateway_V1_CrmList {
    init(_ list: CRMList) {
        self.init()
        id = list.id
        name = list.name
        objectTypeID = list.objectTypeId
        processingType = list.processingType
        size = Int64(list.size ?? 0)
        if let updated = list.updatedAt { updatedAt = Google_Protobuf_Timestamp(hubSpotTime: updated) }
    }
}
