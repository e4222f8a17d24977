import GatewayCore
import GatewayProto
import GRPCCore
import HubSpotAPI
import SwiftProtobuf

/// A batch-write RPC's answer: the door writes each input through its coalescer
/// (`HubSpotUpstream.write(type:_:priority:deadline:)`); this maps the per-input results.
enum BatchWrites {
    /// Per-input results as the API's messages (an empty message for a failed input, so the
    /// list stays in input order) and `BatchError`s by index.
    static func split<Message: SwiftProtobuf.Message>(
        _ results: [Result<HubSpotObject, any Error>], subject: String,
        _ convert: (HubSpotObject) -> Message
    ) -> ([Message], [Hubspot_Gateway_V1_BatchError]) {
        var messages: [Message] = []
        var errors: [Hubspot_Gateway_V1_BatchError] = []
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let object): messages.append(convert(object))
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

/// The API's association targets as HubSpot's association inputs.
enum AssociationTranslation {
    static func input(_ target: Hubspot_Gateway_V1_AssociationTarget, field: String, from: String) throws(RPCError)
        -> AssociationInput
    {
        try InputValidation.objectType(target.objectType, field: field + ".object_type")
        try InputValidation.id(target.objectID, field: field + ".object_id")
        var types: [AssociationSpec] = []
        for (index, type) in target.types.enumerated() {
            types.append(try spec(type, field: "\(field).types[\(index)]"))
        }
        if types.isEmpty {
            guard let typeId = defaultTypeIds[from]?[target.objectType] else {
                throw InputValidation.invalid(
                    "\(field): no default association from \(from) to \(target.objectType); give its types")
            }
            types = [AssociationSpec(.hubspotDefined, typeId)]
        }
        return AssociationInput(toId: target.objectID, types: types)
    }

    static func spec(_ type: Hubspot_Gateway_V1_AssociationType, field: String) throws(RPCError) -> AssociationSpec {
        guard type.typeID > 0 else { throw InputValidation.invalid("\(field).type_id must be positive") }
        switch type.category {
        case .hubspotDefined: return AssociationSpec(.hubspotDefined, Int(type.typeID))
        case .userDefined: return AssociationSpec(.userDefined, Int(type.typeID))
        case .integratorDefined: return AssociationSpec(.integratorDefined, Int(type.typeID))
        case .unspecified, .UNRECOGNIZED: throw InputValidation.invalid("\(field).category must be set")
        }
    }

    /// HubSpot's default (unlabelled) association type ids between standard objects.
    static let defaultTypeIds: [String: [String: Int]] = [
        "contacts": ["companies": 279, "deals": 4, "tickets": 15],
        "companies": ["contacts": 280, "deals": 342, "tickets": 340],
        "deals": ["contacts": 3, "companies": 341, "tickets": 27],
        "tickets": ["contacts": 16, "companies": 339, "deals": 28],
    ]
}

/// A batch-get RPC's answer: the records found, as the API's messages, and the ids HubSpot does
/// not have (in the order asked).
enum BatchReads {
    static func split<Message>(_ objects: [HubSpotObject?], ids: [String], _ convert: (HubSpotObject) -> Message)
        -> (found: [Message], missing: [String])
    {
        var found: [Message] = []
        var missing: [String] = []
        for (index, object) in objects.enumerated() {
            if let object { found.append(convert(object)) } else { missing.append(ids[index]) }
        }
        return (found, missing)
    }
}
