import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// `hubspot.gateway.v1.AssociationsService`: associations v4 between records of any types.
public struct AssociationsService: Hubspot_Gateway_V1_AssociationsService.ServiceProtocol {
    private let records: RecordOperations

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    public init(crm: CRM, defaultTimeout: Duration = .seconds(10)) {
        records = RecordOperations(crm: crm, defaultTimeout: defaultTimeout)
    }

    private func check(_ ref: Hubspot_Gateway_V1_ObjectRef, field: String) throws(RPCError) {
        try InputValidation.objectType(ref.objectType, field: field + ".object_type")
        try InputValidation.id(ref.id, field: field + ".id")
    }

    public func associate(request: ServerRequest<Hubspot_Gateway_V1_AssociateRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_AssociateResponse>
    {
        let message = request.message
        try check(message.from, field: "from")
        try check(message.to, field: "to")
        var kinds: [AssociationKind] = []
        for (index, type) in message.types.enumerated() {
            kinds.append(try AssociationTranslation.kind(type, field: "types[\(index)]"))
        }
        let (from, to) = (RecordRef(message.from), RecordRef(message.to))
        let terms = records.terms(request.metadata)
        let now = try await records.mapped("the association \(from) → \(to)") {
            try await records.crm.associations.associate(from, to, kinds: kinds, terms)
        }
        return ServerResponse(message: .with { $0.types = now.map(Hubspot_Gateway_V1_AssociationType.init) })
    }

    public func listAssociations(
        request: ServerRequest<Hubspot_Gateway_V1_ListAssociationsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_ListAssociationsResponse> {
        let message = request.message
        try check(message.from, field: "from")
        try InputValidation.objectType(message.toObjectType, field: "to_object_type")
        guard message.page.pageSize >= 0, message.page.pageSize <= 500 else {
            throw InputValidation.invalid("page.page_size must be between 0 and 500")
        }
        let limit = message.page.pageSize == 0 ? 100 : Int(message.page.pageSize)
        let terms = records.terms(request.metadata)
        let cursor = message.page.cursor
        let from = RecordRef(message.from.objectType, message.from.id)
        let page = try await records.mapped("the associations of \(from)") {
            try await records.crm.associations.list(
                of: from, toType: message.toObjectType, limit: limit, after: cursor.isEmpty ? nil : cursor, terms)
        }
        return ServerResponse(
            message: .with {
                $0.associations = page.associations.map(Hubspot_Gateway_V1_Association.init)
                $0.page = .init(next: page.next)
            })
    }

    public func removeAssociation(
        request: ServerRequest<Hubspot_Gateway_V1_RemoveAssociationRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_RemoveAssociationResponse> {
        let message = request.message
        try check(message.from, field: "from")
        try check(message.to, field: "to")
        let (from, to) = (RecordRef(message.from), RecordRef(message.to))
        let terms = records.terms(request.metadata)
        try await records.mapped("the association \(from) → \(to)") {
            try await records.crm.associations.remove(from, to, terms)
        }
        return ServerResponse(message: .init())
    }
}

extension RecordRef {
    init(_ ref: Hubspot_Gateway_V1_ObjectRef) { self.init(ref.objectType, ref.id) }
}

extension Hubspot_Gateway_V1_Association {
    init(_ association: Association) {
        self.init()
        toObjectID = association.toId
        types = association.kinds.map(Hubspot_Gateway_V1_AssociationType.init)
    }
}
