import ArgumentParser
import Foundation

/// Every `--flag` can also come from the environment as `HUBSPOT_GATEWAY_FLAG` (upper case,
/// dashes as underscores); a flag on the command line wins. Secrets (the HubSpot token, caller
/// keys) are best given this way, from a Kubernetes Secret.
public enum EnvironmentArguments {
    static let prefix = "HUBSPOT_GATEWAY_"

    /// `arguments` plus a `--name=value` (or `--name` for set boolean flags) for every option
    /// of `Command` that the environment sets and the arguments do not. The names are read
    /// from the command's help, so every option in `--help` can be set so.
    public static func merge<Command: ParsableArguments>(
        _ arguments: [String], environment: [String: String], for command: Command.Type
    ) -> [String] {
        let help = command.helpMessage(columns: 10_000)
        let options = matches(#"^\s+--([a-z0-9-]+) <"#, in: help)
        let flags = matches(#"^\s+--([a-z0-9-]+)(?: |$)(?! *<)"#, in: help).filter { $0 != "help" }
        var merged = arguments
        func given(_ name: String) -> Bool { arguments.contains { $0 == "--\(name)" || $0.hasPrefix("--\(name)=") } }
        for name in options where !given(name) {
            // One argument, so that a value starting with a dash is not read as an option.
            if let value = environment[variable(name)] { merged.append("--\(name)=\(value)") }
        }
        for name in flags where !given(name) && !options.contains(name) {
            if let value = environment[variable(name)]?.lowercased(), ["1", "true", "yes"].contains(value) {
                merged.append("--\(name)")
            }
        }
        return merged
    }

    static func matches(_ pattern: String, in text: String) -> [String] {
        let expression = try! NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    static func variable(_ name: String) -> String {
        prefix + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }
}
