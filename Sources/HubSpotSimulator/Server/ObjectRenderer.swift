import JSONCore

/// Which properties a rendered object shows.
enum PropertySelection {
    /// The type's defaults (unset ones as null).
    case defaults
    /// These names: known ones as value or null, unknown ones omitted.
    case requested([String])
    /// Every property that has a value (create and update responses).
    case allSet

    init(_ names: [String]?) {
        self = names.map { $0.isEmpty ? .defaults : .requested($0) } ?? .defaults
    }
}

/// Writes records as HubSpot's `SimplePublicObject` JSON.
enum ObjectRenderer {
    /// A record read's `associations` block holds this many per type; `paging` says there are more.
    static let associationsPerType = 100

    static func write(
        _ w: inout JSONWriter, _ snapshot: ObjectSnapshot, selection: PropertySelection, withHistory: [String] = []
    ) {
        let object = snapshot.object
        let type = snapshot.type
        w.beginObject()
        w.member("id", String(object.id))
        w.key("properties")
        w.beginObject()
        switch selection {
        case .allSet:
            for (name, value) in object.properties.sorted(by: { $0.key < $1.key }) { w.member(name, value) }
        case .defaults:
            for name in type.defaultProperties {
                w.key(name)
                w.optionalString(object.properties[name])
            }
        case .requested(let names):
            var seen = Set<String>()
            for name in names where seen.insert(name).inserted && type.properties[name] != nil {
                w.key(name)
                w.optionalString(object.properties[name])
            }
        }
        w.endObject()
        if !withHistory.isEmpty {
            w.key("propertiesWithHistory")
            w.beginObject()
            for name in withHistory where type.properties[name] != nil {
                w.key(name)
                w.beginArray()
                for version in object.history[name] ?? [] {
                    w.beginObject()
                    w.member("value", version.value)
                    w.member("timestamp", Timestamps.iso8601(version.timestamp))
                    w.member("sourceType", version.sourceType)
                    w.endObject()
                }
                w.endArray()
            }
            w.endObject()
        }
        w.member("createdAt", Timestamps.iso8601(object.createdAt))
        w.member("updatedAt", Timestamps.iso8601(object.updatedAt))
        w.member("archived", object.archived)
        if let archivedAt = object.archivedAt { w.member("archivedAt", Timestamps.iso8601(archivedAt)) }
        if let isNew = snapshot.isNew { w.member("new", isNew) }
        if snapshot.associations.contains(where: { !$0.items.isEmpty }) {
            w.key("associations")
            w.beginObject()
            for (name, items) in snapshot.associations where !items.isEmpty {
                w.key(name)
                w.beginObject()
                w.key("results")
                w.beginArray()
                for item in items.prefix(associationsPerType) {
                    w.beginObject()
                    w.member("id", String(item.id))
                    w.member("type", item.typeName)
                    w.endObject()
                }
                w.endArray()
                // The rest through the associations API (v4 cursors are the next record's id).
                if items.count > associationsPerType {
                    ObjectsAPI.writePaging(&w, after: String(items[associationsPerType].id), link: nil)
                }
                w.endObject()
            }
            w.endObject()
        }
        w.endObject()
    }

    /// A batch response: `COMPLETE`, results, timestamps, and the errors (when any) of a 207.
    static func batch(results: (inout JSONWriter) -> Void, errors: [JSONValue], startedAt: Int64) -> JSONWriter {
        var w = JSONWriter(capacity: 4096)
        w.beginObject()
        w.member("status", "COMPLETE")
        w.key("results")
        w.beginArray()
        results(&w)
        w.endArray()
        if !errors.isEmpty {
            w.member("numErrors", errors.count)
            w.key("errors")
            w.value(.array(errors))
        }
        w.member("startedAt", Timestamps.iso8601(startedAt))
        w.member("completedAt", Timestamps.iso8601(Timestamps.now()))
        w.endObject()
        return w
    }

    /// One item error of a batch, in the `StandardError` shape HubSpot's SDKs expect.
    static func itemError(_ error: HubSpotErrorBody, contextKey: String, values: [String]) -> JSONValue {
        .object([
            ("status", .string("error")),
            ("category", .string(error.category ?? "VALIDATION_ERROR")),
            ("message", .string(error.message)),
            ("context", .object([(contextKey, .array(values.map { .string($0) }))])),
            ("errors", .array(error.errors)),
            ("links", .object([])),
        ])
    }
}
