import Foundation
import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf

typealias Contact = Hubspot_Gateway_V1_Contact

/// `hubspot.gateway.v1.ContactsService` on HubSpot's contacts, through the domain (`CRM`).
public struct ContactsService: Hubspot_Gateway_V1_ContactsService.ServiceProtocol {
    /// The HubSpot properties behind the typed fields of `Contact`.
    static let typedProperties = ["email", "firstname", "lastname", "lifecyclestage"]
    static let type = "contacts"

    private let records: RecordOperations

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    /// - Parameter idempotentWrites: where idempotency keys of creates are kept (nil: keys refused).
    public init(crm: CRM, defaultTimeout: Duration = .seconds(10), idempotentWrites: IdempotentWrites? = nil) {
        records = RecordOperations(
            crm: crm, defaultTimeout: defaultTimeout, idempotency: IdempotentCalls(writes: idempotentWrites))
    }

    private func properties(_ extra: [String]) throws(RPCError) -> [String] {
        try InputValidation.requestedProperties(extra, typed: Self.typedProperties)
    }

    public func getContact(request: ServerRequest<Hubspot_Gateway_V1_GetContactRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_GetContactResponse>
    {
        let message = request.message
        let properties = try properties(message.properties)
        switch message.key {
        case .id(let id):
            let (object, read) = try await records.get(
                Self.type, id: id, properties: properties, readOptions: message.readOptions, subject: "contact \(id)",
                request.metadata)
            return ServerResponse(
                message: .with {
                    $0.contact = Contact(object); $0.freshness = .init(read)
                })
        case .email(let email):
            try InputValidation.email(email, field: "email")
            let (object, read) = try await records.get(
                Self.type, uniqueProperty: "email", value: email, properties: properties,
                readOptions: message.readOptions, subject: "contact with email \(email)", request.metadata)
            return ServerResponse(
                message: .with {
                    $0.contact = Contact(object); $0.freshness = .init(read)
                })
        case nil:
            throw InputValidation.invalid("one of id or email is required")
        }
    }

    public func listContacts(request: ServerRequest<Hubspot_Gateway_V1_ListContactsRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_ListContactsResponse>
    {
        let page = try await records.list(
            Self.type, page: request.message.page, properties: try properties(request.message.properties),
            request.metadata)
        return ServerResponse(
            message: .with {
                $0.contacts = page.records.map(Contact.init)
                $0.page = .init(page)
            })
    }

    public func searchContacts(request: ServerRequest<Hubspot_Gateway_V1_SearchContactsRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_SearchContactsResponse>
    {
        let page = try await records.search(
            Self.type, query: request.message.query, page: request.message.page,
            properties: try properties(request.message.properties), request.metadata)
        return ServerResponse(
            message: .with {
                $0.contacts = page.records.map(Contact.init)
                $0.page = .init(page)
            })
    }

    public func createContact(request: ServerRequest<Hubspot_Gateway_V1_CreateContactRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_CreateContactResponse>
    {
        try await records.once("CreateContact", request, keyField: \.idempotencyKey) {
            try await createContactOnce(request)
        }
    }

    private func createContactOnce(_ request: ServerRequest<Hubspot_Gateway_V1_CreateContactRequest>) async throws
        -> ServerResponse<Hubspot_Gateway_V1_CreateContactResponse>
    {
        let contact = request.message.contact
        guard contact.id.isEmpty else {
            throw InputValidation.invalid(
                field: "contact.id", "contact.id must be empty on create (HubSpot assigns it)")
        }
        let properties = try Self.writeProperties(contact, field: "contact")
        var associations: [NewAssociation] = []
        for (index, target) in request.message.associations.enumerated() {
            associations.append(
                try AssociationTranslation.input(target, field: "associations[\(index)]", from: Self.type))
        }
        let written = try await records.write(
            Self.type, .create(properties: properties.compactMapValues { $0 }, associations: associations),
            subject: "the new contact", request.metadata)
        return ServerResponse(message: .with { $0.contact = Contact(written) })
    }

    public func updateContact(request: ServerRequest<Hubspot_Gateway_V1_UpdateContactRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_UpdateContactResponse>
    {
        let contact = request.message.contact
        try InputValidation.id(contact.id, field: "contact.id")
        var properties = try Self.writeProperties(contact, field: "contact")
        try InputValidation.clear(request.message.propertiesToClear, into: &properties)
        let written = try await records.write(
            Self.type, .update(id: contact.id, properties: properties), subject: "contact \(contact.id)",
            request.metadata)
        return ServerResponse(message: .with { $0.contact = Contact(written) })
    }

    public func upsertContact(request: ServerRequest<Hubspot_Gateway_V1_UpsertContactRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_UpsertContactResponse>
    {
        let contact = request.message.contact
        try InputValidation.email(contact.email, field: "contact.email")
        let properties = try Self.writeProperties(contact, field: "contact")
        let written = try await records.write(
            Self.type, .upsert(idProperty: "email", value: contact.email, properties: properties),
            subject: "contact \(contact.email)", request.metadata)
        return ServerResponse(
            message: .with {
                $0.contact = Contact(written); $0.created = written.created ?? false
            })
    }

    public func archiveContact(request: ServerRequest<Hubspot_Gateway_V1_ArchiveContactRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_ArchiveContactResponse>
    {
        try await records.archive(
            Self.type, id: request.message.id, subject: "contact \(request.message.id)", request.metadata)
        return ServerResponse(message: .init())
    }

    public func mergeContacts(request: ServerRequest<Hubspot_Gateway_V1_MergeContactsRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_MergeContactsResponse>
    {
        let survivor = try await records.merge(
            Self.type, primaryId: request.message.primaryID, mergedId: request.message.mergedID, request.metadata)
        return ServerResponse(message: .with { $0.contact = Contact(survivor) })
    }

    public func batchGetContacts(
        request: ServerRequest<Hubspot_Gateway_V1_BatchGetContactsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchGetContactsResponse> {
        let message = request.message
        let objects = try await records.batchGet(
            Self.type, ids: message.ids, properties: try properties(message.properties),
            readOptions: message.readOptions, request.metadata)
        return ServerResponse(
            message: .with { ($0.contacts, $0.missingIds) = BatchReads.split(objects, ids: message.ids, Contact.init) })
    }

    public func batchCreateContacts(
        request: ServerRequest<Hubspot_Gateway_V1_BatchCreateContactsRequest>, context: ServerContext
    )
        async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteContactsResponse>
    {
        try await records.once("BatchCreateContacts", request, keyField: \.idempotencyKey) {
            try await batchCreateContactsOnce(request)
        }
    }

    private func batchCreateContactsOnce(_ request: ServerRequest<Hubspot_Gateway_V1_BatchCreateContactsRequest>)
        async throws
        -> ServerResponse<Hubspot_Gateway_V1_BatchWriteContactsResponse>
    {
        try await batchWrite(request.message.contacts, request.metadata) { index, contact throws(RPCError) in
            guard contact.id.isEmpty else {
                throw InputValidation.invalid(
                    field: "contacts[\(index)].id", "contacts[\(index)].id must be empty on create")
            }
            return .create(
                properties: try Self.writeProperties(contact, field: "contacts[\(index)]").compactMapValues { $0 })
        }
    }

    public func batchUpdateContacts(
        request: ServerRequest<Hubspot_Gateway_V1_BatchUpdateContactsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteContactsResponse> {
        try await batchWrite(request.message.contacts, request.metadata) { index, contact throws(RPCError) in
            try InputValidation.id(contact.id, field: "contacts[\(index)].id")
            return .update(id: contact.id, properties: try Self.writeProperties(contact, field: "contacts[\(index)]"))
        }
    }

    public func batchUpsertContacts(
        request: ServerRequest<Hubspot_Gateway_V1_BatchUpsertContactsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteContactsResponse> {
        try await batchWrite(request.message.contacts, request.metadata) { index, contact throws(RPCError) in
            try InputValidation.email(contact.email, field: "contacts[\(index)].email")
            return .upsert(
                idProperty: "email", value: contact.email,
                properties: try Self.writeProperties(contact, field: "contacts[\(index)]"))
        }
    }

    private func batchWrite(
        _ contacts: [Contact], _ metadata: Metadata, _ write: (Int, Contact) throws(RPCError) -> ObjectWrite
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteContactsResponse> {
        let (written, errors) = try await records.batchWrite(
            Self.type, contacts, field: "contacts", metadata, write: write, as: Contact.init)
        return ServerResponse(
            message: .with {
                $0.contacts = written; $0.errors = errors
            })
    }

    /// The HubSpot properties a contact message sets (typed fields that are non-empty, plus
    /// `properties`). A property named twice must agree.
    static func writeProperties(_ contact: Hubspot_Gateway_V1_Contact, field: String) throws(RPCError) -> [String:
        String?]
    {
        if !contact.email.isEmpty { try InputValidation.email(contact.email, field: "\(field).email") }
        return try InputValidation.writeProperties(
            contact.properties,
            typed: [
                ("email", contact.email), ("firstname", contact.firstName), ("lastname", contact.lastName),
                ("lifecyclestage", contact.lifecycleStage),
            ], field: field)
    }
}

extension Hubspot_Gateway_V1_Contact {
    /// A HubSpot contact as the API's message: typed fields, the rest in `properties`.
    init(_ object: CRMRecord) {
        self.init()
        id = object.id
        email = object["email"] ?? ""
        firstName = object["firstname"] ?? ""
        lastName = object["lastname"] ?? ""
        lifecycleStage = object["lifecyclestage"] ?? ""
        for (name, value) in object.properties where !ContactsService.typedProperties.contains(name) {
            if let value { properties[name] = value }
        }
        times = .init(object)
    }
}

extension Hubspot_Gateway_V1_RecordTimes {
    init(_ object: CRMRecord) {
        self.init()
        if let created = object.createdAt { createdAt = Google_Protobuf_Timestamp(hubSpotTime: created) }
        if let updated = object.updatedAt { updatedAt = Google_Protobuf_Timestamp(hubSpotTime: updated) }
    }
}
