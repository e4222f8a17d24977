import NIOSSL

extension NIOSSLCertificate {
    /// Who a client certificate names: its first URI SAN (a SPIFFE id, as meshes and
    /// cert-manager's CSI driver issue), else its first DNS SAN. The subject's common name is
    /// not used for identity (RFC 6125 leaves it behind SANs).
    var clientIdentity: String? {
        let names = _subjectAlternativeNames()
        if let uri = names.first(where: { $0.nameType == .uri }) {
            return String(decoding: uri.contents, as: UTF8.self)
        }
        return names.first(where: { $0.nameType == .dnsName }).map { String(decoding: $0.contents, as: UTF8.self) }
    }
}
