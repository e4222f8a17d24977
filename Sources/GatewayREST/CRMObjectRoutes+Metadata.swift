import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import JSONCore

/// HubSpot's properties, pipelines and owners paths, read through the metadata cache (the same
/// domain operations as `MetadataService`).
extension CRMObjectRoutes {
    func registerMetadata<Context: RequestContext>(on paths: RouterGroup<Context>, _ family: RESTPathFamily) {
        paths.get(RouterPath("\(family.properties)/:type")) { request, context in
            await answer(request) {
                let call = try call(request, context, write: false)
                let properties = try await crm.metadata.properties(call.type, call.terms)
                return Self.results { w in for property in properties { w.property(property) } }
            }
        }
        paths.get(RouterPath("\(family.properties)/:type/:name")) { request, context in
            await answer(request) {
                let call = try call(request, context, write: false)
                let name = Self.pathValue(context, "name")
                guard
                    let property = try await crm.metadata.properties(call.type, call.terms).first(where: {
                        $0.name == name
                    })
                else {
                    throw RESTError(
                        .notFound, "Unable to find property \(name) for object type \(call.type)",
                        category: "OBJECT_NOT_FOUND")
                }
                var w = JSONWriter()
                w.property(property)
                return Self.json(.ok, w)
            }
        }
        paths.get(RouterPath("\(family.pipelines)/:type")) { request, context in
            await answer(request) {
                let call = try call(request, context, write: false)
                let pipelines = try await crm.metadata.pipelines(call.type, call.terms)
                return Self.results { w in for pipeline in pipelines { w.pipeline(pipeline) } }
            }
        }
        paths.get(RouterPath("\(family.pipelines)/:type/:pipelineId")) { request, context in
            await answer(request) {
                let call = try call(request, context, write: false)
                let id = Self.pathValue(context, "pipelineId")
                guard let pipeline = try await crm.metadata.pipeline(call.type, id: id, call.terms) else {
                    throw RESTError(
                        .notFound, "Unable to find pipeline \(id) for \(call.type)", category: "OBJECT_NOT_FOUND")
                }
                var w = JSONWriter()
                w.pipeline(pipeline)
                return Self.json(.ok, w)
            }
        }
        paths.get(RouterPath(family.owners)) { request, context in
            await answer(request) {
                let call = try call(request, context, write: false, typeParameter: nil)
                let limit = request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 100
                guard (1...500).contains(limit) else { throw RESTError.badRequest("limit must be between 1 and 500") }
                let page = try await crm.metadata.owners(
                    limit: limit, after: request.uri.queryParameters["after"].map(String.init),
                    email: request.uri.queryParameters["email"].map(String.init),
                    archived: request.uri.queryParameters["archived"] == "true", call.terms)
                var w = JSONWriter(capacity: 2048)
                w.beginObject()
                w.key("results")
                w.beginArray()
                for owner in page.owners {
                    w.beginObject()
                    w.member("id", owner.id)
                    w.member("email", owner.email)
                    w.member("firstName", owner.firstName)
                    w.member("lastName", owner.lastName)
                    if let userId = owner.userId { w.member("userId", userId) }
                    w.member("archived", owner.archived)
                    w.endObject()
                }
                w.endArray()
                w.paging(next: page.next)
                w.endObject()
                return Self.json(.ok, w)
            }
        }
    }

    static func results(_ body: (inout JSONWriter) -> Void) -> Response {
        var w = JSONWriter(capacity: 8192)
        w.beginObject()
        w.key("results")
        w.beginArray()
        body(&w)
        w.endArray()
        w.endObject()
        return json(.ok, w)
    }
}

extension JSONWriter {
    mutating func property(_ property: CRMProperty) {
        beginObject()
        member("name", property.name)
        member("label", property.label)
        member("type", property.type)
        member("fieldType", property.fieldType)
        member("groupName", property.groupName)
        key("options")
        beginArray()
        for (order, option) in property.options.enumerated() {
            beginObject()
            member("label", option.label)
            member("value", option.value)
            member("displayOrder", order)
            member("hidden", false)
            endObject()
        }
        endArray()
        member("hasUniqueValue", property.hasUniqueValue)
        member("calculated", property.calculated)
        member("hidden", false)
        member("formField", !property.readOnly)
        key("modificationMetadata")
        beginObject()
        member("archivable", !property.readOnly)
        member("readOnlyDefinition", true)
        member("readOnlyValue", property.readOnly)
        endObject()
        endObject()
    }

    mutating func pipeline(_ pipeline: CRMPipeline) {
        beginObject()
        member("id", pipeline.id)
        member("label", pipeline.label)
        member("displayOrder", pipeline.displayOrder)
        member("archived", false)
        key("stages")
        beginArray()
        for stage in pipeline.stages {
            beginObject()
            member("id", stage.id)
            member("label", stage.label)
            member("displayOrder", stage.displayOrder)
            member("archived", false)
            key("metadata")
            beginObject()
            if let probability = stage.probability { member("probability", formatNumber(probability)) }
            if let isClosed = stage.isClosed { member("isClosed", isClosed ? "true" : "false") }
            endObject()
            endObject()
        }
        endArray()
        endObject()
    }
}
