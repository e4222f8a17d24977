import ChangeFeed
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// The Changes API's messages to and from the feed's types.
enum ChangeTranslation {
    static func filter(_ request: Hubspot_Gateway_V1_SubscribeRequest) throws(RPCError) -> ChangeFilter {
        for (index, type) in request.objectTypes.enumerated() {
            try InputValidation.objectType(type, field: "object_types[\(index)]")
        }
        var kinds = Set<ChangeEvent.Kind>()
        for (index, kind) in request.kinds.enumerated() {
            guard let kind = ChangeEvent.Kind(kind) else {
                throw InputValidation.invalid(
                    field: "kinds[\(index)]", "kinds[\(index)] must be a change kind other than UNSPECIFIED")
            }
            kinds.insert(kind)
        }
        try InputValidation.propertyNames(request.propertyNames, field: "property_names")
        return ChangeFilter(
            objectTypes: Set(request.objectTypes), kinds: kinds, propertyNames: Set(request.propertyNames))
    }

    static func start(_ request: Hubspot_Gateway_V1_SubscribeRequest) throws(RPCError) -> FeedStart {
        switch request.start {
        case .fromCursor(let cursor):
            guard FeedCursor.isValid(cursor) else {
                throw InputValidation.invalid(
                    "from_cursor \"\(cursor.prefix(40))\" is not a feed cursor (use an event's `cursor`)")
            }
            return .after(cursor)
        case .position(.oldest): return .oldest
        case .position, nil: return .now
        }
    }

    /// Group and member names: letters, digits, `-`, `_`, `.`, at most 64.
    static func name(_ text: String, field: String) throws(RPCError) {
        guard !text.isEmpty, text.count <= 64,
            text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") })
        else {
            throw InputValidation.invalid(field: field, "\(field) must be 1–64 letters, digits, '-', '_' or '.'")
        }
    }
}

extension ChangeEvent.Kind {
    init?(_ kind: Hubspot_Gateway_V1_ChangeKind) {
        switch kind {
        case .created: self = .created
        case .updated: self = .updated
        case .deleted: self = .deleted
        case .merged: self = .merged
        case .restored: self = .restored
        case .associationAdded: self = .associationAdded
        case .associationRemoved: self = .associationRemoved
        case .unknown: self = .unknown
        case .unspecified, .UNRECOGNIZED: return nil
        }
    }
}

extension Hubspot_Gateway_V1_ChangeKind {
    init(_ kind: ChangeEvent.Kind) {
        switch kind {
        case .created: self = .created
        case .updated: self = .updated
        case .deleted: self = .deleted
        case .merged: self = .merged
        case .restored: self = .restored
        case .associationAdded: self = .associationAdded
        case .associationRemoved: self = .associationRemoved
        case .unknown: self = .unknown
        }
    }
}

extension Hubspot_Gateway_V1_ChangeEvent {
    init(_ event: ChangeEvent) {
        self.init()
        cursor = event.cursor ?? ""
        objectType = event.objectType
        objectID = event.objectId
        kind = .init(event.kind)
        propertyName = event.propertyName ?? ""
        if let value = event.propertyValue { propertyValue = value }
        occurredAt = Google_Protobuf_Timestamp(milliseconds: event.occurredAt)
        changeSource = event.changeSource ?? ""
        eventID = event.eventId
        mergedObjectIds = event.mergedObjectIds
        primaryObjectID = event.primaryObjectId ?? ""
        associationType = event.associationType ?? ""
        toObjectID = event.toObjectId ?? ""
        subscriptionType = event.subscriptionType
        source = event.source.rawValue
        if let changed = event.changedProperties {
            changedProperties = changed
            changedPropertiesKnown = true
        }
    }
}
