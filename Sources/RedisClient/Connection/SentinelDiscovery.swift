/// Finds the current master through Redis Sentinel, as Sentinel's client guide says: ask each
/// Sentinel in turn (`SENTINEL get-master-addr-by-name`) and take the first answer.
enum SentinelDiscovery {
    static func master(
        named name: String, from nodes: [RedisConfiguration.SentinelNode], _ configuration: RedisConfiguration
    ) async throws -> (host: String, port: Int) {
        var failures: [String] = []
        for node in nodes {
            do {
                let connection = try await RedisConnection.connect(
                    sentinelConfiguration(configuration), to: .tcp(host: node.host, port: node.port))
                let replies = try? await connection.send(
                    [[Array("SENTINEL".utf8), Array("get-master-addr-by-name".utf8), Array(name.utf8)]],
                    timeout: configuration.connectTimeout)
                await connection.close()
                guard let reply = replies?.first else {
                    throw RedisError.notConnected(lastError: "no answer to SENTINEL get-master-addr-by-name")
                }
                if case .error(let error) = reply { throw error }
                guard let parts = reply.array, parts.count == 2, let host = parts[0].string,
                    let port = parts[1].string.flatMap({ Int($0) })
                else {
                    failures.append("\(node.host):\(node.port) does not know a master named \(name)")
                    continue
                }
                return (host, port)
            } catch {
                failures.append("\(node.host):\(node.port): \(error)")
            }
        }
        throw RedisError.notConnected(lastError: "no Sentinel named the master: " + failures.joined(separator: "; "))
    }

    /// How a Sentinel is reached: its own password, no database, the same TLS settings.
    static func sentinelConfiguration(_ configuration: RedisConfiguration) -> RedisConfiguration {
        var sentinel = configuration
        sentinel.username = nil
        sentinel.password = configuration.sentinelPassword
        sentinel.database = 0
        return sentinel
    }
}
