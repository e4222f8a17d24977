import RedisClient

/// An event as the field/value pairs of its Redis stream entry (short names: the feed holds
/// millions of them).
extension ChangeEvent {
    var streamFields: [(String, String)] {
        var fields: [(String, String)] = [
            ("t", objectType), ("i", objectId), ("k", kind.rawValue), ("e", eventId), ("st", subscriptionType),
            ("o", String(occurredAt)),
        ]
        if let changeSource { fields.append(("s", changeSource)) }
        if let propertyName { fields.append(("p", propertyName)) }
        if let propertyValue { fields.append(("v", propertyValue)) }
        if !mergedObjectIds.isEmpty { fields.append(("m", mergedObjectIds.joined(separator: ","))) }
        if let primaryObjectId { fields.append(("pr", primaryObjectId)) }
        if let associationType { fields.append(("at", associationType)) }
        if let toObjectId { fields.append(("to", toObjectId)) }
        if source != .webhook { fields.append(("src", source.rawValue)) }
        if let changedProperties { fields.append(("cp", changedProperties.joined(separator: ","))) }
        return fields
    }

    /// The event of a stream entry; nil when the entry is not one (written by something else).
    init?(_ entry: RedisClient.StreamEntry) {
        var values: [String: String] = [:]
        for (name, value) in entry.fields { values[name] = String(decoding: value, as: UTF8.self) }
        guard let type = values["t"], let id = values["i"], let kind = values["k"].flatMap(Kind.init(rawValue:)),
            let eventId = values["e"], let occurredAt = values["o"].flatMap({ Int64($0) })
        else { return nil }
        self.init(
            objectType: type, objectId: id, kind: kind, eventId: eventId, subscriptionType: values["st"] ?? "",
            occurredAt: occurredAt, changeSource: values["s"])
        cursor = entry.id
        propertyName = values["p"]
        propertyValue = values["v"]
        mergedObjectIds = values["m"].map { $0.split(separator: ",").map(String.init) } ?? []
        primaryObjectId = values["pr"]
        associationType = values["at"]
        toObjectId = values["to"]
        source = values["src"].flatMap(Source.init(rawValue:)) ?? .webhook
        changedProperties = values["cp"].map { $0.split(separator: ",").map(String.init) }
    }
}
