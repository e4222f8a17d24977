import Foundation

/// A certificate authority made for one test by the `openssl` command, with a server
/// certificate for `localhost` / 127.0.0.1 and client certificates signed by it (PEM files in
/// a temporary directory).
public struct TestCertificates: Sendable {
    public let directory: String
    public var caFile: String { directory + "/ca.crt" }
    public var serverCertificateFile: String { directory + "/server.crt" }
    public var serverKeyFile: String { directory + "/server.key" }

    public static func make() async throws -> TestCertificates {
        try await SpawnedProcess.offThePool { try TestCertificates() }
    }

    public init() throws {
        directory = try SpawnedProcess.temporaryDirectory("test-certificates")
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/ca.key", "-out", caFile,
            "-days", "2", "-subj", "/CN=hubspot-gateway test CA",
        ])
        try issue(name: "server", commonName: "localhost", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1")
    }

    /// A client certificate signed by the CA, with `commonName` and, if given, a URI SAN (a
    /// SPIFFE id, as a mesh issues); returns its certificate and key files.
    public func client(_ commonName: String, uri: String? = nil) throws -> (certificate: String, key: String) {
        let name = "client-" + commonName.filter { $0.isLetter || $0.isNumber }
        try issue(
            name: name, commonName: commonName,
            extensions: "extendedKeyUsage=clientAuth" + (uri.map { "\nsubjectAltName=URI:\($0)" } ?? ""))
        return (directory + "/\(name).crt", directory + "/\(name).key")
    }

    /// Issues the server certificate again (a new key, as cert-manager's renewal does).
    public func renewServerCertificate() throws {
        try issue(name: "server", commonName: "localhost", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1")
    }

    private func issue(name: String, commonName: String, extensions: String) throws {
        let base = directory + "/" + name
        try openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", base + ".key.new", "-out", base + ".csr",
            "-subj", "/CN=\(commonName)",
        ])
        try extensions.write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", base + ".csr", "-CA", caFile, "-CAkey", directory + "/ca.key", "-CAcreateserial",
            "-out", base + ".crt.new", "-days", "2", "-extfile", base + ".ext",
        ])
        // Renamed into place, as a mounted Secret's files change: never half written.
        for file in [base + ".key", base + ".crt"] where rename(file + ".new", file) != 0 {
            throw CertificateError(message: "cannot rename \(file).new into place: errno \(errno)")
        }
    }

    private func openssl(_ arguments: [String]) throws {
        let status = SpawnedProcess.run("/usr/bin/openssl", arguments, outputPath: directory + "/openssl.log")
        guard status == 0 else {
            throw CertificateError(
                message: "openssl \(arguments.first ?? "") exited with \(status): "
                    + ((try? String(contentsOfFile: directory + "/openssl.log", encoding: .utf8)) ?? ""))
        }
    }

    struct CertificateError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
