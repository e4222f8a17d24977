import ArgumentParser

/// Runs an async command with the given arguments (the environment's merged in).
public func runCommand<Command: AsyncParsableCommand>(_ command: Command.Type, _ arguments: [String]) async {
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
