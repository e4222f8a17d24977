import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// A batch-write RPC's answer: the per-input results of `Records.write(_:_:_:)` as the API's
/// messages.
enum BatchWrites {
    /// Per-input results as the API's messages (an empty message for a failed input, so the
    /// list stays in input order) and `BatchError`s by index.
    static func split<Message: SwiftProtobuf.Message>(
        _ results: [Result<CRMRecord, any Error>], subject: String, _ convert: (CRMRecord) -> Message
    ) -> ([Message], [Hubspot_Gateway_V1_BatchError]) {
        var messages: [Message] = []
        var errors: [Hubspot_Gateway_V1_BatchError] = []
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let record): messages.append(convert(record))
            case .failure(let failure):
                messages.append(Message())
                errors.append(error(index: index, failure, subject: "\(subject)[\(index)]"))
            }
        }
        return (messages, errors)
    }

    /// One input's failure as the API's `BatchError`.
    static func error(index: Int, _ error: any Error, subject: String) -> Hubspot_Gateway_V1_BatchError {
        let rpc = GatewayErrors.rpcError(error, subject: subject)
        return .with {
            $0.index = Int32(index)
            $0.code = Int32(rpc.code.rawValue)
            $0.message = rpc.message
            $0.propertyName = rpc.metadata.firstString(GatewayErrors.Key.property) ?? ""
            $0.existingID = rpc.metadata.firstString(GatewayErrors.Key.existingId) ?? ""
        }
    }
}

/// The API's association targets and types as the domain's.
enum AssociationTranslation {
    /// An association to make with a new record of type `from`; no kinds when the target names
    /// none (the domain uses HubSpot's default kind of the pair).
    static func input(_ target: Hubspot_Gateway_V1_AssociationTarget, field: String, from: String) throws(RPCError)
        -> NewAssociation
    {
        try InputValidation.objectType(target.objectType, field: field + ".object_type")
        try InputValidation.id(target.objectID, field: field + ".object_id")
        var kinds: [AssociationKind] = []
        for (index, type) in target.types.enumerated() {
            kinds.append(try kind(type, field: "\(field).types[\(index)]"))
        }
        return NewAssociation(to: RecordRef(target.objectType, target.objectID), kinds: kinds)
    }

    /// A type by id (with its category), or by its label alone (type_id 0), found by the domain.
    static func kind(_ type: Hubspot_Gateway_V1_AssociationType, field: String) throws(RPCError) -> AssociationKind {
        if type.typeID == 0, !type.label.isEmpty { return .labelled(type.label) }
        guard type.typeID > 0 else {
            throw InputValidation.invalid(
                field: "\(field).type_id", "\(field).type_id must be positive, or 0 with the type's label")
        }
        switch type.category {
        case .hubspotDefined: return AssociationKind(.hubspotDefined, Int(type.typeID))
        case .userDefined: return AssociationKind(.userDefined, Int(type.typeID))
        case .integratorDefined: return AssociationKind(.integratorDefined, Int(type.typeID))
        case .unspecified, .UNRECOGNIZED:
            throw InputValidation.invalid(field: "\(field).category", "\(field).category must be set")
        }
    }
}

extension Hubspot_Gateway_V1_AssociationType {
    init(_ kind: AssociationKind) {
        self.init()
        category =
            switch kind.category {
            case .hubspotDefined: .hubspotDefined
            case .userDefined: .userDefined
            case .integratorDefined: .integratorDefined
            }
        typeID = Int32(kind.typeId)
        label = kind.label ?? ""
    }
}

/// A batch-get RPC's answer: the records found, as the API's messages, and the ids HubSpot does
/// not have (in the order asked).
enum BatchReads {
    static func split<Message>(_ records: [CRMRecord?], ids: [String], _ convert: (CRMRecord) -> Message)
        -> (found: [Message], missing: [String])
    {
        var found: [Message] = []
        var missing: [String] = []
        for (index, record) in records.enumerated() {
            if let record { found.append(convert(record)) } else { missing.append(ids[index]) }
        }
        return (found, missing)
    }
}
