import Foundation
import GatewayCore
import JSONCore
import Time

/// Domain records as HubSpot's JSON, written once.
extension JSONWriter {
    mutating func record(_ record: CRMRecord) {
        beginObject()
        member("id", record.id)
        key("properties")
        beginObject()
        for (name, value) in record.properties.sorted(by: { $0.key < $1.key }) {
            key(name)
            optionalString(value)
        }
        endObject()
        if !record.history.isEmpty {
            key("propertiesWithHistory")
            beginObject()
            for (name, values) in record.history.sorted(by: { $0.key < $1.key }) {
                key(name)
                beginArray()
                for change in values {
                    beginObject()
                    member("value", change.value)
                    if let timestamp = change.timestamp { member("timestamp", HubSpotTimestamp.format(timestamp)) }
                    if let sourceType = change.sourceType { member("sourceType", sourceType) }
                    if let sourceId = change.sourceId { member("sourceId", sourceId) }
                    endObject()
                }
                endArray()
            }
            endObject()
        }
        if let created = record.createdAt { member("createdAt", HubSpotTimestamp.format(created)) }
        if let updated = record.updatedAt { member("updatedAt", HubSpotTimestamp.format(updated)) }
        member("archived", record.archived)
        if let archivedAt = record.archivedAt { member("archivedAt", HubSpotTimestamp.format(archivedAt)) }
        // Upserts: whether this input created the record (HubSpot's `new`).
        if let created = record.created { member("new", created) }
        endObject()
    }

    /// A page of records as HubSpot lists (and, with `total`, searches) them.
    mutating func page(_ page: RecordPage, total: Bool) {
        beginObject()
        if total { member("total", page.total ?? page.records.count) }
        key("results")
        beginArray()
        for record in page.records { self.record(record) }
        endArray()
        paging(next: page.next)
        endObject()
    }

    /// HubSpot's `paging.next.after`.
    mutating func paging(next: String?) {
        guard let next else { return }
        key("paging")
        beginObject()
        key("next")
        beginObject()
        member("after", next)
        endObject()
        endObject()
    }
}

extension CRMRecord {
    /// A validator that changes when the record does (its id and last modification).
    var entityTag: String {
        "\"\(id)-\(updatedAt?.epochMilliseconds ?? 0)\""
    }
}

extension JSONValue {
    /// A JSON object's string-valued members (numbers and booleans as HubSpot stores them).
    var propertyMap: [String: String]? {
        guard let members = objectValue else { return nil }
        var map: [String: String] = [:]
        for (key, value) in members {
            if let text = value.propertyText { map[key] = text }
        }
        return map
    }
}
