import GatewayCore
import JSONCore

/// HubSpot's webhook payload (a JSON array of up to 100 events) as the feed's events.
public enum WebhookEvents {
    /// Why a webhook body was refused (HTTP 400 with this text).
    public struct Malformed: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The events of a webhook body; refuses anything but an array of at most `maxEvents`
    /// objects, each with `eventId`, `subscriptionType`, `objectId` and `occurredAt`.
    public static func parse(_ body: [UInt8], maxEvents: Int = 100) throws(Malformed) -> [ChangeEvent] {
        let document: JSONValue
        do { document = try JSONParser.parse(body) } catch {
            throw Malformed(message: "the body is not JSON: \(error)")
        }
        guard let items = document.arrayValue else {
            throw Malformed(message: "the body must be a JSON array of events, not a JSON \(document.typeName)")
        }
        guard items.count <= maxEvents else {
            throw Malformed(
                message: "\(items.count) events in one request; HubSpot sends at most \(maxEvents)")
        }
        var events: [ChangeEvent] = []
        events.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            events.append(try event(item, index: index))
        }
        return events
    }

    static func event(_ item: JSONValue, index: Int) throws(Malformed) -> ChangeEvent {
        guard item.objectValue != nil else {
            throw Malformed(message: "events[\(index)] must be an object, not a JSON \(item.typeName)")
        }
        func required(_ name: String) throws(Malformed) -> String {
            guard let value = item[name]?.propertyText, !value.isEmpty else {
                throw Malformed(message: "events[\(index)].\(name) is missing")
            }
            return value
        }
        let eventId = try required("eventId")
        let subscriptionType = try required("subscriptionType")
        let objectId = try required("objectId")
        guard let occurredAt = Int64(try required("occurredAt")) else {
            throw Malformed(message: "events[\(index)].occurredAt must be milliseconds since 1970")
        }
        let (objectType, kind) = classify(
            subscriptionType, objectTypeId: item["objectTypeId"]?.stringValue,
            associationRemoved: item["associationRemoved"]?.boolValue ?? false)
        var event = ChangeEvent(
            objectType: objectType, objectId: objectId, kind: kind, eventId: eventId,
            subscriptionType: subscriptionType, occurredAt: occurredAt,
            changeSource: item["changeSource"]?.stringValue)
        event.portalId = item["portalId"]?.propertyText.flatMap { Int($0) }
        if kind == .updated || kind == .unknown {
            event.propertyName = item["propertyName"]?.stringValue
            event.propertyValue = item["propertyValue"].flatMap { $0.isNull ? nil : $0.propertyText }
        }
        if kind == .merged {
            event.mergedObjectIds = item["mergedObjectIds"]?.arrayValue?.compactMap(\.propertyText) ?? []
            event.primaryObjectId = item["primaryObjectId"]?.propertyText ?? item["newObjectId"]?.propertyText
        }
        if kind == .associationAdded || kind == .associationRemoved {
            event.associationType = item["associationType"]?.stringValue
            event.toObjectId = item["toObjectId"]?.propertyText
            if let from = item["fromObjectId"]?.propertyText { event.objectId = from }
        }
        return event
    }

    /// `contact.propertyChange` → (contacts, updated); `object.creation` with an
    /// `objectTypeId` → (that id, created).
    static func classify(_ subscriptionType: String, objectTypeId: String?, associationRemoved: Bool)
        -> (type: String, kind: ChangeEvent.Kind)
    {
        let parts = subscriptionType.split(separator: ".", maxSplits: 1).map(String.init)
        let prefix = parts.first ?? subscriptionType
        let action = parts.count > 1 ? parts[1] : ""
        let type =
            ObjectTypeAliases.canonical(prefix == "object" ? (objectTypeId ?? "object") : prefix)
        let kind: ChangeEvent.Kind =
            switch action {
            case "creation": .created
            case "propertyChange": .updated
            case "deletion", "privacyDeletion": .deleted
            case "merge": .merged
            case "restore": .restored
            case "associationChange": associationRemoved ? .associationRemoved : .associationAdded
            default: .unknown
            }
        return (type, kind)
    }
}
