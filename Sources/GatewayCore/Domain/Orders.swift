/// One line of an order: a product of the catalogue, or a line of its own.
public struct OrderLine: Sendable, Equatable {
    public var productId: String?
    public var name: String?
    /// Decimal text.
    public var price: String?
    /// Decimal text; nil: 1.
    public var quantity: String?
    /// Any other line item property.
    public var properties: [String: String]

    public init(
        productId: String? = nil, name: String? = nil, price: String? = nil, quantity: String? = nil,
        properties: [String: String] = [:]
    ) {
        self.productId = productId
        self.name = name
        self.price = price
        self.quantity = quantity
        self.properties = properties
    }

    /// The line item's HubSpot properties.
    var lineItemProperties: [String: String] {
        var all = properties
        if let productId { all["hs_product_id"] = productId }
        if let name { all["name"] = name }
        if let price { all["price"] = price }
        all["quantity"] = quantity ?? "1"
        return all
    }
}

/// The deal of an order was created, and some of its lines were not: the caller creates those
/// alone (they are associated with `dealId`) rather than the order again.
public struct OrderLinesNotCreated: Error, Sendable, CustomStringConvertible {
    public var deal: CRMRecord
    /// The lines made, by index.
    public var created: [Int: CRMRecord]
    /// The lines that failed, by index, and why.
    public var failures: [(index: Int, error: any Error)]

    public var description: String {
        "the deal \(deal.id) was created but \(failures.count) of its \(failures.count + created.count) line items were not: "
            + failures.prefix(3).map { "line_items[\($0.index)]: \($0.error)" }.joined(separator: "; ")
    }
}

/// Orders: a deal and its line items in one operation — two HubSpot calls (the deal, then every
/// line in one batch create that associates each with the deal), whatever the number of lines.
public struct Orders: Sendable {
    let records: Records

    /// Creates the deal, then its lines (≤ 100) associated with it; answers both, lines in
    /// order. Fails with `OrderLinesNotCreated` when the deal was made and some lines were not.
    public func create(
        deal properties: [String: String], associations: [NewAssociation], lines: [OrderLine], _ terms: CallTerms
    ) async throws -> (deal: CRMRecord, lineItems: [CRMRecord]) {
        // Refused before the deal is made, not after: no order half made for want of a scope.
        if !lines.isEmpty { try Caller.authorize(.write, "line_items") }
        let deal = try await records.write("deals", .create(properties: properties, associations: associations), terms)
        guard !lines.isEmpty else { return (deal, []) }
        let toDeal = NewAssociation(
            to: RecordRef("deals", deal.id),
            kinds: AssociationKind.default(from: "line_items", to: "deals").map { [$0] } ?? [])
        let results = await records.write(
            "line_items", lines.map { .create(properties: $0.lineItemProperties, associations: [toDeal]) }, terms)
        var created: [Int: CRMRecord] = [:]
        var failures: [(index: Int, error: any Error)] = []
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let record): created[index] = record
            case .failure(let error): failures.append((index, error))
            }
        }
        guard failures.isEmpty else { throw OrderLinesNotCreated(deal: deal, created: created, failures: failures) }
        return (deal, results.compactMap { try? $0.get() })
    }
}
