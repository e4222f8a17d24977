import Foundation
import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// `hubspot.gateway.v1.PassthroughService`: a HubSpot path the gateway does not model, called
/// as it is, on the domain's `Passthrough` (the same rules as REST's).
public struct PassthroughService: Hubspot_Gateway_V1_PassthroughService.ServiceProtocol {
    private let records: RecordOperations

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    public init(crm: CRM, defaultTimeout: Duration = .seconds(10)) {
        records = RecordOperations(crm: crm, defaultTimeout: defaultTimeout)
    }

    public func callHubSpot(request: ServerRequest<Hubspot_Gateway_V1_CallHubSpotRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_CallHubSpotResponse>
    {
        let message = request.message
        guard !message.method.isEmpty else { throw InputValidation.invalid(field: "method", "method is required") }
        guard message.path.hasPrefix("/") else {
            throw InputValidation.invalid(field: "path", "path must be HubSpot's path, starting with /")
        }
        let reply = try await records.mapped("\(message.method) \(message.path.prefix(80))") {
            try await records.crm.passthrough.send(
                PassthroughRequest(
                    method: message.method, path: message.path, query: message.query,
                    contentType: message.contentType.isEmpty ? nil : message.contentType,
                    body: message.body.isEmpty ? nil : Array(message.body)),
                records.terms(request.metadata))
        }
        return ServerResponse(
            message: .with {
                $0.status = Int32(reply.status)
                for header in reply.headers { $0.headers[header.name] = header.value }
                $0.body = Data(reply.body)
            })
    }
}
