import Foundation
import JSONCore

/// `/communication-preferences/v3/…`: the subscription definitions, one recipient's statuses,
/// and subscribe / unsubscribe (a legal basis required, as in an account with GDPR on); v4
/// (dated 2026-03): many recipients' statuses in one call.
enum CommunicationPreferencesAPI {
    /// Matches `/communication-preferences/…` paths (nil: not one).
    static func match(_ request: APIRequest) -> Result<APIRoute, HubSpotErrorBody>? {
        let s = request.segments
        guard s.first == "communication-preferences" else { return nil }
        func route(_ name: String, _ method: String, _ handler: @escaping APIRoute.Handler) -> Result<
            APIRoute, HubSpotErrorBody
        > { APIRoute.route(request, name, [method: handler]) }
        switch Array(s.dropFirst()) {
        case ["v3", "definitions"]:
            return route("preferences.definitions", "GET") { _, _ throws(HubSpotErrorBody) in definitions() }
        case let path where path.count == 4 && path[0] == "v3" && path[1] == "status" && path[2] == "email":
            let email = String(path[3]).removingPercentEncoding ?? String(path[3])
            return route("preferences.status", "GET") { _, c throws(HubSpotErrorBody) in try status(email, c) }
        case ["v4", "statuses", "batch", "read"]:
            return route("preferences.statuses.batch.read", "POST") { r, c throws(HubSpotErrorBody) in
                try batchStatuses(r, c)
            }
        case ["v3", "subscribe"], ["v3", "unsubscribe"]:
            let subscribe = s[2] == "subscribe"
            return route("preferences.\(s[2])", "POST") { r, c throws(HubSpotErrorBody) in
                try change(r, subscribe: subscribe, c)
            }
        default:
            return .failure(APIRoute.unknownPath(request.path))
        }
    }

    static func definitions() -> APIReply {
        var w = JSONWriter()
        w.beginObject()
        w.key("subscriptionDefinitions")
        w.beginArray()
        for definition in CommunicationPreferences.definitions {
            w.beginObject()
            w.member("id", definition.id)
            w.member("name", definition.name)
            w.member("description", definition.description)
            w.member("purpose", definition.purpose)
            w.member("communicationMethod", "Email")
            w.member("isActive", true)
            w.member("isDefault", definition.id == "1")
            w.member("isInternal", false)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return .json(200, w)
    }

    static func status(_ email: String, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        guard email.contains("@") else { throw .validation("\(email) is not a valid email address") }
        var w = JSONWriter()
        w.beginObject()
        w.member("recipient", email)
        w.key("subscriptionStatuses")
        w.beginArray()
        for definition in CommunicationPreferences.definitions {
            write(definition, subscribed: ctx.preferences.status(of: email, definition.id) ?? false, into: &w)
        }
        w.endArray()
        w.endObject()
        return .json(200, w)
    }

    static func change(_ request: APIRequest, subscribe: Bool, _ ctx: APIContext) throws(HubSpotErrorBody)
        -> APIReply
    {
        let body = try request.json()
        guard let email = body["emailAddress"]?.stringValue, email.contains("@") else {
            throw .validation("emailAddress must be an email address")
        }
        guard let id = body["subscriptionId"]?.propertyText,
            let definition = CommunicationPreferences.definitions.first(where: { $0.id == id })
        else { throw .validation("subscriptionId must name a subscription definition") }
        if subscribe {
            // GDPR on: a subscription needs its lawful basis, and a person who opted out cannot be
            // put back through v3.
            guard let basis = body["legalBasis"]?.stringValue, Self.legalBases.contains(basis) else {
                throw .validation(
                    "legalBasis is required (GDPR is on for this account): one of \(Self.legalBases.sorted().joined(separator: ", "))"
                )
            }
            guard body["legalBasisExplanation"]?.stringValue?.isEmpty == false else {
                throw .validation("legalBasisExplanation is required with legalBasis")
            }
            if ctx.preferences.status(of: email, id) == false {
                throw .validation("\(email) has opted out of subscription \(id) and cannot be resubscribed through v3")
            }
        }
        guard ctx.preferences.set(email, id, subscribed: subscribe) else {
            throw .validation("\(email) is already \(subscribe ? "subscribed" : "unsubscribed") to subscription \(id)")
        }
        var w = JSONWriter()
        write(definition, subscribed: subscribe, into: &w)
        return .json(200, w)
    }

    /// HubSpot's lawful bases for processing.
    static let legalBases: Set<String> = [
        "LEGITIMATE_INTEREST_PQL", "LEGITIMATE_INTEREST_CLIENT", "PERFORMANCE_OF_CONTRACT", "CONSENT_WITH_NOTICE",
        "NON_GDPR", "PROCESS_AND_STORE", "LEGITIMATE_INTEREST_OTHER",
    ]

    /// `{inputs: [email…]}` → `{status, results: [{subscriberIdString, statuses: [{subscriptionId,
    /// name, status, channel, source}]}]}`; at most 100 recipients.
    static func batchStatuses(_ request: APIRequest, _ ctx: APIContext) throws(HubSpotErrorBody) -> APIReply {
        let emails = try JSONField.stringList(try request.json()["inputs"], "inputs") ?? []
        guard !emails.isEmpty, emails.count <= 100 else {
            throw .validation("inputs must hold 1 to 100 email addresses")
        }
        var w = JSONWriter()
        w.beginObject()
        w.member("status", "COMPLETE")
        w.key("results")
        w.beginArray()
        for email in emails {
            w.beginObject()
            w.member("subscriberIdString", email)
            w.key("statuses")
            w.beginArray()
            for definition in CommunicationPreferences.definitions {
                let subscribed = ctx.preferences.status(of: email, definition.id)
                w.beginObject()
                w.member("subscriptionId", Int(definition.id) ?? 0)
                w.member("name", definition.name)
                w.member(
                    "status", subscribed == true ? "SUBSCRIBED" : subscribed == false ? "UNSUBSCRIBED" : "NOT_SPECIFIED"
                )
                w.member("channel", "EMAIL")
                w.member("source", "SUBSCRIPTION_STATUS")
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return .json(200, w)
    }

    static func write(_ definition: CommunicationPreferences.Definition, subscribed: Bool, into w: inout JSONWriter) {
        w.beginObject()
        w.member("id", definition.id)
        w.member("name", definition.name)
        w.member("description", definition.description)
        w.member("status", subscribed ? "SUBSCRIBED" : "NOT_SUBSCRIBED")
        w.member("sourceOfStatus", "SUBSCRIPTION_STATUS")
        w.endObject()
    }
}
