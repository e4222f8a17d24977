import Foundation
import GatewayCore

/// One change HubSpot reported for a record, as the feed stores and serves it.
public struct ChangeEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case created = "CREATED"
        case updated = "UPDATED"
        case deleted = "DELETED"
        case merged = "MERGED"
        case restored = "RESTORED"
        case associationAdded = "ASSOCIATION_ADDED"
        case associationRemoved = "ASSOCIATION_REMOVED"
        /// A HubSpot event type the gateway does not know yet: kept (with its subscription
        /// type) rather than dropped, and its record still invalidated.
        case unknown = "UNKNOWN"
    }

    /// The event's place in the feed (a Redis stream id); nil before it is stored.
    public var cursor: String?
    /// The CRM object type: "contacts", "companies", …, or a custom object's type id.
    public var objectType: String
    public var objectId: String
    public var kind: Kind
    /// HubSpot's event id: the feed keeps an event id once (deliveries are at least once).
    public var eventId: String
    /// HubSpot's event type as delivered ("contact.propertyChange").
    public var subscriptionType: String
    /// Milliseconds since 1970.
    public var occurredAt: Int64
    /// CRM_UI, INTEGRATION, API, WORKFLOW, … (nil when HubSpot did not say).
    public var changeSource: String?
    /// `updated`: the property and its new value (nil: cleared).
    public var propertyName: String?
    public var propertyValue: String?
    /// `merged`: the ids merged into `primaryObjectId`.
    public var mergedObjectIds: [String] = []
    public var primaryObjectId: String?
    /// Association changes: HubSpot's association type (CONTACT_TO_COMPANY) and the other record.
    public var associationType: String?
    public var toObjectId: String?
    /// The HubSpot account the change happened in (webhooks and the journal say it; nil when
    /// not said). Not stored: the intakes keep the fleet's own portal's events only.
    public var portalId: Int?
    /// Which intake saw the change first: HubSpot's webhook or the gateway's reconciler.
    public var source: Source = .webhook
    /// The reconciler's `updated`: which of the properties it compares for the type changed
    /// (empty: none of them did); nil when not known (no earlier values to compare with).
    public var changedProperties: [String]?

    public enum Source: String, Sendable {
        case webhook = "WEBHOOK"
        case reconciler = "RECONCILER"
        /// HubSpot's webhooks journal, pulled by the gateway.
        case journal = "JOURNAL"
    }

    public init(
        objectType: String, objectId: String, kind: Kind, eventId: String, subscriptionType: String,
        occurredAt: Int64, changeSource: String? = nil
    ) {
        self.objectType = objectType
        self.objectId = objectId
        self.kind = kind
        self.eventId = eventId
        self.subscriptionType = subscriptionType
        self.occurredAt = occurredAt
        self.changeSource = changeSource
    }

    /// The records whose cached copies this change makes wrong: the record itself, every
    /// record merged into it, and the other side of an association.
    public var affectedRecords: [(type: String, id: String)] {
        var records = [(objectType, objectId)]
        for id in mergedObjectIds where id != objectId { records.append((objectType, id)) }
        if let primary = primaryObjectId, primary != objectId { records.append((objectType, primary)) }
        if let toObjectId, let associationType, let toType = Self.targetType(of: associationType) {
            records.append((toType, toObjectId))
        }
        return records
    }

    /// The change this event reports, named the same whichever intake saw it: the record and
    /// the millisecond of the change (a webhook's `occurredAt` is the record's new modification
    /// time). Association changes have none (`associationEntry` names them instead).
    var changeKey: String? {
        switch kind {
        case .created, .updated, .merged, .restored: "\(objectType):\(objectId):\(occurredAt)"
        case .deleted: "\(objectType):\(objectId):deleted:\(occurredAt)"
        case .associationAdded, .associationRemoved, .unknown: nil
        }
    }

    /// An association change as an entry of the record's kept associations (`toType:toId`),
    /// for the pairs the reconciler's scan compares; nil for any other change.
    var associationEntry: (record: String, entry: String, added: Bool)? {
        guard kind == .associationAdded || kind == .associationRemoved, let toObjectId, let associationType,
            let toType = Self.targetType(of: associationType),
            Reconciler.scannedAssociations[objectType]?.contains(toType) == true
        else { return nil }
        return ("\(objectType):\(objectId)", "\(toType):\(toObjectId)", kind == .associationAdded)
    }

    /// One event of HubSpot's own (a webhook delivery or a journal entry), named the same by
    /// both: the change and what it says of it (the property, or the association's other
    /// record). The same change heard through the webhook endpoint and the journal, under
    /// different event ids, is stored once.
    var deliveryKey: String {
        "\(objectType):\(objectId):\(occurredAt):\(kind.rawValue):\(propertyName ?? "")|\(associationType ?? ""):\(toObjectId ?? "")"
    }

    /// The object type on the far side of a HubSpot association type (`CONTACT_TO_COMPANY`
    /// → `companies`), for standard objects.
    static func targetType(of associationType: String) -> String? {
        guard let range = associationType.range(of: "_TO_") else { return nil }
        let singular = associationType[range.upperBound...].lowercased()
        return ObjectTypeAliases.singularNames[singular]
    }
}
