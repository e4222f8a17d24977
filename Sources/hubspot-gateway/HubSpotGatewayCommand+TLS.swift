import ArgumentParser
import GRPCNghttp2Transport
import Logging

extension HubSpotGatewayCommand {
    /// The gRPC listener's TLS from `--tls-cert`, `--tls-key` and `--tls-client-ca`; nil for h2c.
    func grpcTLSContext(logger: Logger) throws -> ReloadingServerTLSContext? {
        switch (tlsCert, tlsKey) {
        case (nil, nil):
            guard tlsClientCa == nil else {
                throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)")
            }
            return nil
        case (let certificate?, let key?):
            guard tlsReloadSeconds > 0 else { throw ValidationError("--tls-reload-seconds must be > 0") }
            return try ReloadingServerTLSContext(
                files: .init(certificateChain: certificate, privateKey: key, clientCA: tlsClientCa), logger: logger)
        default:
            throw ValidationError("--tls-cert and --tls-key go together")
        }
    }
}
