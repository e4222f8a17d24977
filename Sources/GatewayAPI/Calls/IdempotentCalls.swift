import GatewayCore
import GRPCCore
import SwiftProtobuf
import Digests

/// Creates keyed by an `idempotency_key` field or `idempotency-key` request metadata: each key
/// of a calling service runs once for a day (`IdempotentWrites`); a retry gets the first answer.
struct IdempotentCalls: Sendable {
    /// The request metadata that may carry the key instead of the field.
    static let metadataKey = "idempotency-key"
    /// The trailer naming the calling service (of a CALLER_NOT_ALLOWED refusal).
    static let callerKey = "x-gateway-caller"

    /// nil: no Redis (the sandbox without one): keys are refused.
    let writes: IdempotentWrites?

    /// The key a request carries: its field or its metadata (not two different ones).
    static func key(field: String, _ metadata: Metadata) throws(RPCError) -> String? {
        let header = metadata.firstString(metadataKey) ?? ""
        if !field.isEmpty, !header.isEmpty, field != header {
            throw InputValidation.invalid(
                "idempotency_key '\(field)' and the idempotency-key metadata '\(header)' differ; send one")
        }
        let key = field.isEmpty ? header : field
        guard !key.isEmpty else { return nil }
        guard key.count <= 128, key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw InputValidation.invalid(
                "idempotency_key must be 1 to 128 printable ASCII characters without spaces (a UUID, say)")
        }
        return key
    }

    /// `body`'s answer, run once per key: `request` (its key field cleared) fingerprints the
    /// call, with the method's name.
    func run<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: String, key: String?, request: Request, _ metadata: Metadata, deadline: ContinuousClock.Instant,
        _ body: () async throws -> Response
    ) async throws -> Response {
        guard let key else { return try await body() }
        guard let writes else {
            throw GatewayErrors.error(
                .featureNotConfigured,
                "idempotency keys need the gateway's Redis, and this gateway runs without one")
        }
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let encoded: [UInt8] = try request.serializedBytes(options: options)
        let fingerprint = hexString(SHA256.hash(Array(method.utf8) + [0] + encoded))
        // Keys are scoped to the calling service the authentication interceptor bound.
        let scope = Caller.current?.service ?? "anonymous"
        do {
            let answer = try await writes.run(
                scope: scope, key: key, fingerprint: fingerprint, deadline: deadline,
                mayHaveBeenApplied: { error in
                    // "partial": part of it was written (an order's deal without all its lines).
                    ["unknown", "partial"].contains(
                        (error as? RPCError)?.metadata.firstString(GatewayErrors.Key.writeOutcome))
                }
            ) {
                let response = try await body()
                return try response.serializedBytes()
            }
            return try Response(serializedBytes: answer)
        } catch let refusal as IdempotentWrites.Refusal {
            throw Self.rpcError(refusal)
        }
    }

    static func rpcError(_ refusal: IdempotentWrites.Refusal) -> RPCError {
        switch refusal {
        case .conflict(let key):
            GatewayErrors.error(
                .idempotencyKeyReused,
                "idempotency key '\(key)' was used with a different request within the last day; use a new key for a new request"
            )
        case .outcomeUnknown(let key):
            GatewayErrors.error(
                .idempotentOutcomeUnknown,
                "the first request with idempotency key '\(key)' may or may not have been written (its answer was lost, or its gateway replica stopped mid-call); look the record up (e.g. by a unique property) before writing it again with a new key",
                metadata: [GatewayErrors.Key.writeOutcome: "unknown"])
        case .stillInFlight(let key):
            GatewayErrors.error(
                .idempotentRequestInFlight,
                "the first request with idempotency key '\(key)' is still in flight; retry with the same key to get its answer"
            )
        case .storeFull(let key):
            GatewayErrors.error(
                .gatewayStateFull,
                "the gateway's state Redis is out of memory, so idempotency key '\(key)' could not be recorded and nothing was written; retry later (its operators must raise maxmemory)",
                retryAfter: GatewayFailure.stateFullRetryDelay)
        case .storeUnavailable(let key):
            GatewayErrors.error(
                .gatewayStateUnavailable,
                "the gateway cannot reach Redis to check idempotency key '\(key)'; retry with the same key",
                retryAfter: GatewayFailure.unavailableRetryDelay)
        }
    }
}
