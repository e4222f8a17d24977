import Foundation
import JSONCore

/// HubSpot's metadata endpoints: pipelines (`/crm/v3/pipelines/{type}`), owners
/// (`/crm/v3/owners`) and association types (`/crm/v4/associations/{from}/{to}/labels`), from
/// fixed data shaped like a new portal's.
enum MetadataAPI {
    struct Stage {
        var id: String
        var label: String
        var probability: String?
        var isClosed: Bool?
    }

    struct Pipeline {
        var id: String
        var label: String
        var stages: [Stage]
    }

    struct Owner {
        var id: String
        var email: String
        var firstName: String
        var lastName: String
        var userId: Int
        var archived: Bool
    }

    static let pipelines: [String: [Pipeline]] = [
        "deals": [
            Pipeline(
                id: "default", label: "Sales Pipeline",
                stages: [
                    Stage(
                        id: "appointmentscheduled", label: "Appointment Scheduled", probability: "0.2", isClosed: false),
                    Stage(id: "qualifiedtobuy", label: "Qualified To Buy", probability: "0.4", isClosed: false),
                    Stage(
                        id: "presentationscheduled", label: "Presentation Scheduled", probability: "0.6",
                        isClosed: false),
                    Stage(
                        id: "decisionmakerboughtin", label: "Decision Maker Bought-In", probability: "0.8",
                        isClosed: false),
                    Stage(id: "contractsent", label: "Contract Sent", probability: "0.9", isClosed: false),
                    Stage(id: "closedwon", label: "Closed Won", probability: "1.0", isClosed: true),
                    Stage(id: "closedlost", label: "Closed Lost", probability: "0.0", isClosed: true),
                ]),
            Pipeline(
                id: "renewals", label: "Renewals",
                stages: [
                    Stage(id: "renewalopen", label: "Renewal Open", probability: "0.5", isClosed: false),
                    Stage(id: "renewalwon", label: "Renewed", probability: "1.0", isClosed: true),
                    Stage(id: "renewallost", label: "Churned", probability: "0.0", isClosed: true),
                ]),
        ],
        "tickets": [
            Pipeline(
                id: "0", label: "Support Pipeline",
                stages: [
                    Stage(id: "1", label: "New"), Stage(id: "2", label: "Waiting on contact"),
                    Stage(id: "3", label: "Waiting on us"), Stage(id: "4", label: "Closed"),
                ])
        ],
    ]

    static let owners: [Owner] = [
        Owner(
            id: "101", email: "ada@example.com", firstName: "Ada", lastName: "Lovelace", userId: 9001, archived: false),
        Owner(
            id: "102", email: "alan@example.com", firstName: "Alan", lastName: "Turing", userId: 9002, archived: false),
        Owner(
            id: "103", email: "grace@example.com", firstName: "Grace", lastName: "Hopper", userId: 9003, archived: false
        ),
        Owner(
            id: "104", email: "edsger@example.com", firstName: "Edsger", lastName: "Dijkstra", userId: 9004,
            archived: true),
    ]

    static let createdAt = "2026-01-01T00:00:00.000Z"

    static func listPipelines(_ type: ObjectTypeDefinition) -> APIReply {
        var w = JSONWriter(capacity: 4096)
        w.beginObject()
        w.key("results")
        w.beginArray()
        for pipeline in pipelines[type.name] ?? [] { write(&w, pipeline) }
        w.endArray()
        w.endObject()
        return .json(200, w)
    }

    static func getPipeline(_ type: ObjectTypeDefinition, id: String) throws(HubSpotErrorBody) -> APIReply {
        guard let pipeline = pipelines[type.name]?.first(where: { $0.id == id }) else {
            throw HubSpotErrorBody(
                status: 404, message: "Unable to find pipeline \(id) for \(type.name)", category: "OBJECT_NOT_FOUND")
        }
        var w = JSONWriter()
        write(&w, pipeline)
        return .json(200, w)
    }

    private static func write(_ w: inout JSONWriter, _ pipeline: Pipeline) {
        w.beginObject()
        w.member("id", pipeline.id)
        w.member("label", pipeline.label)
        w.member("displayOrder", pipeline.id == "default" || pipeline.id == "0" ? 0 : 1)
        w.member("archived", false)
        w.member("createdAt", createdAt)
        w.member("updatedAt", createdAt)
        w.key("stages")
        w.beginArray()
        for (order, stage) in pipeline.stages.enumerated() {
            w.beginObject()
            w.member("id", stage.id)
            w.member("label", stage.label)
            w.member("displayOrder", order)
            w.member("archived", false)
            w.member("createdAt", createdAt)
            w.member("updatedAt", createdAt)
            w.key("metadata")
            w.beginObject()
            if let probability = stage.probability { w.member("probability", probability) }
            if let isClosed = stage.isClosed { w.member("isClosed", isClosed ? "true" : "false") }
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.endObject()
    }

    /// `GET /crm/v3/owners?limit&after&email&archived`: pages of owners by id.
    static func listOwners(_ request: APIRequest) throws(HubSpotErrorBody) -> APIReply {
        let limit = try request.intParameter("limit", default: 100)
        guard (1...500).contains(limit) else { throw .validation("limit must be between 1 and 500, was \(limit)") }
        let archived = try request.boolParameter("archived")
        let email = request.parameter("email")?.lowercased()
        let after = request.parameter("after").flatMap { Int($0) } ?? 0
        let matching = owners.filter { owner in
            owner.archived == archived && (email == nil || owner.email == email) && (Int(owner.id) ?? 0) >= after
        }
        let page = matching.prefix(limit)
        var w = JSONWriter(capacity: 2048)
        w.beginObject()
        w.key("results")
        w.beginArray()
        for owner in page {
            w.beginObject()
            w.member("id", owner.id)
            w.member("email", owner.email)
            w.member("firstName", owner.firstName)
            w.member("lastName", owner.lastName)
            w.member("userId", owner.userId)
            w.member("archived", owner.archived)
            w.member("createdAt", createdAt)
            w.member("updatedAt", createdAt)
            w.endObject()
        }
        w.endArray()
        if matching.count > limit { ObjectsAPI.writePaging(&w, after: matching[limit].id, link: nil) }
        w.endObject()
        return .json(200, w)
    }

    /// `GET /crm/v4/associations/{from}/{to}/labels`: every type from one object type to
    /// another (HubSpot-defined ones, labelled or not).
    static func associationLabels(_ from: ObjectTypeDefinition, _ to: ObjectTypeDefinition, _ ctx: APIContext)
        -> APIReply
    {
        var w = JSONWriter(capacity: 1024)
        w.beginObject()
        w.key("results")
        w.beginArray()
        var entries = AssociationCatalog.entries.filter { $0.from == from.name && $0.to == to.name }
        if entries.isEmpty {
            // A pair HubSpot catalogues no type for here (custom objects, …): its default one.
            entries = [
                AssociationCatalog.defaultEntry(
                    from: from.name, to: to.name, fromSingular: from.singular, toSingular: to.singular)
            ]
        }
        for entry in entries {
            w.beginObject()
            w.member("category", "HUBSPOT_DEFINED")
            w.member("typeId", entry.typeId)
            if let label = entry.label { w.member("label", label) } else { w.key("label"); w.null() }
            w.endObject()
        }
        for user in ctx.store.userLabels(from: from.name, to: to.name) { writeUserLabel(&w, user) }
        w.endArray()
        w.endObject()
        return .json(200, w)
    }

    private static func writeUserLabel(_ w: inout JSONWriter, _ user: ObjectStore.UserLabel) {
        w.beginObject()
        w.member("category", "USER_DEFINED")
        w.member("typeId", user.typeId)
        w.member("label", user.label)
        w.endObject()
    }

    /// `POST …/labels` `{label, name}`: a USER_DEFINED type both ways; answers both.
    static func createLabel(
        _ request: APIRequest, _ from: ObjectTypeDefinition, _ to: ObjectTypeDefinition, _ ctx: APIContext
    ) throws(HubSpotErrorBody) -> APIReply {
        let body = try JSONField.object(try request.json(), "request body")
        guard let label = body["label"]?.stringValue, !label.isEmpty else { throw .validation("label is required") }
        let name = body["name"]?.stringValue ?? label.lowercased().replacingOccurrences(of: " ", with: "_")
        let made = try ctx.store.createLabel(from: from.name, to: to.name, label: label, name: name)
        var w = JSONWriter()
        w.beginObject()
        w.key("results")
        w.beginArray()
        writeUserLabel(&w, made)
        if from.name != to.name {
            writeUserLabel(&w, .init(typeId: made.inverse, inverse: made.typeId, label: made.label, name: made.name))
        }
        w.endArray()
        w.endObject()
        return .json(200, w)
    }

    /// `PUT …/labels` `{associationTypeId, label}`: renames a USER_DEFINED type (204).
    static func renameLabel(
        _ request: APIRequest, _ from: ObjectTypeDefinition, _ to: ObjectTypeDefinition, _ ctx: APIContext
    ) throws(HubSpotErrorBody) -> APIReply {
        let body = try JSONField.object(try request.json(), "request body")
        guard case .number(let typeId)? = body["associationTypeId"], typeId == typeId.rounded() else {
            throw .validation("associationTypeId must be an integer")
        }
        guard let label = body["label"]?.stringValue, !label.isEmpty else { throw .validation("label is required") }
        try ctx.store.renameLabel(from: from.name, to: to.name, typeId: Int(typeId), label: label)
        return .noContent
    }

    /// `DELETE …/labels/{associationTypeId}` (204).
    static func deleteLabel(
        _ typeId: String, _ from: ObjectTypeDefinition, _ to: ObjectTypeDefinition, _ ctx: APIContext
    ) throws(HubSpotErrorBody) -> APIReply {
        guard let id = Int(typeId) else { throw .validation("associationTypeId must be an integer, was \(typeId)") }
        try ctx.store.deleteLabel(from: from.name, to: to.name, typeId: id)
        return .noContent
    }
}
