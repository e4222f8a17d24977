import Foundation
import HubSpotAPI
import Testing
import TestSupport

/// `nghttpd` (Debian's nghttp2-server) serving files over TLS with a self-signed certificate:
/// the same protocol stack as api.hubapi.com (HTTPS, ALPN, HTTP/2).
final class HTTP2FileServer: Sendable {
    let port: Int
    let directory: String
    private let process: SpawnedProcess

    var certificatePath: String { directory + "/cert.pem" }

    init() throws {
        directory = try SpawnedProcess.temporaryDirectory("h2-test")
        let openssl = SpawnedProcess.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
        guard openssl == 0 else { throw POSIXError(.EIO) }
        try FileManager.default.createDirectory(atPath: directory + "/htdocs", withIntermediateDirectories: true)
        try Data("hello over h2\n".utf8).write(to: URL(fileURLWithPath: directory + "/htdocs/hello.txt"))
        let directory = directory
        (process, port) = try SpawnedProcess.onFreePort("/usr/sbin/nghttpd") { port in
            [
                "--htdocs=" + directory + "/htdocs", "--address=127.0.0.1", String(port),
                directory + "/key.pem", directory + "/cert.pem",
            ]
        }
    }

    deinit {
        process.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite struct CurlHTTP2Tests {
    @Test
    func concurrentHTTPSRequestsMultiplexOverOneHTTP2Connection() async throws {
        let server = try HTTP2FileServer()
        var configuration = CurlTransportConfiguration()
        configuration.caBundlePath = server.certificatePath
        let transport = CurlTransport(configuration: configuration)
        defer { transport.shutdown() }
        let url = "https://localhost:\(server.port)/hello.txt"
        // One request first, so the connection is known to multiplex before the burst.
        let first = try await transport.send(HTTPRequest(method: .get, url: url), timeout: .seconds(10))
        #expect(first.status == 200)
        #expect(first.httpVersion == "2")
        try await withThrowingTaskGroup(of: HTTPResponse.self) { group in
            for _ in 0..<50 {
                group.addTask { try await transport.send(HTTPRequest(method: .get, url: url), timeout: .seconds(10)) }
            }
            for try await response in group {
                #expect(response.status == 200)
                #expect(response.httpVersion == "2")
                #expect(String(decoding: response.body, as: UTF8.self) == "hello over h2\n")
            }
        }
        #expect(transport.statistics.connectionsOpened == 1, "51 requests must share one HTTP/2 connection")
    }

    @Test
    func anUntrustedCertificateIsRefused() async throws {
        let server = try HTTP2FileServer()
        let transport = CurlTransport()
        defer { transport.shutdown() }
        do {
            _ = try await transport.send(
                HTTPRequest(method: .get, url: "https://localhost:\(server.port)/hello.txt"), timeout: .seconds(10))
            Issue.record("a self-signed certificate must not be trusted by default")
        } catch let error as CurlError {
            #expect(error.code == 60)
        }
    }
}
