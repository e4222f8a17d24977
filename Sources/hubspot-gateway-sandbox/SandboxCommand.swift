import ArgumentParser
import ChangeFeed
import Foundation
import GatewayAssembly
import GatewayCommandLine
import GatewayCore
import HubSpotAPI
import HubSpotSimulator
import Logging

/// The gateway against a HubSpot simulator in the same process, with demo data, a development
/// caller key and the simulator's webhooks delivered to the gateway: what `scripts/run` starts.
/// A product of its own, so the production image does not carry the simulator.
@main
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hubspot-gateway-sandbox",
        abstract:
            "hubspot-gateway against a built-in HubSpot simulator with demo data (no HubSpot credentials needed).",
        discussion:
            "Takes every option of hubspot-gateway (also as HUBSPOT_GATEWAY_<OPTION>); HubSpot's credentials and URL are the simulator's. Without caller keys it prints a development key."
    )

    @OptionGroup var options: GatewayOptions
    @Flag(help: "Accepted for the command lines of older versions (hubspot-gateway --sandbox); always on.")
    var sandbox = false

    static func main() async { await runCommand(Self.self) }

    func run() async throws {
        let logger = options.bootstrapLogging()
        let runner = GatewayRunner(options: options, logger: logger)
        let keys = try runner.callerKeys() ?? Self.developmentKey()
        var simulator = SimulatorConfiguration()
        simulator.seedContacts = 200
        simulator.dailyLimit = 0
        var quiet = logger
        quiet.logLevel = .warning
        // The simulator signs its webhooks with a secret made now, for the URL known once HTTP listens.
        let secret = "sandbox-" + UUID().uuidString.lowercased()
        try await HubSpotSimulator.withRunning(simulator, logger: quiet) { sandbox, baseURL in
            try await runner.run(
                baseURL: baseURL, credentials: .privateAppToken(Secret(simulator.token)), keys: keys,
                describing: "sandbox simulator", configure: { $0.webhooks.clientSecrets = [secret] }
            ) { gateway, port in
                let url = "http://127.0.0.1:\(port)\(gateway.configuration.webhooks.path)"
                gateway.setWebhookPublicURL(url)
                var webhooks = WebhookConfiguration(targetURL: url, clientSecret: secret)
                webhooks.retryBaseDelay = .milliseconds(500)
                try? sandbox.deliverWebhooks(to: webhooks)
                FileHandle.standardOutput.write(
                    Data(
                        (gateway.feed == nil
                            ? "hubspot-gateway sandbox: the simulator's webhooks need --redis-url to reach ChangesService/Subscribe (the feed lives in Redis)\n"
                            : "hubspot-gateway sandbox: the simulator delivers its webhooks to \(url); ChangesService/Subscribe (scope changes.read) shows every change, including your writes\n")
                            .utf8))
            }
        }
    }

    /// One development key with every scope, printed for the developer.
    static func developmentKey() -> CallerKeys {
        let key = "dev-" + UUID().uuidString.lowercased()
        FileHandle.standardOutput.write(
            Data(
                """
                hubspot-gateway sandbox: development caller key (scopes crm.read, crm.write, changes.read, admin):
                  authorization: Bearer \(key)

                """.utf8))
        return CallerKeys(service: "sandbox-developer", key: key, scopes: [.read, .write, .changesRead, .admin])
    }
}
