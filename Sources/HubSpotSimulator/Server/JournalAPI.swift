import Foundation
import JSONCore

/// `/webhooks-journal/…` (2026-03): the journal's earliest, latest and next entries (global and
/// local), and its subscriptions. Callers need a client-credentials token with the journal's
/// scopes (`APIRequest.bearerScopes`).
enum JournalAPI {
    static let readScope = "developer.webhooks_journal.read"
    static let subscriptionsReadScope = "developer.webhooks_journal.subscriptions.read"
    static let subscriptionsWriteScope = "developer.webhooks_journal.subscriptions.write"

    /// Matches `/webhooks-journal/…` paths (nil: not a journal path).
    static func match(_ request: APIRequest) -> Result<APIRoute, HubSpotErrorBody>? {
        let s = request.segments
        guard s.first == "webhooks-journal", s.count >= 3 else { return nil }
        func route(_ name: String, _ method: String, _ handler: @escaping APIRoute.Handler) -> Result<
            APIRoute, HubSpotErrorBody
        > { APIRoute.route(request, name, [method: handler]) }
        switch (s[1], s[2], s.count) {
        case ("subscriptions", "2026-03", 3):
            return request.method == "POST"
                ? route("journal.subscriptions.upsert", "POST") { r, c throws(HubSpotErrorBody) in try upsert(r, c) }
                : route("journal.subscriptions.list", "GET") { r, c throws(HubSpotErrorBody) in try list(r, c) }
        case ("subscriptions", "2026-03", 4):
            let id = Int64(s[3]) ?? -1
            return route("journal.subscriptions.delete", "DELETE") { r, c throws(HubSpotErrorBody) in
                try delete(id, r, c)
            }
        case ("journal", "2026-03", 4), ("journal-local", "2026-03", 4):
            let position: WebhookJournal.Position
            switch s[3] {
            case "earliest": position = .earliest
            case "latest": position = .latest
            default: return .failure(APIRoute.unknownPath(request.path))
            }
            return route("journal.\(s[3])", "GET") { r, c throws(HubSpotErrorBody) in try read(position, r, c) }
        case ("journal", "2026-03", 6) where s[3] == "offset" && s[5] == "next",
            ("journal-local", "2026-03", 6) where s[3] == "offset" && s[5] == "next":
            let offset = String(s[4])
            return route("journal.next", "GET") { r, c throws(HubSpotErrorBody) in try read(.next(offset), r, c) }
        default:
            return .failure(APIRoute.unknownPath(request.path))
        }
    }

    static func require(_ scope: String, _ request: APIRequest) throws(HubSpotErrorBody) {
        guard request.bearerScopes?.contains(scope) != true else { return }
        var body = HubSpotErrorBody(
            status: 403,
            message:
                "This call needs a client credentials token with the scope \(scope) (the webhooks journal does not accept private-app or install tokens)",
            category: "MISSING_SCOPES")
        body.context = [("requiredScopes", [scope])]
        throw body
    }

    static func read(_ position: WebhookJournal.Position, _ request: APIRequest, _ ctx: APIContext)
        throws(HubSpotErrorBody) -> APIReply
    {
        try require(readScope, request)
        if request.segments[1] == "journal-local", let portal = request.parameter("installPortalId"),
            portal != String(ctx.configuration.portalId)
        {
            return APIReply(status: 204, body: [])
        }
        let now = ctx.now
        switch ctx.journal.lookup(position, now: now) {
        case .none:
            return APIReply(status: 204, body: [])
        case .expired:
            throw HubSpotErrorBody(
                status: 404,
                message:
                    "The offset has expired or does not exist (entries are kept for \(ctx.journal.configuration.retention.components.seconds) s)",
                category: "OBJECT_NOT_FOUND")
        case .entry(let entry):
            var w = JSONWriter()
            w.beginObject()
            w.member("currentOffset", entry.offset)
            w.member("url", "\(ctx.baseURL)/_sim/journal/files/\(entry.offset)")
            w.member("expiresAt", Timestamps.iso8601(now + 3_600_000))
            w.endObject()
            return .json(200, w)
        }
    }

    static func list(_ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        try require(subscriptionsReadScope, request)
        var w = JSONWriter()
        w.beginObject()
        w.key("results")
        w.beginArray()
        for subscription in ctx.journal.subscriptions { write(&w, subscription) }
        w.endArray()
        w.endObject()
        return .json(200, w)
    }

    static func upsert(_ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        try require(subscriptionsWriteScope, request)
        let body = try request.json()
        guard let objectTypeId = body["objectTypeId"]?.stringValue, !objectTypeId.isEmpty else {
            throw .validation("objectTypeId is required (e.g. 0-1 for contacts)")
        }
        guard ctx.store.schema.resolve(objectTypeId) != nil else {
            throw .validation("objectTypeId \(objectTypeId) is not an object type of this account")
        }
        let known: Set<String> = [
            "CREATE", "UPDATE", "DELETE", "MERGE", "RESTORE", "ASSOCIATION_ADDED", "ASSOCIATION_REMOVED",
        ]
        let actions = Set(body["actions"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        guard !actions.isEmpty, actions.isSubset(of: known) else {
            throw .validation("actions must be some of \(known.sorted().joined(separator: ", "))")
        }
        let record = JournalSubscriptionRecord(
            objectTypeId: objectTypeId, actions: actions,
            properties: Set(body["properties"]?.arrayValue?.compactMap(\.stringValue) ?? []),
            portalId: { if case .number(let n)? = body["portalId"] { Int(n) } else { nil } }())
        var w = JSONWriter()
        write(&w, ctx.journal.upsert(record, now: ctx.now))
        return .json(200, w)
    }

    static func delete(_ id: Int64, _ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        try require(subscriptionsWriteScope, request)
        guard ctx.journal.deleteSubscription(id: id) else {
            throw HubSpotErrorBody(status: 404, message: "no subscription \(id)", category: "OBJECT_NOT_FOUND")
        }
        return APIReply(status: 204, body: [])
    }

    static func write(_ w: inout JSONWriter, _ subscription: JournalSubscriptionRecord) {
        w.beginObject()
        w.member("id", subscription.id)
        w.member("subscriptionType", "OBJECT")
        w.member("objectTypeId", subscription.objectTypeId)
        w.key("actions")
        w.beginArray()
        for action in subscription.actions.sorted() { w.string(action) }
        w.endArray()
        w.key("properties")
        w.beginArray()
        for property in subscription.properties.sorted() { w.string(property) }
        w.endArray()
        w.key("objectIds")
        w.beginArray()
        w.endArray()
        if let portal = subscription.portalId { w.member("portalId", portal) }
        w.member("createdAt", Timestamps.iso8601(subscription.createdAt))
        w.member("updatedAt", Timestamps.iso8601(subscription.updatedAt))
        w.endObject()
    }
}
