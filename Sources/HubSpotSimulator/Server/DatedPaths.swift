/// HubSpot's date-based API versions (since 2026-03-30): `/{api}/{YYYY-MM}/{resource}` beside
/// the numeric paths, on the same store. A dated path is read as its numeric twin (same
/// handlers and bodies); the version stays on the request, for what differs (2026-09's write
/// rules and association types). A version an API was not released in answers 404, as HubSpot.
enum DatedPaths {
    /// The versions each dated API has, and the numeric path it mirrors.
    private static let apis: [String: (versions: Set<String>, numeric: String)] = [
        "crm/objects": (["2026-03", "2026-09"], "crm/v3/objects"),
        "crm/associations": (["2026-03", "2026-09"], "crm/v4/associations"),
        "crm/properties": (["2026-03", "2026-09"], "crm/v3/properties"),
        "crm/pipelines": (["2026-03", "2026-09"], "crm/v3/pipelines"),
        "crm/owners": (["2026-03", "2026-09"], "crm/v3/owners"),
        "crm/lists": (["2026-03", "2026-09"], "crm/v3/lists"),
        "crm/imports": (["2026-03", "2026-09"], "crm/v3/imports"),
        "crm/exports": (["2026-03", "2026-09"], "crm/v3/exports"),
        "oauth": (["2026-03"], "oauth/v1"),
        "communication-preferences": (["2026-03"], "communication-preferences/v4"),
    ]

    /// A path's numeric twin and its version (nil: a numeric path, returned as is), or HubSpot's
    /// 404 for a version the API does not have.
    static func read(_ path: String) -> Result<(path: String, version: String?), HubSpotErrorBody> {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        for apiLength in [2, 1] where segments.count > apiLength {
            let api = segments.prefix(apiLength).joined(separator: "/")
            guard let known = apis[api] else { continue }
            let version = String(segments[apiLength])
            guard isDate(version) else { return .success((path, nil)) }
            guard known.versions.contains(version) else {
                return .failure(
                    HubSpotErrorBody(
                        status: 404,
                        message:
                            "\(api) has no version \(version); it has \(known.versions.sorted().joined(separator: ", "))",
                        category: "OBJECT_NOT_FOUND"))
            }
            var numeric = known.numeric
            // One record's associations are the v4 objects API: /{type}/{id}/associations/…
            let rest = segments.dropFirst(apiLength + 1)
            if api == "crm/objects", rest.count >= 3, rest[rest.startIndex + 2] == "associations" {
                numeric = "crm/v4/objects"
            }
            return .success(("/" + ([numeric] + rest.map(String.init)).joined(separator: "/"), version))
        }
        return .success((path, nil))
    }

    /// `YYYY-MM`.
    static func isDate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 7 && bytes[4] == UInt8(ascii: "-")
            && bytes.enumerated().allSatisfy {
                $0.offset == 4 || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0.element)
            }
    }

    /// 2026-09 and later enforce the portal's write rules and take association types by id or
    /// label only.
    static func enforcesWriteRules(_ version: String?) -> Bool {
        guard let version else { return false }
        return version >= "2026-09"
    }
}
