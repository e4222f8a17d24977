import ArgumentParser
import RedisClient

extension GatewayOptions {
    /// The `--redis-tls-*` options onto a configuration parsed from `--redis-url`; they only
    /// make sense with TLS, so a `redis://` URL with any of them is refused.
    func applyRedisTLS(to configuration: inout RedisConfiguration) throws {
        let given = [redis.redisTlsCaFile, redis.redisTlsServerName, redis.redisTlsCertFile, redis.redisTlsKeyFile]
            .contains { $0 != nil }
        guard var tls = configuration.tls else {
            if given {
                throw ValidationError(
                    "--redis-tls-* options need a rediss:// --redis-url (TLS); the URL is plain redis://")
            }
            return
        }
        guard (redis.redisTlsCertFile == nil) == (redis.redisTlsKeyFile == nil) else {
            throw ValidationError("--redis-tls-cert-file and --redis-tls-key-file go together")
        }
        tls.caFile = redis.redisTlsCaFile ?? tls.caFile
        tls.serverName = redis.redisTlsServerName ?? tls.serverName
        tls.certificateFile = redis.redisTlsCertFile
        tls.keyFile = redis.redisTlsKeyFile
        configuration.tls = tls
    }
}
