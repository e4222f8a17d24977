import GatewayCore
import Foundation
import GRPCCore

/// Checks of request fields made before any HubSpot call, each failing with INVALID_ARGUMENT
/// and a message that names the field.
enum InputValidation {
    /// HubSpot's batch maximum.
    static let maxBatchSize = 100
    /// HubSpot's search caps.
    static let maxFilterGroups = 5
    static let maxFiltersPerGroup = 6
    static let maxFilters = 18
    static let maxSearchPageSize = 200
    static let maxPageSize = 100

    /// INVALID_REQUEST naming `field` (for `google.rpc.BadRequest`) when known.
    static func invalid(field: String? = nil, _ message: String) -> RPCError {
        GatewayErrors.error(.invalidRequest, message, field: field)
    }

    /// A record id: HubSpot's are decimal numbers.
    static func id(_ value: String, field: String) throws(RPCError) {
        guard !value.isEmpty else { throw invalid(field: field, "\(field) is required") }
        guard value.count <= 20, value.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw invalid(field: field, "\(field) must be a HubSpot record id (digits), got \"\(value.prefix(40))\"")
        }
    }

    /// An object type: a standard name (`contacts`), a custom one (`p123_cars`) or an id (`2-123`).
    static func objectType(_ value: String, field: String = "object_type") throws(RPCError) {
        do { _ = try FrontMatter.objectType(value, field: field) } catch {
            throw GatewayErrors.rpcError(error, subject: field)
        }
    }

    /// A property name: HubSpot's are lower-case letters, digits and underscores.
    static func propertyName(_ value: String, field: String) throws(RPCError) {
        let allowed =
            !value.isEmpty && value.count <= 100
            && value.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" }
        guard allowed else {
            throw invalid(
                "\(field) \"\(value.prefix(40))\" is not a HubSpot property name (lower-case letters, digits and _)")
        }
    }

    static func propertyNames<S: Sequence>(_ values: S, field: String) throws(RPCError) where S.Element == String {
        for value in values { try propertyName(value, field: field) }
    }

    /// A plausible email address (HubSpot decides the rest).
    static func email(_ value: String, field: String) throws(RPCError) {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        let plausible =
            parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".")
            && !parts[1].hasSuffix(".")
            && value.count <= 254 && !value.contains(where: { $0.isWhitespace || $0 == "," || $0 == "<" || $0 == ">" })
        guard plausible else { throw invalid(field: field, "\(field) \"\(value.prefix(60))\" is not an email address") }
    }

    /// The properties to read: a service's typed ones plus the checked extra ones, once each.
    static func requestedProperties(_ extra: [String], typed: [String]) throws(RPCError) -> [String] {
        try propertyNames(extra, field: "properties")
        return typed + extra  // normalized (sorted, deduplicated) by the door
    }

    /// The properties a typed message writes: its `properties` map (names checked) plus the
    /// typed fields that are set. A property given both ways must agree.
    static func writeProperties(_ extra: [String: String], typed: [(name: String, value: String)], field: String)
        throws(RPCError) -> [String: String?]
    {
        try propertyNames(extra.keys, field: "\(field).properties")
        var properties: [String: String?] = extra.mapValues { $0 }
        for (name, value) in typed where !value.isEmpty {
            if let other = properties[name], other != value {
                throw invalid(field: field, "\(field) sets \(name) twice with different values")
            }
            properties[name] = value
        }
        return properties
    }

    /// Adds `names` as properties to clear (nil values), refusing an update that changes nothing.
    static func clear(_ names: [String], into properties: inout [String: String?]) throws(RPCError) {
        try propertyNames(names, field: "properties_to_clear")
        for name in names { properties[name] = .some(nil) }
        guard !properties.isEmpty else {
            throw invalid("nothing to update: set a field, properties or properties_to_clear")
        }
    }

    /// A decimal number as HubSpot stores amounts and prices ("1250.50", "-3"): digits, one
    /// point, a sign; no grouping or exponent.
    static func decimal(_ value: String, field: String) throws(RPCError) {
        guard Decimal(string: value, locale: Locale(identifier: "en_US_POSIX")) != nil,
            value.allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" })
        else {
            throw invalid(field: field, "\(field) \"\(value.prefix(40))\" is not a decimal number (e.g. \"1250.50\")")
        }
    }

    static func batch(_ count: Int, field: String) throws(RPCError) {
        guard count > 0 else { throw invalid(field: field, "\(field) is empty") }
        guard count <= maxBatchSize else {
            throw invalid(
                "\(field) has \(count) entries; HubSpot takes at most \(maxBatchSize) per batch — split the request")
        }
    }

    static func pageSize(_ value: Int32, search: Bool = false) throws(RPCError) -> Int {
        let limit = search ? maxSearchPageSize : maxPageSize
        guard value >= 0, value <= limit else {
            throw invalid("page.page_size must be between 0 and \(limit), got \(value)")
        }
        return value == 0 ? 10 : Int(value)
    }
}
