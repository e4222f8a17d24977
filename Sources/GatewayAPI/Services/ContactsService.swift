import Foundation
import GatewayCore
import GatewayProto
import GRPCCore
import HubSpotAPI
import SwiftProtobuf

typealias Contact = Hubspot_Gateway_V1_Contact

/// `hubspot.gateway.v1.ContactsService` on HubSpot's contacts, through `HubSpotUpstream`.
public struct ContactsService: Hubspot_Gateway_V1_ContactsService.ServiceProtocol {
    /// The HubSpot properties behind the typed fields of `Contact`.
    static let typedProperties = ["email", "firstname", "lastname", "lifecyclestage"]
    static let type = "contacts"

    private let upstream: HubSpotUpstream
    private let defaultTimeout: Duration

    /// - Parameter defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    public init(upstream: HubSpotUpstream, defaultTimeout: Duration = .seconds(10)) {
        self.upstream = upstream
        self.defaultTimeout = defaultTimeout
    }

    private func context(_ metadata: Metadata) -> CallContext { CallContext(metadata: metadata, defaultTimeout: defaultTimeout) }

    private func properties(_ extra: [String]) throws(RPCError) -> [String] {
        try InputValidation.propertyNames(extra, field: "properties")
        return Array(Set(Self.typedProperties + extra)).sorted()
    }

    private func mapped<T>(_ subject: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw GatewayErrors.rpcError(error, subject: subject) }
    }

    public func getContact(request: ServerRequest<Hubspot_Gateway_V1_GetContactRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_GetContactResponse> {
        let call = self.context(request.metadata)
        let message = request.message
        let properties = try properties(message.properties)
        switch message.key {
        case .id(let id):
            try InputValidation.id(id, field: "id")
            let read = try await mapped("contact \(id)") {
                try await upstream.readObject(type: Self.type, id: id, properties: properties, maxStaleness: message.readOptions.maxStalenessDuration,
                                              priority: call.priority, deadline: call.deadline)
            }
            guard let object = read.object else { throw RPCError(code: .notFound, message: "contact \(id) not found in HubSpot") }
            return ServerResponse(message: .with { $0.contact = Contact(object); $0.freshness = .init(read) })
        case .email(let email):
            try InputValidation.email(email, field: "email")
            let object = try await mapped("contact with email \(email)") {
                try await upstream.call(priority: call.priority, deadline: call.deadline) { client, options in
                    try await client.getObject(Self.type, id: email, properties: properties, idProperty: "email", options: options)
                }
            }
            return ServerResponse(message: .with { $0.contact = Contact(object); $0.freshness = .with { $0.source = .hubspot } })
        case nil:
            throw InputValidation.invalid("one of id or email is required")
        }
    }

    public func listContacts(request: ServerRequest<Hubspot_Gateway_V1_ListContactsRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_ListContactsResponse> {
        let call = self.context(request.metadata)
        let properties = try properties(request.message.properties)
        let limit = try InputValidation.pageSize(request.message.page.pageSize)
        let cursor = request.message.page.cursor
        let page = try await mapped("the contact list") {
            try await upstream.call(priority: call.priority, deadline: call.deadline) { client, options in
                try await client.listObjects(Self.type, limit: limit, after: cursor.isEmpty ? nil : cursor, properties: properties, options: options)
            }
        }
        return ServerResponse(message: .with {
            $0.contacts = page.results.map(Contact.init)
            $0.page = .with { $0.nextCursor = page.nextAfter ?? "" }
        })
    }

    public func searchContacts(request: ServerRequest<Hubspot_Gateway_V1_SearchContactsRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_SearchContactsResponse> {
        let call = self.context(request.metadata)
        let search = try SearchTranslation.request(request.message.query, page: request.message.page, properties: try properties(request.message.properties))
        let page = try await mapped("the contact search") {
            try await upstream.call(.search, priority: call.priority, deadline: call.deadline) { client, options in
                try await client.search(Self.type, search, options: options)
            }
        }
        return ServerResponse(message: .with {
            $0.contacts = page.results.map(Contact.init)
            $0.page = .with { $0.nextCursor = page.nextAfter ?? ""; $0.total = Int64(page.total) }
        })
    }

    public func createContact(request: ServerRequest<Hubspot_Gateway_V1_CreateContactRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_CreateContactResponse> {
        let call = self.context(request.metadata)
        let contact = request.message.contact
        guard contact.id.isEmpty else { throw InputValidation.invalid("contact.id must be empty on create (HubSpot assigns it)") }
        let properties = try Self.writeProperties(contact, field: "contact")
        var associations: [AssociationInput] = []
        for (index, target) in request.message.associations.enumerated() {
            associations.append(try AssociationTranslation.input(target, field: "associations[\(index)]", from: Self.type))
        }
        let written = try await mapped("the new contact") {
            try await upstream.write(type: Self.type, .create(properties: properties.compactMapValues { $0 }, associations: associations),
                                     priority: call.priority, deadline: call.deadline)
        }
        return ServerResponse(message: .with { $0.contact = Contact(written) })
    }

    public func updateContact(request: ServerRequest<Hubspot_Gateway_V1_UpdateContactRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_UpdateContactResponse> {
        let call = self.context(request.metadata)
        let contact = request.message.contact
        try InputValidation.id(contact.id, field: "contact.id")
        var properties = try Self.writeProperties(contact, field: "contact")
        try InputValidation.propertyNames(request.message.propertiesToClear, field: "properties_to_clear")
        for name in request.message.propertiesToClear { properties[name] = .some(nil) }
        guard !properties.isEmpty else { throw InputValidation.invalid("nothing to update: set a field, properties or properties_to_clear") }
        let written = try await mapped("contact \(contact.id)") {
            try await upstream.write(type: Self.type, .update(id: contact.id, properties: properties), priority: call.priority, deadline: call.deadline)
        }
        return ServerResponse(message: .with { $0.contact = Contact(written) })
    }

    public func upsertContact(request: ServerRequest<Hubspot_Gateway_V1_UpsertContactRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_UpsertContactResponse> {
        let call = self.context(request.metadata)
        let contact = request.message.contact
        try InputValidation.email(contact.email, field: "contact.email")
        let properties = try Self.writeProperties(contact, field: "contact")
        let written = try await mapped("contact \(contact.email)") {
            try await upstream.write(type: Self.type, .upsert(idProperty: "email", value: contact.email, properties: properties), priority: call.priority, deadline: call.deadline)
        }
        return ServerResponse(message: .with { $0.contact = Contact(written); $0.created = written.new ?? false })
    }

    public func archiveContact(request: ServerRequest<Hubspot_Gateway_V1_ArchiveContactRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_ArchiveContactResponse> {
        let call = self.context(request.metadata)
        let id = request.message.id
        try InputValidation.id(id, field: "id")
        try await mapped("contact \(id)") {
            try await upstream.call(priority: call.priority, deadline: call.deadline, invalidating: [(Self.type, id)]) { client, options in
                try await client.archiveObject(Self.type, id: id, options: options)
            }
        }
        return ServerResponse(message: .init())
    }

    public func batchGetContacts(request: ServerRequest<Hubspot_Gateway_V1_BatchGetContactsRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchGetContactsResponse> {
        let call = self.context(request.metadata)
        let message = request.message
        try InputValidation.batch(message.ids.count, field: "ids")
        for (index, id) in message.ids.enumerated() { try InputValidation.id(id, field: "ids[\(index)]") }
        let properties = try properties(message.properties)
        // Every id joins the coalescer: one HubSpot call for the misses, shared with other callers.
        let reads = try await mapped("the contacts") {
            try await withThrowingTaskGroup(of: (Int, ObjectCache.Read).self) { group in
                for (index, id) in message.ids.enumerated() {
                    group.addTask {
                        (index, try await upstream.readObject(type: Self.type, id: id, properties: properties, maxStaleness: message.readOptions.maxStalenessDuration,
                                                              priority: call.priority, deadline: call.deadline))
                    }
                }
                var reads = [ObjectCache.Read?](repeating: nil, count: message.ids.count)
                for try await (index, read) in group { reads[index] = read }
                return reads.map { $0! }
            }
        }
        return ServerResponse(message: .with { response in
            for (index, read) in reads.enumerated() {
                if let object = read.object { response.contacts.append(Contact(object)) } else { response.missingIds.append(message.ids[index]) }
            }
        })
    }

    public func batchCreateContacts(request: ServerRequest<Hubspot_Gateway_V1_BatchCreateContactsRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteContactsResponse> {
        let contacts = request.message.contacts
        try InputValidation.batch(contacts.count, field: "contacts")
        var writes: [ObjectWrite] = []
        for (index, contact) in contacts.enumerated() {
            guard contact.id.isEmpty else { throw InputValidation.invalid("contacts[\(index)].id must be empty on create") }
            writes.append(.create(properties: try Self.writeProperties(contact, field: "contacts[\(index)]").compactMapValues { $0 }))
        }
        return ServerResponse(message: try await batchWrite(writes, request.metadata))
    }

    public func batchUpdateContacts(request: ServerRequest<Hubspot_Gateway_V1_BatchUpdateContactsRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteContactsResponse> {
        let contacts = request.message.contacts
        try InputValidation.batch(contacts.count, field: "contacts")
        var writes: [ObjectWrite] = []
        for (index, contact) in contacts.enumerated() {
            try InputValidation.id(contact.id, field: "contacts[\(index)].id")
            writes.append(.update(id: contact.id, properties: try Self.writeProperties(contact, field: "contacts[\(index)]")))
        }
        return ServerResponse(message: try await batchWrite(writes, request.metadata))
    }

    public func batchUpsertContacts(request: ServerRequest<Hubspot_Gateway_V1_BatchUpsertContactsRequest>, context: ServerContext) async throws -> ServerResponse<Hubspot_Gateway_V1_BatchWriteContactsResponse> {
        let contacts = request.message.contacts
        try InputValidation.batch(contacts.count, field: "contacts")
        var writes: [ObjectWrite] = []
        for (index, contact) in contacts.enumerated() {
            try InputValidation.email(contact.email, field: "contacts[\(index)].email")
            writes.append(.upsert(idProperty: "email", value: contact.email, properties: try Self.writeProperties(contact, field: "contacts[\(index)]")))
        }
        return ServerResponse(message: try await batchWrite(writes, request.metadata))
    }

    /// Every input through the write coalescer (merged with other callers' writes); per-input results.
    private func batchWrite(_ writes: [ObjectWrite], _ metadata: Metadata) async throws -> Hubspot_Gateway_V1_BatchWriteContactsResponse {
        let call = self.context(metadata)
        let results = await BatchWrites.run(writes, type: Self.type, upstream: upstream, priority: call.priority, deadline: call.deadline)
        var response = Hubspot_Gateway_V1_BatchWriteContactsResponse()
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let object): response.contacts.append(Contact(object))
            case .failure(let error):
                response.contacts.append(Hubspot_Gateway_V1_Contact())
                response.errors.append(BatchWrites.error(index: index, error, subject: "contacts[\(index)]"))
            }
        }
        return response
    }

    /// The HubSpot properties a contact message sets (typed fields that are non-empty, plus
    /// `properties`). A property named twice must agree.
    static func writeProperties(_ contact: Hubspot_Gateway_V1_Contact, field: String) throws(RPCError) -> [String: String?] {
        var properties: [String: String?] = [:]
        try InputValidation.propertyNames(contact.properties.keys, field: "\(field).properties")
        for (name, value) in contact.properties { properties[name] = value }
        let typed = [("email", contact.email), ("firstname", contact.firstName), ("lastname", contact.lastName), ("lifecyclestage", contact.lifecycleStage)]
        for (name, value) in typed where !value.isEmpty {
            if let other = properties[name], other != value { throw InputValidation.invalid("\(field) sets \(name) twice with different values") }
            properties[name] = value
        }
        if !contact.email.isEmpty { try InputValidation.email(contact.email, field: "\(field).email") }
        return properties
    }
}

extension Hubspot_Gateway_V1_Contact {
    /// A HubSpot contact as the API's message: typed fields, the rest in `properties`.
    init(_ object: HubSpotObject) {
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
    init(_ object: HubSpotObject) {
        self.init()
        if let created = object.createdAt { createdAt = Google_Protobuf_Timestamp(date: created) }
        if let updated = object.updatedAt { updatedAt = Google_Protobuf_Timestamp(date: updated) }
    }
}
