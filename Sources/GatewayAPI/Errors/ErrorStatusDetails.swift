import GatewayCore
import GRPCCore
import GRPCProtobuf

/// The standard rich error model of every failed RPC: a `google.rpc.Status` in
/// `grpc-status-details-bin` with `ErrorInfo` (reason, domain, metadata), `RetryInfo` when
/// waiting helps (and `grpc-retry-pushback-ms`), `BadRequest` for invalid input and
/// `RequestInfo` with the request id. It reads what the error's makers put in its trailers
/// (`GatewayErrors.Key`), so errors are written once and detailed here.
/// `RequestObservationInterceptor` applies it to every RPC's failure (one interceptor layer
/// instead of two: each layer cost ~5 % of a cache hit's throughput).
public enum ErrorStatusDetails {
    /// `ErrorInfo.domain` of every error.
    public static let domain = "hubspot-gateway"

    /// `error` as an `RPCError` carrying its `google.rpc.Status` (once; an error that has one
    /// already is left as it is).
    public static func detailed(_ error: any Error, requestId: String?) -> RPCError {
        var error = GatewayErrors.rpcError(error, subject: "the request")
        guard error.metadata[binaryValues: statusDetailsKey].first(where: { _ in true }) == nil else { return error }
        typealias Key = GatewayErrors.Key
        let reason =
            error.metadata.firstString(Key.reason).flatMap(GatewayErrorReason.init(rawValue:))
            ?? GatewayErrorReason.fallback(for: error.code)
        error.metadata.replaceOrAddString(reason.rawValue, forKey: Key.reason)

        var info: [String: String] = [:]
        let named: [(trailer: String, name: String)] = [
            (Key.existingId, "existing_id"), (Key.property, "property"), (Key.requiredScopes, "required_scopes"),
            (Key.correlationId, "hubspot_correlation_id"), (Key.writeOutcome, "write_outcome"),
            (CallerAuthenticationInterceptor.callerKey, "caller"), (CallerAuthenticationInterceptor.scopeKey, "scope"),
        ]
        for (trailer, name) in named {
            if let value = error.metadata.firstString(trailer) { info[name] = value }
        }
        var details: [ErrorDetails] = [.errorInfo(reason: reason.rawValue, domain: domain, metadata: info)]
        if let milliseconds = error.metadata.firstString(Key.retryAfterMilliseconds).flatMap({ Int64($0) }) {
            details.append(.retryInfo(delay: .milliseconds(milliseconds)))
            if error.metadata.firstString(Key.retryPushback) == nil {
                error.metadata.addString(String(milliseconds), forKey: Key.retryPushback)
            }
        }
        if error.code == .invalidArgument || error.code == .outOfRange {
            let field = error.metadata.firstString(Key.invalidField) ?? ""
            details.append(
                .badRequest(violations: [.init(field: field, description: error.message)]))
        }
        if let requestId { details.append(.requestInfo(requestID: requestId, servingData: "")) }
        let status = GoogleRPCStatus(code: error.code, message: error.message, details: details)
        if let bytes: [UInt8] = try? status.serializedBytes() {
            error.metadata.addBinary(bytes, forKey: statusDetailsKey)
        }
        return error
    }

    /// The trailer gRPC's rich error model uses.
    static let statusDetailsKey = "grpc-status-details-bin"
}
