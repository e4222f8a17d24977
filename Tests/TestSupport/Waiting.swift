import Testing

// Tests wait on conditions, never on a guessed sleep.

/// Waits until `condition` holds (yielding between checks), instead of sleeping for a guess.
public func waitUntil(within limit: Duration = .seconds(10), _ condition: () -> Bool) async {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("the condition did not hold within \(limit)")
            return
        }
        await Task.yield()
    }
}

/// Waits until `condition` holds, checking every 20 ms: for conditions another process or the
/// network makes true (a Redis subscription, a server's state).
public func eventually(_ what: String, within limit: Duration = .seconds(10), _ condition: () async throws -> Bool)
    async throws
{
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("not within \(limit): \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}
