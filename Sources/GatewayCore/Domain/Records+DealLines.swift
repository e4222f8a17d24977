/// One line of a deal: the line item, and the product it points at (when it points at one).
public struct DealLine: Sendable {
    public var lineItem: CRMRecord
    public var product: CRMRecord?
}

extension Records {
    /// The properties a deal's lines and their products are read with, besides the asked ones.
    static let lineItemProperties = ["name", "quantity", "price", "amount", "hs_product_id", "hs_position_on_quote"]
    static let productProperties = ["name", "price", "hs_sku"]

    /// The line items of deal `id`, each with its product, in their order on the deal
    /// (`hs_position_on_quote`, then id): the deal's associations in one HubSpot call, the line
    /// items and then the products through the shared cache and the batch reads every caller
    /// shares. Only the first 500 lines (HubSpot's first page of a record's associations).
    public func lines(
        ofDeal id: String, lineItemProperties: [String] = [], productProperties: [String] = [],
        maxStaleness: Duration? = nil, _ terms: CallTerms
    ) async throws -> [DealLine] {
        let associated = try await Associations(upstream: upstream, metadata: metadata).list(
            of: "deals", ids: [id], toType: "line_items", terms)
        let lineIds = (associated[id] ?? []).map(\.toId)
        guard !lineIds.isEmpty else { return [] }
        // The cache and the coalesced batch reads take any number of ids.
        var lines = try await get(
            "line_items", ids: lineIds, properties: Self.lineItemProperties + lineItemProperties,
            maxStaleness: maxStaleness, terms
        ).compactMap { $0 }
        lines.sort { a, b in
            let (pa, pb) = (a["hs_position_on_quote"].flatMap(Int.init), b["hs_position_on_quote"].flatMap(Int.init))
            if pa != pb { return (pa ?? .max) < (pb ?? .max) }
            return (Int64(a.id) ?? .max, a.id) < (Int64(b.id) ?? .max, b.id)
        }
        var seen = Set<String>()
        let productIds = lines.compactMap { $0["hs_product_id"] }.filter { !$0.isEmpty && seen.insert($0).inserted }
        var products: [String: CRMRecord] = [:]
        if !productIds.isEmpty {
            for product in try await get(
                "products", ids: productIds, properties: Self.productProperties + productProperties,
                maxStaleness: maxStaleness, terms
            ) {
                if let product { products[product.id] = product }
            }
        }
        return lines.map { DealLine(lineItem: $0, product: $0["hs_product_id"].flatMap { products[$0] }) }
    }
}
