import ArgumentParser
import GRPCNghttp2Transport
import Logging

extension GatewayOptions {
    /// The gRPC listener's TLS from `--tls-cert`, `--tls-key` and `--tls-client-ca`; nil for h2c.
    func grpcTLSContext(logger: Logger) throws -> ReloadingServerTLSContext? {
        switch (serving.tlsCert, serving.tlsKey) {
        case (nil, nil):
            guard serving.tlsClientCa == nil else {
                throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)")
            }
            return nil
        case (let certificate?, let key?):
            return try ReloadingServerTLSContext(
                files: .init(certificateChain: certificate, privateKey: key, clientCA: serving.tlsClientCa),
                logger: logger)
        default:
            throw ValidationError("--tls-cert and --tls-key go together")
        }
    }
}
