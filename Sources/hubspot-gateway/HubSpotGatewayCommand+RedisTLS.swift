import ArgumentParser
import RedisClient

extension HubSpotGatewayCommand {
    /// The `--redis-tls-*` options onto a configuration parsed from `--redis-url`; they only
    /// make sense with TLS, so a `redis://` URL with any of them is refused.
    func applyRedisTLS(to configuration: inout RedisConfiguration) throws {
        let given = [redisTlsCaFile, redisTlsServerName, redisTlsCertFile, redisTlsKeyFile].contains { $0 != nil }
        guard var tls = configuration.tls else {
            if given {
                throw ValidationError(
                    "--redis-tls-* options need a rediss:// --redis-url (TLS); the URL is plain redis://")
            }
            return
        }
        guard (redisTlsCertFile == nil) == (redisTlsKeyFile == nil) else {
            throw ValidationError("--redis-tls-cert-file and --redis-tls-key-file go together")
        }
        tls.caFile = redisTlsCaFile ?? tls.caFile
        tls.serverName = redisTlsServerName ?? tls.serverName
        tls.certificateFile = redisTlsCertFile
        tls.keyFile = redisTlsKeyFile
        configuration.tls = tls
    }
}
