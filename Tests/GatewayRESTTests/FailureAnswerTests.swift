import GRPCCore
import GatewayAPI
@testable import GatewayCore
@testable import GatewayREST
import HTTPTypes
import HummingbirdCore
import Testing

/// gRPC and REST answer each failure the same way: a status that means the same thing, and the
/// same wait before a retry. (Each API keeps its own table from the failure to its wire form;
/// this runs every failure through both, so that they cannot drift apart.)
@Suite struct FailureAnswerTests {
    static let failures: [(name: String, error: any Error)] = [
        ("not found", CRMError(.notFound, "no such record")),
        ("already exists", CRMError(.alreadyExists(existingId: "7"), "email taken")),
        ("invalid input", CRMError(.invalidInput(property: "email"), "not an email")),
        ("not a unique property", CRMError(.notAUniqueProperty("firstname", uniqueProperties: ["email"]), "")),
        ("invalid request", CRMError(.invalidRequest, "bad filter")),
        ("credentials rejected", CRMError(.credentialsRejected(status: 401), "")),
        ("missing scopes", CRMError(.missingScopes(required: ["crm.objects.deals.read"]), "")),
        ("HubSpot's rate limit, with a wait", CRMError(.rateLimited(retryAfter: .milliseconds(2500)), "")),
        ("HubSpot's rate limit, without", CRMError(.rateLimited(retryAfter: nil), "")),
        ("HubSpot unavailable", CRMError(.unavailable(status: 502), "bad gateway")),
        ("HubSpot's deadline", CRMError(.deadlineExceeded, "")),
        ("an unexpected answer", CRMError(.unexpectedAnswer, "not JSON")),
        ("the search cap", CRMError(.searchResultsCap, "past 10,000")),
        ("a subscription's state", CRMError(.stateConflict, "already subscribed")),
        ("a caller's missing scope", CallerNotAllowed(service: "marketing", scope: "crm.objects.deals.write")),
        ("the budget", RateLimitExceeded(kind: .general, retryAfter: .milliseconds(700), cause: .budget)),
        ("HubSpot's pause", RateLimitExceeded(kind: .general, retryAfter: .seconds(9), cause: .hubSpotPause)),
        ("the caller's share", RateLimitExceeded(kind: .search, retryAfter: .seconds(3), cause: .callerShare)),
        ("the open breaker", CircuitOpen(retryAfter: .milliseconds(12_300))),
        ("an unknown write outcome", WriteOutcomeUnknown(underlying: CRMError(.deadlineExceeded, ""))),
        ("a passed deadline", DeadlinePassed()),
        ("a cancelled call", CancellationError()),
    ]

    /// The HTTP statuses that say what a gRPC code says.
    static func statuses(for code: RPCError.Code) -> Set<Int> {
        switch code {
        case .notFound: [404]
        case .alreadyExists, .failedPrecondition: [409]
        case .invalidArgument, .outOfRange: [400]
        case .permissionDenied: [403]
        case .resourceExhausted: [429]
        case .unavailable: [503]
        case .deadlineExceeded: [504]
        case .cancelled: [499]
        case .unknown: [502]
        // HubSpot said something the gateway cannot read (502), or the gateway failed (500).
        case .internalError: [500, 502]
        default: []
        }
    }

    @Test(arguments: failures.indices)
    func gRPCAndRESTAnswerAFailureAlikeAndNameTheSameWait(_ index: Int) throws {
        let (name, error) = Self.failures[index]
        let rpc = GatewayErrors.rpcError(error, subject: "contact 1")
        let rest = RESTError.from(error, subject: "contact 1")
        #expect(
            Self.statuses(for: rpc.code).contains(rest.status.code),
            "\(name): gRPC \(rpc.code), REST \(rest.status.code)")
        #expect(rest.status.code != 500 || rpc.code == .internalError, "\(name): REST answered 500")
        let grpcWait = rpc.metadata[stringValues: GatewayErrors.Key.retryAfterMilliseconds].first { _ in true }
            .flatMap { Int64($0) }
        let restWait = rest.response.headers[.retryAfter].flatMap { Int64($0) }
        #expect(
            restWait == grpcWait.map { max(1, ($0 + 999) / 1000) },
            "\(name): gRPC waits \(grpcWait.map { "\($0) ms" } ?? "-"), REST \(restWait.map { "\($0) s" } ?? "-")")
    }
}
