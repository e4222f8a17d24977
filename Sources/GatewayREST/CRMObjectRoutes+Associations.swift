import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import JSONCore
import Time

/// HubSpot's associations v4 paths on the domain's `Associations` (writes merged into batch
/// calls across callers, as for gRPC).
extension CRMObjectRoutes {
    func registerAssociations<Context: RequestContext>(on paths: RouterGroup<Context>, _ family: RESTPathFamily) {
        let objects = paths.group(RouterPath(family.recordAssociations))
        objects.get(":type/:id/associations/:toType") { request, context in
            await answer(request) { try await listAssociations(request, context) }
        }
        objects.put(":type/:id/associations/default/:toType/:toId") { request, context in
            await answer(request) { try await associate(request, context, labelled: false) }
        }
        objects.put(":type/:id/associations/:toType/:toId") { request, context in
            await answer(request) { try await associate(request, context, labelled: true) }
        }
        objects.delete(":type/:id/associations/:toType/:toId") { request, context in
            await answer(request) { try await removeAssociation(request, context) }
        }
        let batches = paths.group(RouterPath(family.associations))
        batches.post(":type/:toType/batch/read") { request, context in
            await answer(request) { try await batchReadAssociations(request, context) }
        }
        batches.post(":type/:toType/batch/create") { request, context in
            await answer(request) { try await batchWriteAssociations(request, context, operation: "create") }
        }
        batches.post(":type/:toType/batch/associate/default") { request, context in
            await answer(request) { try await batchWriteAssociations(request, context, operation: "default") }
        }
        batches.post(":type/:toType/batch/archive") { request, context in
            await answer(request) { try await batchWriteAssociations(request, context, operation: "archive") }
        }
        batches.get(":type/:toType/labels") { request, context in
            await answer(request) { try await associationLabels(request, context) }
        }
        batches.post(":type/:toType/labels") { request, context in
            await answer(request) { try await changeLabel(request, context, .create) }
        }
        batches.put(":type/:toType/labels") { request, context in
            await answer(request) { try await changeLabel(request, context, .rename) }
        }
        batches.delete(":type/:toType/labels/:typeId") { request, context in
            await answer(request) { try await changeLabel(request, context, .delete) }
        }
    }

    /// HubSpot's `{results: [{category, typeId, label}]}` from the metadata cache.
    func associationLabels(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let call = try call(request, context, write: false)
        let toType = try FrontMatter.objectType(context.parameters.get("toType") ?? "", field: "toObjectType")
        let kinds = try await crm.metadata.associationKinds(from: call.type, to: toType, call.terms)
        var w = JSONWriter(capacity: 1024)
        w.beginObject()
        w.key("results")
        w.beginArray()
        for kind in kinds { w.associationType(kind) }
        w.endArray()
        w.endObject()
        return Self.json(.ok, w)
    }

    enum LabelChange { case create, rename, delete }

    /// HubSpot's label writes: `POST {label, name}` (answers both types made), `PUT
    /// {associationTypeId, label}` and `DELETE …/{typeId}` (204).
    func changeLabel(_ request: Request, _ context: some RequestContext, _ change: LabelChange) async throws
        -> Response
    {
        let call = try call(request, context, write: true)
        let toType = try FrontMatter.objectType(context.parameters.get("toType") ?? "", field: "toObjectType")
        switch change {
        case .create:
            let body = try await json(request)
            guard let label = body["label"]?.stringValue, !label.isEmpty else {
                throw RESTError.badRequest("label is required")
            }
            let made = try await crm.metadata.createAssociationLabel(
                from: call.type, to: toType, label: label, name: body["name"]?.stringValue, call.terms)
            return Self.results { w in
                for kind in [made.kind] + [made.inverse].compactMap({ $0 }) { w.associationType(kind) }
            }
        case .rename:
            let body = try await json(request)
            guard let typeId = body["associationTypeId"]?.propertyText.flatMap({ Int($0) }),
                let label = body["label"]?.stringValue, !label.isEmpty
            else { throw RESTError.badRequest("associationTypeId (a number) and label are required") }
            try await crm.metadata.renameAssociationLabel(
                from: call.type, to: toType, typeId: typeId, label: label, call.terms)
            return Response(status: .noContent)
        case .delete:
            guard let typeId = Int(Self.pathValue(context, "typeId")) else {
                throw RESTError.badRequest("the association type id must be a number")
            }
            try await crm.metadata.deleteAssociationLabel(from: call.type, to: toType, typeId: typeId, call.terms)
            return Response(status: .noContent)
        }
    }

    func listAssociations(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let call = try call(request, context, write: false)
        let toType = try FrontMatter.objectType(context.parameters.get("toType") ?? "", field: "toObjectType")
        let limit = request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 500
        guard (1...500).contains(limit) else { throw RESTError.badRequest("limit must be between 1 and 500") }
        let page = try await crm.associations.list(
            of: RecordRef(call.type, Self.pathValue(context, "id")), toType: toType, limit: limit,
            after: request.uri.queryParameters["after"].map(String.init), call.terms)
        var w = JSONWriter(capacity: 2048)
        w.beginObject()
        w.key("results")
        w.beginArray()
        for association in page.associations { w.association(association) }
        w.endArray()
        w.paging(next: page.next)
        w.endObject()
        return Self.json(.ok, w)
    }

    func associate(_ request: Request, _ context: some RequestContext, labelled: Bool) async throws -> Response {
        let call = try call(request, context, write: true)
        let toType = try FrontMatter.objectType(context.parameters.get("toType") ?? "", field: "toObjectType")
        let (id, toId) = (Self.pathValue(context, "id"), Self.pathValue(context, "toId"))
        var kinds: [AssociationKind] = []
        if labelled {
            let body = try await json(request)
            guard let types = body.arrayValue, !types.isEmpty else {
                throw RESTError.badRequest("the body must be a non-empty array of association types")
            }
            kinds = try types.map(Self.kind)
        }
        let made = try await crm.associations.associate(
            RecordRef(call.type, id), RecordRef(toType, toId), kinds: kinds, call.terms)
        // HubSpot answers the labels of the types made: from the pair's types (cached).
        let known = (try? await crm.metadata.associationKinds(from: call.type, to: toType, call.terms)) ?? []
        let labels = made.compactMap { kind in
            kind.label ?? known.first { $0.typeId == kind.typeId && $0.category == kind.category }?.label
        }
        var w = JSONWriter()
        w.beginObject()
        w.member("fromObjectId", id)
        w.member("toObjectId", toId)
        w.key("labels")
        w.beginArray()
        for label in labels { w.string(label) }
        w.endArray()
        w.endObject()
        return Self.json(labelled ? .created : .ok, w)
    }

    func removeAssociation(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let call = try call(request, context, write: true)
        let toType = try FrontMatter.objectType(context.parameters.get("toType") ?? "", field: "toObjectType")
        try await crm.associations.remove(
            RecordRef(call.type, Self.pathValue(context, "id")),
            RecordRef(toType, Self.pathValue(context, "toId")), call.terms)
        return Response(status: .noContent)
    }

    func batchReadAssociations(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let call = try call(request, context, write: false)
        let toType = try FrontMatter.objectType(context.parameters.get("toType") ?? "", field: "toObjectType")
        let inputs = try await Self.inputs(try await json(request), max: 1000)
        let ids = try inputs.enumerated().map { index, input in
            guard let id = input["id"]?.propertyText else {
                throw RESTError.badRequest("inputs[\(index)].id is required")
            }
            return id
        }
        let found = try await crm.associations.list(of: call.type, ids: ids, toType: toType, call.terms)
        var w = JSONWriter(capacity: 4096)
        w.beginObject()
        w.member("status", "COMPLETE")
        w.key("results")
        w.beginArray()
        for id in ids {
            guard let associations = found[id] else { continue }
            w.beginObject()
            w.key("from")
            w.beginObject()
            w.member("id", id)
            w.endObject()
            w.key("to")
            w.beginArray()
            for association in associations { w.association(association) }
            w.endArray()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return Self.json(.ok, w)
    }

    func batchWriteAssociations(_ request: Request, _ context: some RequestContext, operation: String) async throws
        -> Response
    {
        let call = try call(request, context, write: true)
        let toType = try FrontMatter.objectType(context.parameters.get("toType") ?? "", field: "toObjectType")
        let inputs = try await Self.inputs(try await json(request), max: Self.maxBatchInputs)
        var pairs: [(from: RecordRef, to: RecordRef)] = []
        var kinds: [AssociationKind]? = nil
        for (index, input) in inputs.enumerated() {
            guard let from = input["from"]?["id"]?.propertyText else {
                throw RESTError.badRequest("inputs[\(index)].from.id is required")
            }
            let targets = operation == "archive" ? (input["to"]?.arrayValue ?? []) : [input["to"] ?? .null]
            for target in targets {
                guard let to = target["id"]?.propertyText else {
                    throw RESTError.badRequest("inputs[\(index)].to.id is required")
                }
                pairs.append((RecordRef(call.type, from), RecordRef(toType, to)))
            }
            if operation == "create" {
                let these = try (input["types"]?.arrayValue ?? []).map(Self.kind)
                guard !these.isEmpty else { throw RESTError.badRequest("inputs[\(index)].types is required") }
                // One coalesced call per kind set: inputs of one request share theirs.
                guard kinds == nil || kinds == these else {
                    throw RESTError.badRequest("inputs of one batch/create must name the same types")
                }
                kinds = these
            }
        }
        let results =
            operation == "archive"
            ? await crm.associations.remove(pairs, call.terms)
            : await crm.associations.associate(pairs, kinds: kinds ?? [], call.terms)
        let errors = results.enumerated().compactMap { index, result -> RESTError? in
            guard case .failure(let failure) = result else { return nil }
            var error = RESTError.from(failure, subject: "inputs[\(index)]")
            error.context["inputs"] = [String(index)]
            return error
        }
        if operation == "archive", errors.isEmpty { return Response(status: .noContent) }
        var w = JSONWriter(capacity: 2048)
        w.beginObject()
        w.member("status", "COMPLETE")
        w.key("results")
        w.beginArray()
        for (index, result) in results.enumerated() {
            guard case .success = result else { continue }
            w.beginObject()
            w.key("from")
            w.beginObject()
            w.member("id", pairs[index].from.id)
            w.endObject()
            w.key("to")
            w.beginObject()
            w.member("id", pairs[index].to.id)
            w.endObject()
            w.endObject()
        }
        w.endArray()
        if !errors.isEmpty {
            w.member("numErrors", errors.count)
            w.key("errors")
            w.beginArray()
            for error in errors { w.value(try JSONParser.parse(error.body.bytes)) }
            w.endArray()
        }
        w.endObject()
        return Self.json(errors.isEmpty ? (operation == "create" ? .created : .ok) : .init(code: 207), w)
    }

    static func inputs(_ body: JSONValue, max: Int) async throws -> [JSONValue] {
        guard let inputs = body["inputs"]?.arrayValue else { throw RESTError.badRequest("inputs must be an array") }
        guard inputs.count <= max else {
            throw RESTError.badRequest(
                "Batch inputs are limited to \(max); this request has \(inputs.count). Split it into several batches.")
        }
        return inputs
    }

    /// `{associationCategory, associationTypeId}`.
    /// `{associationCategory, associationTypeId}`, or (as HubSpot 2026-09 takes it) `{label}`.
    static func kind(_ type: JSONValue) throws -> AssociationKind {
        if type["associationTypeId"] == nil, let label = type["label"]?.stringValue, !label.isEmpty {
            return .labelled(label)
        }
        guard let id = type["associationTypeId"]?.propertyText.flatMap({ Int($0) }) else {
            throw RESTError.badRequest("associationTypeId must be a number (or give the type's label)")
        }
        return AssociationKind(.init(hubSpotName: type["associationCategory"]?.stringValue), id)
    }
}

extension JSONWriter {
    /// `{toObjectId, associationTypes: [{category, typeId, label}]}`.
    mutating func association(_ association: Association) {
        beginObject()
        key("toObjectId")
        if let number = Int64(association.toId) { int(number) } else { string(association.toId) }
        key("associationTypes")
        beginArray()
        for kind in association.kinds { associationType(kind) }
        endArray()
        endObject()
    }

    mutating func associationType(_ kind: AssociationKind) {
        let category = kind.category.hubSpotName
        beginObject()
        member("category", category)
        member("typeId", kind.typeId)
        key("label")
        optionalString(kind.label)
        endObject()
    }
}
