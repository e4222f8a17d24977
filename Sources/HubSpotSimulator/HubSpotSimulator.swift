import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A stateful local HubSpot CRM API: objects, batch, search, associations, HubSpot's rate
/// limits and errors, fault injection, request statistics and signed webhooks.
///
/// Run it as a `Service` (it serves until cancelled or gracefully shut down) and read the port
/// it bound with `listeningPort()`.
public final class HubSpotSimulator: Service, Sendable {
    let core: SimulatorCore
    /// The bound port, or why the server never listened; and who waits for either.
    private let listening = Mutex<(outcome: Result<Int, any Error>?, waiters: [CheckedContinuation<Int, any Error>])>(
        (nil, []))

    public init(configuration: SimulatorConfiguration, logger: Logger = Logger(label: "hubspot-sim"))
        throws(SimulatorConfigurationError)
    {
        core = try SimulatorCore(configuration: configuration, logger: logger)
    }

    /// The configuration it runs with.
    public var configuration: SimulatorConfiguration { core.configuration }

    /// Waits until the server listens and returns its port; throws why it could not listen
    /// (the port taken, say) if `run()` failed first.
    public func listeningPort() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let outcome = listening.withLock { state -> Result<Int, any Error>? in
                if let outcome = state.outcome { return outcome }
                state.waiters.append(continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    private func settle(_ outcome: Result<Int, any Error>) {
        let waiters = listening.withLock { state in
            if state.outcome == nil { state.outcome = outcome }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: outcome) }
    }

    public func run() async throws {
        let core = core
        let application = Application(
            responder: SimulatorResponder(core: core),
            server: .http1(configuration: .init(idleTimeout: .seconds(120))),
            configuration: ApplicationConfiguration(
                address: .hostname(core.configuration.host, port: core.configuration.port), serverName: "hubspot-sim"),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port ?? 0
                core.baseURL.withLock { $0 = "http://\(core.configuration.host):\(port)" }
                self.settle(.success(port))
            },
            logger: core.logger
        )
        do {
            try await withThrowingDiscardingTaskGroup { group in
                let webhooks = core.webhooks
                group.addTask { await cancelWhenGracefulShutdown { await webhooks.run() } }
                try await application.run()
                group.cancelAll()
            }
        } catch {
            settle(.failure(error))  // no effect once it listened
            throw error
        }
        settle(.failure(CancellationError()))  // ended before it ever listened
    }
}

extension HubSpotSimulator {
    /// Runs a simulator for the duration of `body` (tests, benchmarks, sandbox mode): starts it,
    /// waits until it listens, hands over its base URL, then shuts it down gracefully.
    /// Delivers the simulator's webhooks to `configuration`'s target from now on (nil: to
    /// nobody), as `PUT /_sim/webhooks` does.
    public func deliverWebhooks(to configuration: WebhookConfiguration?) throws(SimulatorConfigurationError) {
        try core.webhooks.configure(configuration)
    }

    public static func withRunning<T: Sendable>(
        _ configuration: SimulatorConfiguration,
        logger: Logger = Logger(label: "hubspot-sim"),
        _ body: (_ simulator: HubSpotSimulator, _ baseURL: String) async throws -> T
    ) async throws -> T {
        let simulator = try HubSpotSimulator(configuration: configuration, logger: logger)
        let group = ServiceGroup(services: [simulator], logger: logger)
        let server = Task { try await group.run() }
        let port: Int
        do {
            port = try await simulator.listeningPort()
        } catch {
            _ = try? await server.value
            throw error
        }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(simulator, "http://\(configuration.host):\(port)"))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await server.value
        return try result.get()
    }
}
