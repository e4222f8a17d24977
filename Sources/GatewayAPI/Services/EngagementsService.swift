import Foundation
import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf
import Time

/// `hubspot.gateway.v1.EngagementsService`: a record's timeline and notes and tasks logged on
/// records, on the domain's `Engagements`.
public struct EngagementsService: Hubspot_Gateway_V1_EngagementsService.ServiceProtocol {
    private let records: RecordOperations
    private var engagements: Engagements { records.crm.engagements }

    /// - Parameters:
    ///   - defaultTimeout: the deadline of calls that carry no `grpc-timeout`.
    ///   - idempotentWrites: where idempotency keys of creates are kept (nil: keys refused).
    public init(crm: CRM, defaultTimeout: Duration = .seconds(10), idempotentWrites: IdempotentWrites? = nil) {
        records = RecordOperations(
            crm: crm, defaultTimeout: defaultTimeout, idempotency: IdempotentCalls(writes: idempotentWrites))
    }

    public func timeline(request: ServerRequest<Hubspot_Gateway_V1_TimelineRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_TimelineResponse>
    {
        let message = request.message
        try InputValidation.objectType(message.objectType)
        try InputValidation.id(message.objectID, field: "object_id")
        try InputValidation.propertyNames(message.properties, field: "properties")
        let limit = try InputValidation.pageSize(message.page.pageSize)
        var types: [EngagementType] = []
        for (index, type) in message.types.enumerated() {
            guard let type = EngagementType(type) else {
                throw InputValidation.invalid(
                    field: "types[\(index)]", "types[\(index)] must be an engagement type (e.g. ENGAGEMENT_TYPE_NOTE)")
            }
            types.append(type)
        }
        let record = RecordRef(message.objectType, message.objectID)
        var position: TimelinePosition?
        if !message.page.cursor.isEmpty {
            guard let decoded = TimelinePosition(text: message.page.cursor) else {
                throw InputValidation.invalid(
                    field: "page.cursor", "page.cursor is not a cursor Timeline handed out; pass next_cursor unchanged")
            }
            position = decoded
        }
        let terms = records.terms(request.metadata)
        let page = try await records.mapped("the timeline of \(record)") {
            try await engagements.timeline(
                of: record, types: types, limit: limit, after: position, properties: message.properties,
                maxStaleness: message.readOptions.maxStalenessDuration, terms)
        }
        return ServerResponse(
            message: .with {
                $0.engagements = page.entries.map(Hubspot_Gateway_V1_Engagement.init)
                $0.pageInfo = .with {
                    $0.nextCursor = page.next?.text ?? ""
                    $0.total = Int64(page.total)
                }
            })
    }

    public func createNote(request: ServerRequest<Hubspot_Gateway_V1_CreateNoteRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_CreateNoteResponse>
    {
        try await records.once("CreateNote", request, keyField: \.idempotencyKey) {
            let message = request.message
            guard !message.body.isEmpty else {
                throw InputValidation.invalid(field: "body", "body is required: the note's text")
            }
            var properties = try otherProperties(message.properties, message.ownerID)
            properties["hs_note_body"] = message.body
            let entry = try await log(
                .note, at: message.hasTimestamp ? message.timestamp : nil, properties, message.associations,
                request.metadata)
            return ServerResponse(message: .with { $0.engagement = .init(entry) })
        }
    }

    public func createTask(request: ServerRequest<Hubspot_Gateway_V1_CreateTaskRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_CreateTaskResponse>
    {
        try await records.once("CreateTask", request, keyField: \.idempotencyKey) {
            let message = request.message
            guard !message.subject.isEmpty else {
                throw InputValidation.invalid(field: "subject", "subject is required: what the task is")
            }
            var properties = try otherProperties(message.properties, message.ownerID)
            properties["hs_task_subject"] = message.subject
            if !message.body.isEmpty { properties["hs_task_body"] = message.body }
            guard let status = message.status.hubSpotName, let priority = message.priority.hubSpotName,
                let taskType = message.taskType.hubSpotName
            else {
                throw InputValidation.invalid(
                    "status, priority and task_type must be values this gateway knows (TASK_STATUS_…, TASK_PRIORITY_…, TASK_TYPE_…)"
                )
            }
            properties["hs_task_status"] = status
            properties["hs_task_priority"] = priority
            properties["hs_task_type"] = taskType
            let entry = try await log(
                .task, at: message.hasDue ? message.due : nil, properties, message.associations, request.metadata)
            return ServerResponse(message: .with { $0.engagement = .init(entry) })
        }
    }

    /// The caller's other properties and the owner, checked.
    private func otherProperties(_ properties: [String: String], _ ownerId: String) throws(RPCError) -> [String: String]
    {
        try InputValidation.propertyNames(Array(properties.keys), field: "properties")
        var properties = properties
        if !ownerId.isEmpty {
            try InputValidation.id(ownerId, field: "owner_id")
            properties["hubspot_owner_id"] = ownerId
        }
        return properties
    }

    private func log(
        _ type: EngagementType, at timestamp: Google_Protobuf_Timestamp?, _ properties: [String: String],
        _ targets: [Hubspot_Gateway_V1_AssociationTarget], _ metadata: Metadata
    ) async throws -> TimelineEntry {
        var associations: [NewAssociation] = []
        for (index, target) in targets.enumerated() {
            associations.append(
                try AssociationTranslation.input(target, field: "associations[\(index)]", from: type.rawValue))
        }
        let terms = records.terms(metadata)
        return try await records.mapped("the new \(type)") {
            try await engagements.log(
                type, at: timestamp.map { Date(epochMilliseconds: $0.milliseconds) } ?? Date(), properties: properties,
                on: associations, terms)
        }
    }
}

extension EngagementType {
    init?(_ type: Hubspot_Gateway_V1_EngagementType) {
        switch type {
        case .note: self = .note
        case .call: self = .call
        case .email: self = .email
        case .meeting: self = .meeting
        case .task: self = .task
        case .unspecified, .UNRECOGNIZED: return nil
        }
    }

    var proto: Hubspot_Gateway_V1_EngagementType {
        switch self {
        case .note: .note
        case .call: .call
        case .email: .email
        case .meeting: .meeting
        case .task: .task
        }
    }
}

extension Hubspot_Gateway_V1_Engagement {
    init(_ entry: TimelineEntry) {
        self.init()
        type = entry.type.proto
        id = entry.record.id
        timestamp = Google_Protobuf_Timestamp(hubSpotTime: entry.timestamp)
        ownerID = entry.record["hubspot_owner_id"] ?? ""
        for (name, value) in entry.record.properties { if let value { properties[name] = value } }
        times = .init(entry.record)
    }
}

extension Hubspot_Gateway_V1_TaskStatus {
    var hubSpotName: String? {
        switch self {
        case .inProgress: "IN_PROGRESS"
        case .waiting: "WAITING"
        case .completed: "COMPLETED"
        case .deferred: "DEFERRED"
        case .notStarted, .unspecified: "NOT_STARTED"
        case .UNRECOGNIZED: nil
        }
    }
}

extension Hubspot_Gateway_V1_TaskPriority {
    var hubSpotName: String? {
        switch self {
        case .low: "LOW"
        case .medium: "MEDIUM"
        case .high: "HIGH"
        case .unspecified: "NONE"
        case .UNRECOGNIZED: nil
        }
    }
}

extension Hubspot_Gateway_V1_TaskType {
    var hubSpotName: String? {
        switch self {
        case .call: "CALL"
        case .email: "EMAIL"
        case .todo, .unspecified: "TODO"
        case .UNRECOGNIZED: nil
        }
    }
}
