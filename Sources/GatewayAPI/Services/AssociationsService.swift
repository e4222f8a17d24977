import GatewayCore
import GatewayProto
import GRPCCore
import HubSpotAPI
import SwiftProtobuf

/// `hubspot.gateway.v1.AssociationsService`: associations v4 between records of any types.
public struct AssociationsService: Hubspot_Gateway_V1_AssociationsService.ServiceProtocol {
    private let records: RecordOperations

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    public init(upstream: HubSpotUpstream, defaultTimeout: Duration = .seconds(10)) {
        records = RecordOperations(upstream: upstream, defaultTimeout: defaultTimeout)
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
        var given: [AssociationSpec] = []
        for (index, type) in message.types.enumerated() {
            given.append(try AssociationTranslation.spec(type, field: "types[\(index)]"))
        }
        let specs = given
        let call = records.context(request.metadata)
        let (from, to) = (message.from, message.to)
        try await records.mapped("the association \(from.objectType) \(from.id) → \(to.objectType) \(to.id)") {
            try await records.upstream.associate(
                from: (from.objectType, from.id), to: (to.objectType, to.id), types: specs, priority: call.priority,
                deadline: call.deadline)
        }
        // The types now between the two records.
        let page = try await records.mapped("the associations of \(from.objectType) \(from.id)") {
            try await records.upstream.associations(
                of: (from.objectType, from.id), toType: to.objectType, priority: call.priority, deadline: call.deadline)
        }
        let types = page.results.first { $0.toObjectId == to.id }?.associationTypes ?? []
        return ServerResponse(message: .with { $0.types = types.map(Hubspot_Gateway_V1_AssociationType.init) })
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
        let call = records.context(request.metadata)
        let cursor = message.page.cursor
        let page = try await records.mapped("the associations of \(message.from.objectType) \(message.from.id)") {
            try await records.upstream.associations(
                of: (message.from.objectType, message.from.id), toType: message.toObjectType, limit: limit,
                after: cursor.isEmpty ? nil : cursor, priority: call.priority, deadline: call.deadline)
        }
        return ServerResponse(
            message: .with {
                $0.associations = page.results.map { associated in
                    .with {
                        $0.toObjectID = associated.toObjectId;
                        $0.types = associated.associationTypes.map(Hubspot_Gateway_V1_AssociationType.init)
                    }
                }
                $0.page = .init(next: page.nextAfter)
            })
    }

    public func removeAssociation(
        request: ServerRequest<Hubspot_Gateway_V1_RemoveAssociationRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_RemoveAssociationResponse> {
        let message = request.message
        try check(message.from, field: "from")
        try check(message.to, field: "to")
        let call = records.context(request.metadata)
        let (from, to) = (message.from, message.to)
        try await records.mapped("the association \(from.objectType) \(from.id) → \(to.objectType) \(to.id)") {
            try await records.upstream.removeAssociations(
                from: (from.objectType, from.id), to: (to.objectType, to.id), priority: call.priority,
                deadline: call.deadline)
        }
        return ServerResponse(message: .init())
    }
}

extension Hubspot_Gateway_V1_AssociationType {
    init(_ type: HubSpotAPI.AssociationType) {
        self.init()
        category =
            switch type.category {
            case .hubspotDefined: .hubspotDefined
            case .userDefined: .userDefined
            case .integratorDefined: .integratorDefined
            }
        typeID = Int32(type.typeId)
        label = type.label ?? ""
    }
}
