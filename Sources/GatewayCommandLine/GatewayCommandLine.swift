import ArgumentParser
import Foundation

/// Runs an async command with the process's arguments, every option also read from its
/// `HUBSPOT_GATEWAY_*` variable (`EnvironmentArguments`).
public func runCommand<Command: AsyncParsableCommand>(_ command: Command.Type) async {
    let arguments = EnvironmentArguments.merge(
        Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment, for: command)
    do {
        var parsed = try command.parseAsRoot(arguments)
        if var parsed = parsed as? any AsyncParsableCommand {
            try await parsed.run()
        } else {
            try parsed.run()
        }
    } catch {
        command.exit(withError: error)
    }
}
