import ArgumentParser
import GatewayCommandLine

/// The gateway's command line: its options, mapped onto the assembly by `GatewayRunner`.
@main
struct HubSpotGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hubspot-gateway",
        abstract: "The company's one door to HubSpot: gRPC API, shared rate limit, cache, circuit breaker.",
        discussion:
            "Every option can also be given as an environment variable HUBSPOT_GATEWAY_<OPTION> (e.g. HUBSPOT_GATEWAY_REDIS_URL); the command line wins. To try the gateway without HubSpot, run hubspot-gateway-sandbox (or scripts/run)."
    )

    @OptionGroup var options: GatewayOptions
    /// The old spelling of the sandbox, answered with where it went.
    @Flag(help: .hidden) var sandbox = false

    static func main() async { await runCommand(Self.self) }

    func validate() throws {
        guard !sandbox else {
            throw ValidationError(
                "the sandbox is a product of its own, without the simulator in this binary: run hubspot-gateway-sandbox (or scripts/run)"
            )
        }
        try options.validateForHubSpot()
    }

    func run() async throws {
        let runner = GatewayRunner(options: options, logger: options.bootstrapLogging())
        try await runner.run(
            baseURL: options.hubspot.hubspotBaseUrl, credentials: options.credentials()!, keys: runner.callerKeys()!,
            describing: options.hubspot.hubspotBaseUrl)
    }
}
