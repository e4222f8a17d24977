import Foundation
import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf
import Time

typealias Deal = Hubspot_Gateway_V1_Deal

/// `hubspot.gateway.v1.DealsService` on HubSpot's deals, through the domain (`CRM`).
public struct DealsService: Hubspot_Gateway_V1_DealsService.ServiceProtocol {
    /// The HubSpot properties behind the typed fields of `Deal`.
    static let typedProperties = ["dealname", "amount", "dealstage", "pipeline", "closedate"]
    static let type = "deals"

    private let records: RecordOperations

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    /// - Parameter idempotentWrites: where idempotency keys of creates are kept (nil: keys refused).
    public init(crm: CRM, defaultTimeout: Duration = .seconds(10), idempotentWrites: IdempotentWrites? = nil) {
        records = RecordOperations(
            crm: crm, defaultTimeout: defaultTimeout, idempotency: IdempotentCalls(writes: idempotentWrites))
    }

    private func properties(_ extra: [String]) throws(RPCError) -> [String] {
        try InputValidation.requestedProperties(extra, typed: Self.typedProperties)
    }

    public func getDeal(request: ServerRequest<Hubspot_Gateway_V1_GetDealRequest>, context: ServerContext) async throws
        -> ServerResponse<Hubspot_Gateway_V1_GetDealResponse>
    {
        let message = request.message
        let (object, read) = try await records.get(
            Self.type, id: message.id, properties: try properties(message.properties), readOptions: message.readOptions,
            subject: "deal \(message.id)", request.metadata)
        var lines: [DealLine] = []
        if message.includeLineItems {
            try InputValidation.propertyNames(message.lineItemProperties, field: "line_item_properties")
            try InputValidation.propertyNames(message.productProperties, field: "product_properties")
            lines = try await records.lines(
                ofDeal: object.id, lineItemProperties: message.lineItemProperties,
                productProperties: message.productProperties, readOptions: message.readOptions, request.metadata)
        }
        return ServerResponse(
            message: .with {
                $0.deal = Deal(object); $0.freshness = .init(read)
                $0.lineItems = lines.map(Hubspot_Gateway_V1_LineItem.init)
            })
    }

    public func listDeals(request: ServerRequest<Hubspot_Gateway_V1_ListDealsRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_ListDealsResponse>
    {
        let page = try await records.list(
            Self.type, page: request.message.page, properties: try properties(request.message.properties),
            request.metadata)
        return ServerResponse(
            message: .with {
                $0.deals = page.records.map(Deal.init); $0.page = .init(page)
            })
    }

    public func searchDeals(request: ServerRequest<Hubspot_Gateway_V1_SearchDealsRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_SearchDealsResponse>
    {
        let page = try await records.search(
            Self.type, query: request.message.query, page: request.message.page,
            properties: try properties(request.message.properties), request.metadata)
        return ServerResponse(
            message: .with {
                $0.deals = page.records.map(Deal.init)
                $0.page = .init(page)
            })
    }

    public func createDeal(request: ServerRequest<Hubspot_Gateway_V1_CreateDealRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_CreateDealResponse>
    {
        try await records.once("CreateDeal", request, keyField: \.idempotencyKey) { try await createDealOnce(request) }
    }

    private func createDealOnce(_ request: ServerRequest<Hubspot_Gateway_V1_CreateDealRequest>) async throws
        -> ServerResponse<Hubspot_Gateway_V1_CreateDealResponse>
    {
        let message = request.message
        guard message.deal.id.isEmpty else {
            throw InputValidation.invalid(field: "deal.id", "deal.id must be empty on create (HubSpot assigns it)")
        }
        guard !message.deal.name.isEmpty else {
            throw InputValidation.invalid(field: "deal.name", "deal.name is required")
        }
        let properties = try Self.writeProperties(message.deal, field: "deal")
        var associations: [NewAssociation] = []
        for (index, id) in message.contactIds.enumerated() {
            associations.append(
                try AssociationTranslation.input(
                    .with {
                        $0.objectType = "contacts"; $0.objectID = id
                    }, field: "contact_ids[\(index)]", from: Self.type))
        }
        for (index, id) in message.companyIds.enumerated() {
            associations.append(
                try AssociationTranslation.input(
                    .with {
                        $0.objectType = "companies"; $0.objectID = id
                    }, field: "company_ids[\(index)]", from: Self.type))
        }
        if message.lineItems.isEmpty {
            let written = try await records.write(
                Self.type, .create(properties: properties.compactMapValues { $0 }, associations: associations),
                subject: "the new deal", request.metadata)
            return ServerResponse(message: .with { $0.deal = Deal(written) })
        }
        let lines = try Self.orderLines(message.lineItems)
        let terms = records.terms(request.metadata)
        do {
            let (deal, lineItems) = try await records.crm.orders.create(
                deal: properties.compactMapValues { $0 }, associations: associations, lines: lines, terms)
            return ServerResponse(
                message: .with {
                    $0.deal = Deal(deal)
                    $0.lineItems = lineItems.map(Hubspot_Gateway_V1_LineItem.init)
                })
        } catch let partial as OrderLinesNotCreated {
            throw Self.rpcError(partial)
        } catch {
            throw GatewayErrors.rpcError(error, subject: "the new deal")
        }
    }

    /// The order lines of a CreateDeal, checked: at most 100, each a product or a named line,
    /// prices and quantities decimal.
    static func orderLines(_ inputs: [Hubspot_Gateway_V1_LineItemInput]) throws(RPCError) -> [OrderLine] {
        try InputValidation.batch(inputs.count, field: "line_items")
        var lines: [OrderLine] = []
        for (index, input) in inputs.enumerated() {
            let field = "line_items[\(index)]"
            if !input.productID.isEmpty { try InputValidation.id(input.productID, field: field + ".product_id") }
            guard !input.productID.isEmpty || !input.name.isEmpty else {
                throw InputValidation.invalid(field: field, "\(field) needs a product_id or a name")
            }
            for (name, value) in [("price", input.price), ("quantity", input.quantity)] where !value.isEmpty {
                try InputValidation.decimal(value, field: "\(field).\(name)")
            }
            try InputValidation.propertyNames(input.properties.keys, field: field + ".properties")
            lines.append(
                OrderLine(
                    productId: input.productID.isEmpty ? nil : input.productID,
                    name: input.name.isEmpty ? nil : input.name, price: input.price.isEmpty ? nil : input.price,
                    quantity: input.quantity.isEmpty ? nil : input.quantity, properties: input.properties))
        }
        return lines
    }

    /// The deal was made and some lines were not: the first line's status, with the deal's id
    /// (`x-created-deal-id`) and what to do.
    static func rpcError(_ partial: OrderLinesNotCreated) -> RPCError {
        let first = GatewayErrors.rpcError(
            partial.failures[0].error, subject: "line_items[\(partial.failures[0].index)]")
        var metadata = first.metadata
        metadata.addString(partial.deal.id, forKey: createdDealIdKey)
        metadata.addString("partial", forKey: GatewayErrors.Key.writeOutcome)
        let failed = partial.failures.map { String($0.index) }.joined(separator: ", ")
        return RPCError(
            code: first.code,
            message:
                "the deal \(partial.deal.id) was created, but line_items [\(failed)] were not (\(first.message)); create those alone with ObjectsService.BatchCreateObjects (object_type \"line_items\", associated with deals \(partial.deal.id)) rather than the order again",
            metadata: metadata)
    }

    /// Trailer of a CreateDeal whose deal was made but not all of its lines.
    public static let createdDealIdKey = "x-created-deal-id"

    public func updateDeal(request: ServerRequest<Hubspot_Gateway_V1_UpdateDealRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_UpdateDealResponse>
    {
        let deal = request.message.deal
        try InputValidation.id(deal.id, field: "deal.id")
        var properties = try Self.writeProperties(deal, field: "deal")
        try InputValidation.clear(request.message.propertiesToClear, into: &properties)
        let written = try await records.write(
            Self.type, .update(id: deal.id, properties: properties), subject: "deal \(deal.id)", request.metadata)
        return ServerResponse(message: .with { $0.deal = Deal(written) })
    }

    public func moveDealStage(request: ServerRequest<Hubspot_Gateway_V1_MoveDealStageRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_MoveDealStageResponse>
    {
        let message = request.message
        try InputValidation.id(message.id, field: "id")
        guard !message.stage.isEmpty else { throw InputValidation.invalid(field: "stage", "stage is required") }
        var properties: [String: String?] = message.properties.mapValues { $0 }
        if let name = properties.keys.first(where: { $0 == "dealstage" || $0 == "pipeline" }) {
            throw InputValidation.invalid(
                field: "properties", "\(name) is set by stage and pipeline, not in properties")
        }
        properties["dealstage"] = message.stage
        if !message.pipeline.isEmpty { properties["pipeline"] = message.pipeline }
        // The domain refuses a stage of another pipeline before any budget is spent (`Records`).
        let written = try await records.write(
            Self.type, .update(id: message.id, properties: properties), subject: "deal \(message.id)", request.metadata)
        return ServerResponse(message: .with { $0.deal = Deal(written) })
    }

    public func archiveDeal(request: ServerRequest<Hubspot_Gateway_V1_ArchiveDealRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_ArchiveDealResponse>
    {
        try await records.archive(
            Self.type, id: request.message.id, subject: "deal \(request.message.id)", request.metadata)
        return ServerResponse(message: .init())
    }

    public func batchGetDeals(request: ServerRequest<Hubspot_Gateway_V1_BatchGetDealsRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_BatchGetDealsResponse>
    {
        let message = request.message
        let objects = try await records.batchGet(
            Self.type, ids: message.ids, properties: try properties(message.properties),
            readOptions: message.readOptions, request.metadata)
        return ServerResponse(
            message: .with { ($0.deals, $0.missingIds) = BatchReads.split(objects, ids: message.ids, Deal.init) })
    }

    public func batchCreateDeals(
        request: ServerRequest<Hubspot_Gateway_V1_BatchCreateDealsRequest>, context: ServerContext
    )
        async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteDealsResponse>
    {
        try await records.once("BatchCreateDeals", request, keyField: \.idempotencyKey) {
            try await batchCreateDealsOnce(request)
        }
    }

    private func batchCreateDealsOnce(_ request: ServerRequest<Hubspot_Gateway_V1_BatchCreateDealsRequest>) async throws
        -> ServerResponse<Hubspot_Gateway_V1_BatchWriteDealsResponse>
    {
        try await batchWrite(request.message.deals, request.metadata) { index, deal throws(RPCError) in
            guard deal.id.isEmpty else {
                throw InputValidation.invalid(field: "deals[\(index)].id", "deals[\(index)].id must be empty on create")
            }
            guard !deal.name.isEmpty else {
                throw InputValidation.invalid(field: "deals[\(index)].name", "deals[\(index)].name is required")
            }
            return .create(
                properties: try Self.writeProperties(deal, field: "deals[\(index)]").compactMapValues { $0 })
        }
    }

    public func batchUpdateDeals(
        request: ServerRequest<Hubspot_Gateway_V1_BatchUpdateDealsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteDealsResponse> {
        try await batchWrite(request.message.deals, request.metadata) { index, deal throws(RPCError) in
            try InputValidation.id(deal.id, field: "deals[\(index)].id")
            return .update(id: deal.id, properties: try Self.writeProperties(deal, field: "deals[\(index)]"))
        }
    }

    private func batchWrite(
        _ deals: [Deal], _ metadata: Metadata, _ write: (Int, Deal) throws(RPCError) -> ObjectWrite
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteDealsResponse> {
        let (written, errors) = try await records.batchWrite(
            Self.type, deals, field: "deals", metadata, write: write, as: Deal.init)
        return ServerResponse(
            message: .with {
                $0.deals = written; $0.errors = errors
            })
    }

    /// The HubSpot properties a deal message sets. `amount` must be a decimal number.
    static func writeProperties(_ deal: Deal, field: String) throws(RPCError) -> [String: String?] {
        if !deal.amount.isEmpty { try InputValidation.decimal(deal.amount, field: "\(field).amount") }
        let closeDate = deal.hasCloseDate ? HubSpotTimestamp.format(deal.closeDate.date) : ""
        return try InputValidation.writeProperties(
            deal.properties,
            typed: [
                ("dealname", deal.name), ("amount", deal.amount), ("dealstage", deal.stage),
                ("pipeline", deal.pipeline), ("closedate", closeDate),
            ], field: field)
    }
}

extension Hubspot_Gateway_V1_Deal {
    /// A HubSpot deal as the API's message: typed fields, the rest in `properties`.
    init(_ object: CRMRecord) {
        self.init()
        id = object.id
        name = object["dealname"] ?? ""
        amount = object["amount"] ?? ""
        stage = object["dealstage"] ?? ""
        pipeline = object["pipeline"] ?? ""
        if let text = object["closedate"], let date = Self.parseDate(text) {
            closeDate = Google_Protobuf_Timestamp(hubSpotTime: date)
        }
        for (name, value) in object.properties where !DealsService.typedProperties.contains(name) {
            if let value { properties[name] = value }
        }
        times = .init(object)
    }

    /// HubSpot writes dates as ISO-8601 (with or without milliseconds) or epoch milliseconds.
    static func parseDate(_ text: String) -> Date? {
        if let milliseconds = Int64(text) { return Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
        return HubSpotTimestamp.parse(text)
    }
}

extension Hubspot_Gateway_V1_LineItem {
    init(_ record: CRMRecord) {
        self.init()
        id = record.id
        productID = record["hs_product_id"] ?? ""
        name = record["name"] ?? ""
        price = record["price"] ?? ""
        quantity = record["quantity"] ?? ""
        amount = record["amount"] ?? ""
        for (key, value) in record.properties
        where !["hs_product_id", "name", "price", "quantity", "amount", "hs_position_on_quote"].contains(key) {
            if let value { properties[key] = value }
        }
    }

    init(_ line: DealLine) {
        self.init(line.lineItem)
        if let product = line.product { self.product = .init(product) }
    }
}

extension Hubspot_Gateway_V1_Product {
    init(_ record: CRMRecord) {
        self.init()
        id = record.id
        name = record["name"] ?? ""
        price = record["price"] ?? ""
        sku = record["hs_sku"] ?? ""
        for (key, value) in record.properties where !["name", "price", "hs_sku"].contains(key) {
            if let value { properties[key] = value }
        }
    }
}
