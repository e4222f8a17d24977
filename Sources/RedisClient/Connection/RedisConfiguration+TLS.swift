import NIOCore
import NIOSSL

extension RedisConfiguration.TLS {
    /// The TLS context of one new connection and the name its server's certificate must carry.
    /// Files are read per connection, so a rotated client certificate or CA bundle is used
    /// from the next reconnect on.
    func makeContext(host: String) throws(RedisError) -> (context: NIOSSLContext, serverName: String?) {
        do {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.minimumTLSVersion = .tlsv12
            if let caFile { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) }
            switch (certificateFile, keyFile) {
            case (let certificate?, let key?):
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            case (nil, nil):
                break
            default:
                throw RedisError.tls("a client certificate needs both its certificate file and its key file")
            }
            if skipHostnameVerification { tls.certificateVerification = .noHostnameVerification }
            let context = try NIOSSLContext(configuration: tls)
            // SNI takes names only; an address host is verified against the certificate's IP
            // entries by NIOSSL when no name is given.
            return (context, serverName ?? (Self.isAddress(host) ? nil : host))
        } catch let error as RedisError {
            throw error
        } catch {
            throw .tls("cannot set up TLS to Redis: \(error)")
        }
    }

    private static func isAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
