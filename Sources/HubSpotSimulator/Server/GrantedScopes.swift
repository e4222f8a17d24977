import JSONCore

/// The scopes the simulated app's token was granted (nil: all of them). HubSpot answers a call
/// to an object type the token has no scope for with 403 `MISSING_SCOPES`, naming the scopes
/// that would do (`crm.objects.contacts.read`), and counts it like any other call.
struct GrantedScopes: Sendable, Equatable {
    var granted: Set<String>?

    /// The 403 for a request under `/crm/v3/objects/{type}/…` of a type the token cannot read
    /// (GET, search, batch read) or write (everything else), or under `/crm/v3/exports/` without
    /// `crm.export`; nil when allowed or another path.
    func refusal(_ request: APIRequest, schema: ObjectSchema) -> HubSpotErrorBody? {
        guard let granted else { return nil }
        let s = request.segments
        if s.count >= 3, s[0] == "crm", s[1] == "v3", s[2] == "exports" {
            return granted.contains("crm.export") ? nil : Self.missing("crm.export")
        }
        guard s.count >= 4, s[0] == "crm", s[1] == "v3", s[2] == "objects",
            let type = schema.resolve(String(s[3]))
        else { return nil }
        let reads = request.method == "GET" || s.last == "search" || (s.count == 6 && s[4] == "batch" && s[5] == "read")
        let name = type.objectTypeId.hasPrefix("2-") ? "custom" : type.name
        let needed = "crm.objects.\(name).\(reads ? "read" : "write")"
        guard !granted.contains(needed) else { return nil }
        return Self.missing(needed)
    }

    /// HubSpot's 403 naming the scope that would do.
    static func missing(_ needed: String) -> HubSpotErrorBody {
        var body = HubSpotErrorBody(
            status: 403,
            message:
                "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
            category: "MISSING_SCOPES")
        body.errors = [
            .object([
                ("message", .string("One or more of the following scopes are required.")),
                ("context", .object([("requiredGranularScopes", .array([.string(needed)]))])),
            ])
        ]
        return body
    }
}
