/// Checks written property values against the type's schema and normalizes them the way
/// HubSpot stores them (dates as ISO strings, emails in lower case). Every problem of one
/// input is reported together, in HubSpot's `Property values were not valid` form.
enum PropertyValidator {
    static func validate(_ input: [String: String?], of type: ObjectTypeDefinition, portalId: Int, isCreate: Bool)
        throws(HubSpotErrorBody) -> [String: String?]
    {
        var out: [String: String?] = [:]
        var problems: [HubSpotErrorBody.PropertyProblem] = []
        for (name, raw) in input.sorted(by: { $0.key < $1.key }) {
            guard let definition = type.properties[name] else {
                problems.append(
                    .init(name: name, error: "PROPERTY_DOESNT_EXIST", message: "Property \"\(name)\" does not exist"))
                continue
            }
            if definition.readOnly {
                problems.append(
                    .init(
                        name: name, error: "READ_ONLY_VALUE",
                        message: "\(name) is a read only property; its value cannot be set."))
                continue
            }
            guard let value = raw, !value.isEmpty else {
                out[name] = .some(nil)
                continue
            }
            switch normalize(value, definition) {
            case .success(let normalized): out[name] = normalized
            case .failure(let problem): problems.append(problem)
            }
        }
        if !problems.isEmpty { throw .invalidProperties(problems, portalId: portalId) }
        return out
    }

    private static func normalize(_ value: String, _ definition: PropertyDefinition) -> Result<
        String, HubSpotErrorBody.PropertyProblem
    > {
        let name = definition.name
        if name == "email" || name == "hs_additional_emails" {
            for email in value.split(separator: ";", omittingEmptySubsequences: false)
            where !isPlausibleEmail(String(email)) {
                return .failure(.init(name: name, error: "INVALID_EMAIL", message: "Email address \(email) is invalid"))
            }
            return .success(value.lowercased())
        }
        switch definition.type {
        case .string:
            return value.utf8.count > 65_536
                ? .failure(
                    .init(name: name, error: "INVALID_LENGTH", message: "\(name) must be at most 65536 characters"))
                : .success(value)
        case .number:
            guard let number = Double(value), number.isFinite else {
                return .failure(.init(name: name, error: "INVALID_FLOAT", message: "\(value) was not a valid number."))
            }
            _ = number
            return .success(value)
        case .datetime:
            guard let ms = Timestamps.parse(value) else {
                return .failure(
                    .init(
                        name: name, error: "INVALID_DATE",
                        message: "\(value) was not a valid date-time; use ISO-8601 or epoch milliseconds."))
            }
            return .success(Timestamps.iso8601(ms))
        case .date:
            guard let ms = Timestamps.parse(value) else {
                return .failure(
                    .init(
                        name: name, error: "INVALID_DATE",
                        message: "\(value) was not a valid date; use YYYY-MM-DD or epoch milliseconds at midnight UTC.")
                )
            }
            return .success(Timestamps.isoDate(ms))
        case .bool:
            guard value == "true" || value == "false" else {
                return .failure(
                    .init(
                        name: name, error: "INVALID_BOOLEAN",
                        message: "\(value) was not a valid boolean; use true or false."))
            }
            return .success(value)
        case .enumeration:
            if !definition.options.isEmpty, !definition.options.contains(value) {
                return .failure(
                    .init(
                        name: name, error: "INVALID_OPTION",
                        message:
                            "\(value) was not one of the allowed options: [\(definition.options.joined(separator: ", "))]"
                    ))
            }
            return .success(value)
        }
    }

    static func isPlausibleEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix(".")
        else { return false }
        return !email.contains(where: { $0 == " " || $0 == "," || $0 == "<" || $0 == ">" })
    }
}
