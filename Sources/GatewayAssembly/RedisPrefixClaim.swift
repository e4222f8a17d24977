import GatewayCore
import Logging
import RedisClient
import ServiceLifecycle

/// Records in Redis which portal's fleet keeps its state under `prefix` (`<prefix>:portal`),
/// once the portal is known. A fleet of another portal already there means two fleets would
/// share one feed, budget, cache and job store: this replica then reports not ready, naming
/// `--redis-key-prefix`, rather than publish one portal's changes as the other's.
struct RedisPrefixClaim: Service {
    let redis: RedisClient
    let prefix: String
    let portal: HubSpotPortal
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
        let own = await portal.value()
        let key = RESPArgument(prefix + ":portal")
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                _ = try await redis.set(key, .init(String(own)), condition: .ifNotExists)
                let holder = try await redis.get(key).map { String(decoding: $0, as: UTF8.self) }
                if let holder, holder != String(own) {
                    let why =
                        "the Redis prefix '\(prefix)' holds the state of portal \(holder)'s fleet, and this fleet serves portal \(own): give each fleet its own --redis-key-prefix (e.g. hubspot-gateway:\(own))"
                    logger.critical("\(why)")
                    readiness.prefixClaimedByAnother(why)
                }
                return
            } catch {
                // Redis away: the claim waits for it (nothing is written meanwhile either).
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(5)) }
            }
        }
    }
}
