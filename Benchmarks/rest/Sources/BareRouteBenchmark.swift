import Foundation
import Hummingbird
import Logging

/// The reference of `scripts/bench rest`: a bare Hummingbird route answering the contact reads
/// with the bytes the gateway answered, in the same server configuration — what the REST
/// endpoint costs beyond the HTTP server it is built on.
@main
struct BareRouteBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count == 3, let port = Int(arguments[1]),
            let body = FileManager.default.contents(atPath: arguments[2])
        else {
            FileHandle.standardError.write(Data("usage: rest-bare-bench PORT BODY_FILE\n".utf8))
            exit(2)
        }
        let bytes = ByteBuffer(bytes: Array(body))
        let router = Router()
        router.get("crm/v3/objects/:type/:id") { request, _ -> Response in
            guard request.headers[.authorization] != nil else { return Response(status: .unauthorized) }
            return Response(
                status: .ok, headers: [.contentType: "application/json;charset=utf-8"], body: .init(byteBuffer: bytes))
        }
        var logger = Logger(label: "rest-bare-bench")
        logger.logLevel = .warning
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { _ in FileHandle.standardOutput.write(Data("rest-bare-bench listening\n".utf8)) },
            logger: logger)
        try await app.runService()
    }
}
