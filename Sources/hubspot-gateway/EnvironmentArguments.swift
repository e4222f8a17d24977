import Foundation

/// Every `--flag` can also come from the environment as `HUBSPOT_GATEWAY_FLAG` (upper case,
/// dashes as underscores); a flag on the command line wins. Secrets (the HubSpot token, caller
/// keys) are best given this way, from a Kubernetes Secret.
enum EnvironmentArguments {
    static let prefix = "HUBSPOT_GATEWAY_"

    /// `arguments` plus a `--name=value` (or `--name` for set boolean flags) for every option
    /// in `options` that the environment sets and the arguments do not.
    static func merge(_ arguments: [String], environment: [String: String], options: [String], flags: [String])
        -> [String]
    {
        var merged = arguments
        func given(_ name: String) -> Bool { arguments.contains { $0 == "--\(name)" || $0.hasPrefix("--\(name)=") } }
        for name in options where !given(name) {
            // One argument, so that a value starting with a dash is not read as an option.
            if let value = environment[variable(name)] { merged.append("--\(name)=\(value)") }
        }
        for name in flags where !given(name) {
            if let value = environment[variable(name)]?.lowercased(), ["1", "true", "yes"].contains(value) {
                merged.append("--\(name)")
            }
        }
        return merged
    }

    static func variable(_ name: String) -> String {
        prefix + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }
}
