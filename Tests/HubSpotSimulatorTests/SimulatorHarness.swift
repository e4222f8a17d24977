import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import HubSpotSimulator
import Logging
import Testing

/// A simulator running in-process on a free port, and a plain HTTP client for it.
struct SimulatorHarness: Sendable {
    let simulator: HubSpotSimulator
    let baseURL: String
    let token: String

    /// Starts a simulator with `configure` applied, runs `body`, then stops it.
    static func with<T: Sendable>(
        _ configure: (inout SimulatorConfiguration) -> Void = { _ in },
        _ body: (SimulatorHarness) async throws -> T
    ) async throws -> T {
        var configuration = SimulatorConfiguration()
        configuration.port = 0
        configuration.burstLimit = 0
        configuration.searchPerSecondLimit = 0
        configure(&configuration)
        var logger = Logger(label: "hubspot-sim-test")
        logger.logLevel = .warning
        return try await HubSpotSimulator.withRunning(configuration, logger: logger) { simulator, baseURL in
            try await body(SimulatorHarness(simulator: simulator, baseURL: baseURL, token: configuration.token))
        }
    }

    struct Reply: Sendable {
        var status: Int
        var headers: [String: String]
        var data: Data

        var json: Any? { data.isEmpty ? nil : try? JSONSerialization.jsonObject(with: data) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var results: [[String: Any]] { object["results"] as? [[String: Any]] ?? [] }
        var message: String { object["message"] as? String ?? "" }
        var category: String? { object["category"] as? String }
        func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
    }

    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.timeoutIntervalForRequest = 30
        return URLSession(configuration: configuration)
    }()

    /// Sends a request; `json` is serialized, `raw` is sent as is. The token is sent unless `authorized` is false.
    @discardableResult
    func request(
        _ method: String, _ path: String, json: Any? = nil, raw: Data? = nil, authorized: Bool = true,
        token: String? = nil
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        if authorized { request.setValue("Bearer \(token ?? self.token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let raw {
            request.httpBody = raw
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await Self.session.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields { headers["\(key)"] = "\(value)" }
        return Reply(status: http.statusCode, headers: headers, data: data)
    }

    func get(_ path: String) async throws -> Reply { try await request("GET", path) }
    func post(_ path: String, _ json: Any) async throws -> Reply { try await request("POST", path, json: json) }

    /// Creates a contact and returns its id.
    func createContact(_ properties: [String: String]) async throws -> String {
        let reply = try await post("/crm/v3/objects/contacts", ["properties": properties])
        #expect(reply.status == 201, "create failed: \(String(decoding: reply.data, as: UTF8.self))")
        return reply.object["id"] as? String ?? ""
    }

    /// The simulator's statistics document.
    func stats() async throws -> [String: Any] {
        try await request("GET", "/_sim/stats", authorized: false).object
    }
}

extension Dictionary where Key == String, Value == Any {
    var properties: [String: Any] { self["properties"] as? [String: Any] ?? [:] }
}
