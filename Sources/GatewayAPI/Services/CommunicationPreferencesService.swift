import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

/// `hubspot.gateway.v1.CommunicationPreferencesService`: subscription types and consent
/// statuses, on the domain's `SubscriptionPreferences`.
public struct CommunicationPreferencesService: Hubspot_Gateway_V1_CommunicationPreferencesService.ServiceProtocol {
    private let records: RecordOperations
    private var preferences: SubscriptionPreferences { records.crm.preferences }

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    public init(crm: CRM, defaultTimeout: Duration = .seconds(10)) {
        records = RecordOperations(crm: crm, defaultTimeout: defaultTimeout)
    }

    static func email(_ text: String, field: String = "email") throws(RPCError) -> String {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), text.count <= 254,
            !text.contains(where: { $0.isWhitespace || $0 == "/" })
        else { throw InputValidation.invalid(field: field, "\(field) must be an email address, e.g. ada@example.com") }
        return text
    }

    static func subscriptionId(_ text: String) throws(RPCError) -> String {
        guard !text.isEmpty, text.allSatisfy(\.isNumber) else {
            throw InputValidation.invalid(
                field: "subscription_id", "subscription_id must be a subscription type's id (ListSubscriptionTypes)")
        }
        return text
    }

    public func listSubscriptionTypes(
        request: ServerRequest<Hubspot_Gateway_V1_ListSubscriptionTypesRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_ListSubscriptionTypesResponse> {
        let terms = records.terms(request.metadata)
        let types = try await records.mapped("the subscription types") { try await preferences.types(terms) }
        return ServerResponse(message: .with { $0.types = types.map(Hubspot_Gateway_V1_SubscriptionType.init) })
    }

    public func getSubscriptionStatuses(
        request: ServerRequest<Hubspot_Gateway_V1_GetSubscriptionStatusesRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_GetSubscriptionStatusesResponse> {
        let email = try Self.email(request.message.email)
        let statuses = try await read([email], request.message.readOptions, request.metadata)
        return ServerResponse(
            message: .with { $0.statuses = (statuses[email] ?? []).map(Hubspot_Gateway_V1_SubscriptionStatus.init) })
    }

    public func batchGetSubscriptionStatuses(
        request: ServerRequest<Hubspot_Gateway_V1_BatchGetSubscriptionStatusesRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchGetSubscriptionStatusesResponse> {
        let emails = request.message.emails
        guard (1...SubscriptionPreferences.batchLimit).contains(emails.count) else {
            throw InputValidation.invalid(
                field: "emails", "emails must hold 1 to \(SubscriptionPreferences.batchLimit) addresses")
        }
        for (index, email) in emails.enumerated() { _ = try Self.email(email, field: "emails[\(index)]") }
        let statuses = try await read(emails, request.message.readOptions, request.metadata)
        return ServerResponse(
            message: .with {
                $0.recipients = emails.map { email in
                    .with {
                        $0.email = email
                        $0.statuses = (statuses[email] ?? []).map(Hubspot_Gateway_V1_SubscriptionStatus.init)
                    }
                }
            })
    }

    private func read(_ emails: [String], _ options: Hubspot_Gateway_V1_ReadOptions, _ metadata: Metadata)
        async throws -> [String: [SubscriptionPreferences.Status]]
    {
        let terms = records.terms(metadata)
        return try await records.mapped("the subscription statuses") {
            try await preferences.statuses(of: emails, maxStaleness: options.maxStalenessDuration, terms)
        }
    }

    public func subscribeEmail(
        request: ServerRequest<Hubspot_Gateway_V1_SubscribeEmailRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_SubscribeEmailResponse> {
        let message = request.message
        let email = try Self.email(message.email)
        let id = try Self.subscriptionId(message.subscriptionID)
        guard let basis = message.legalBasis.hubSpotName else {
            throw InputValidation.invalid(
                field: "legal_basis",
                "legal_basis is required: HubSpot records why this address may be sent the type (e.g. LEGAL_BASIS_CONSENT_WITH_NOTICE)"
            )
        }
        guard !message.legalBasisExplanation.isEmpty else {
            throw InputValidation.invalid(
                field: "legal_basis_explanation", "legal_basis_explanation is required with legal_basis")
        }
        let status = try await change(
            email, id, subscribe: true, basis, message.legalBasisExplanation, request.metadata)
        return ServerResponse(message: .with { $0.status = .init(status) })
    }

    public func unsubscribeEmail(
        request: ServerRequest<Hubspot_Gateway_V1_UnsubscribeEmailRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_UnsubscribeEmailResponse> {
        let email = try Self.email(request.message.email)
        let id = try Self.subscriptionId(request.message.subscriptionID)
        let status = try await change(email, id, subscribe: false, nil, nil, request.metadata)
        return ServerResponse(message: .with { $0.status = .init(status) })
    }

    private func change(
        _ email: String, _ id: String, subscribe: Bool, _ basis: String?, _ explanation: String?, _ metadata: Metadata
    ) async throws -> SubscriptionPreferences.Status {
        let terms = records.terms(metadata)
        return try await records.mapped("the subscription of \(email)") {
            try await preferences.change(
                email, subscriptionId: id, subscribe: subscribe, legalBasis: basis,
                legalBasisExplanation: explanation, terms)
        }
    }
}

extension Hubspot_Gateway_V1_LegalBasis {
    /// HubSpot's name of the basis; nil when unspecified.
    var hubSpotName: String? {
        switch self {
        case .legitimateInterestPql: "LEGITIMATE_INTEREST_PQL"
        case .legitimateInterestClient: "LEGITIMATE_INTEREST_CLIENT"
        case .legitimateInterestOther: "LEGITIMATE_INTEREST_OTHER"
        case .performanceOfContract: "PERFORMANCE_OF_CONTRACT"
        case .consentWithNotice: "CONSENT_WITH_NOTICE"
        case .nonGdpr: "NON_GDPR"
        case .processAndStore: "PROCESS_AND_STORE"
        case .unspecified, .UNRECOGNIZED: nil
        }
    }
}

extension Hubspot_Gateway_V1_SubscriptionType {
    init(_ type: SubscriptionPreferences.SubscriptionType) {
        self.init()
        id = type.id
        name = type.name
        description_p = type.description
        purpose = type.purpose
        isActive = type.isActive
        isDefault = type.isDefault
    }
}

extension Hubspot_Gateway_V1_SubscriptionStatus {
    init(_ status: SubscriptionPreferences.Status) {
        self.init()
        subscriptionID = status.subscriptionId
        name = status.name
        state =
            switch status.state {
            case .subscribed: .subscribed
            case .unsubscribed: .unsubscribed
            case .notSpecified: .notSpecified
            }
        legalBasis = status.legalBasis ?? ""
        legalBasisExplanation = status.legalBasisExplanation ?? ""
    }
}
