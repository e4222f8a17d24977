import NIOSSL

extension Nghttp2ServerTransportConfiguration {
    /// TLS on the listener (ALPN `h2`), optionally mutual.
    public struct TLS: Sendable {
        /// The context of each new connection, asked once per connection, so a reloaded
        /// certificate applies from the next connection on (see `ReloadingServerTLSContext`).
        public var context: @Sendable () -> NIOSSLContext
        /// Metadata key under which a verified client certificate's identity (its first URI
        /// SAN, such as a SPIFFE id, else its first DNS SAN) is passed to handlers. Clients
        /// cannot set it: a value they send under this key is removed. nil: not passed.
        public var clientIdentityMetadataKey: String?

        public init(
            context: @escaping @Sendable () -> NIOSSLContext,
            clientIdentityMetadataKey: String? = "x-client-certificate-identity"
        ) {
            self.context = context
            self.clientIdentityMetadataKey = clientIdentityMetadataKey
        }
    }
}
