import JSONCore

/// One change as HubSpot's webhooks (and this simulator's journal files) write it.
enum WebhookEventJSON {
    static func write(
        _ w: inout JSONWriter, _ event: ChangeEvent, eventId: Int64, portalId: Int, appId: Int,
        extra: (inout JSONWriter) -> Void = { _ in }
    ) {
        w.beginObject()
        w.member("eventId", eventId)
        w.member(
            "subscriptionId",
            1000 + Int(AssociationCatalog.syntheticTypeId(from: event.subscriptionType, to: "") % 1000))
        w.member("portalId", portalId)
        w.member("appId", appId)
        w.member("occurredAt", event.occurredAt)
        let standard = !event.objectTypeId.hasPrefix("2-")
        w.member(
            "subscriptionType",
            standard
                ? event.subscriptionType
                : "object." + (event.subscriptionType.split(separator: ".").last.map(String.init) ?? ""))
        if !standard { w.member("objectTypeId", event.objectTypeId) }
        w.member("attemptNumber", 0)
        w.member("objectId", event.objectId)
        w.member("changeSource", event.changeSource)
        if let flag = event.changeFlag { w.member("changeFlag", flag) }
        if let name = event.propertyName { w.member("propertyName", name) }
        if let value = event.propertyValue { w.member("propertyValue", value) }
        if let merged = event.mergedObjectIds {
            w.member("primaryObjectId", event.primaryObjectId ?? event.objectId)
            w.key("mergedObjectIds")
            w.beginArray()
            for id in merged { w.int(id) }
            w.endArray()
            w.member("newObjectId", event.primaryObjectId ?? event.objectId)
        }
        if let association = event.association {
            w.member("associationType", association.type)
            w.member("fromObjectId", association.from)
            w.member("toObjectId", association.to)
            w.member("associationRemoved", association.removed)
        }
        extra(&w)
        w.endObject()
    }
}
