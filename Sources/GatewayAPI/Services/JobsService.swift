import Foundation
import GatewayCore
import GatewayProto
import GRPCCore
import SwiftProtobuf
import WriteJobs

/// `hubspot.gateway.v1.JobsService`: durable write jobs (`WriteJobs`), scoped to the calling
/// service — another service's job is NOT_FOUND, as if it did not exist.
public struct JobsService: Hubspot_Gateway_V1_JobsService.ServiceProtocol {
    let store: WriteJobStore?
    /// How often `WatchJob` looks at the job.
    let watchInterval: Duration

    /// - Parameter store: nil when the gateway runs without Redis (jobs need it).
    public init(store: WriteJobStore?, watchInterval: Duration = .milliseconds(500)) {
        self.store = store
        self.watchInterval = watchInterval
    }

    private func requireStore() throws -> WriteJobStore {
        guard let store else {
            throw GatewayErrors.error(
                .featureNotConfigured,
                "write jobs need the gateway's Redis; this gateway runs without one (--redis-url)")
        }
        return store
    }

    private func caller() throws -> Caller {
        guard let caller = Caller.current else {
            throw GatewayErrors.error(.callerNotAuthenticated, "write jobs belong to a calling service: send its key")
        }
        return caller
    }

    public func submitWrites(
        request: StreamingServerRequest<Hubspot_Gateway_V1_JobInput>, context: ServerContext
    ) async throws -> ServerResponse<Hubspot_Gateway_V1_Job> {
        let store = try requireStore()
        let caller = try caller()
        var records: [JobRecord] = []
        for try await input in request.messages {
            guard records.count < store.configuration.maxRecords else {
                throw GatewayErrors.error(
                    .jobTooLarge,
                    "a job holds at most \(store.configuration.maxRecords) records; split it into several jobs")
            }
            records.append(try Self.record(input, position: records.count))
        }
        return ServerResponse(message: .init(try await submit(records, caller, store)))
    }

    public func submitWrite(request: ServerRequest<Hubspot_Gateway_V1_SubmitWriteRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_Job>
    {
        let store = try requireStore()
        let record = try Self.record(request.message.input, position: 0)
        return ServerResponse(message: .init(try await submit([record], try caller(), store)))
    }

    private func submit(_ records: [JobRecord], _ caller: Caller, _ store: WriteJobStore) async throws
        -> WriteJobStatus
    {
        do {
            return try await store.submit(records, caller: caller)
        } catch let refusal as WriteJobStore.Refusal {
            if let position = refusal.position {
                throw GatewayErrors.error(.invalidRequest, refusal.message, field: "records[\(position)]")
            }
            throw GatewayErrors.error(.jobTooLarge, refusal.message)
        } catch  where GatewayFailure.isStateFull(error) {
            throw GatewayErrors.error(
                .gatewayStateFull,
                "the gateway's state Redis is out of memory (maxmemory reached): the job was not accepted; submit it again later (its operators must raise maxmemory or shorten job retention)",
                retryAfter: GatewayFailure.stateFullRetryDelay)
        } catch {
            throw GatewayErrors.error(
                .gatewayStateUnavailable,
                "the job could not be stored in Redis (\(error)); nothing was accepted, submit it again",
                retryAfter: GatewayFailure.unavailableRetryDelay)
        }
    }

    /// The caller's job, or NOT_FOUND.
    private func job(_ id: String) async throws -> WriteJobStatus {
        let store = try requireStore()
        let caller = try caller()
        let status: WriteJobStatus?
        do { status = try await store.status(id) } catch {
            throw GatewayErrors.error(
                .gatewayStateUnavailable, "the job cannot be read from Redis now (\(error))",
                retryAfter: GatewayFailure.unavailableRetryDelay)
        }
        guard let status, status.service == caller.service else {
            throw GatewayErrors.error(.jobNotFound, "service `\(caller.service)` has no job \(id.prefix(40))")
        }
        return status
    }

    public func getJob(request: ServerRequest<Hubspot_Gateway_V1_GetJobRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_Job>
    {
        ServerResponse(message: .init(try await job(request.message.jobID)))
    }

    public func cancelJob(request: ServerRequest<Hubspot_Gateway_V1_CancelJobRequest>, context: ServerContext)
        async throws -> ServerResponse<Hubspot_Gateway_V1_Job>
    {
        let id = request.message.jobID
        _ = try await job(id)
        try await requireStore().cancel(id)
        return ServerResponse(message: .init(try await job(id)))
    }

    public func watchJob(request: ServerRequest<Hubspot_Gateway_V1_WatchJobRequest>, context: ServerContext)
        async throws -> StreamingServerResponse<Hubspot_Gateway_V1_Job>
    {
        let id = request.message.jobID
        let first = try await job(id)
        let interval = watchInterval
        // The stream runs after this handler returns: as the same caller.
        let caller = Caller.current
        return StreamingServerResponse { writer in
            try await Caller.$current.withValue(caller) {
                var last = first
                try await writer.write(.init(last))
                while !last.isFinished {
                    try await Task.sleep(for: interval)
                    let now = try await job(id)
                    if now != last { try await writer.write(.init(now)) }
                    last = now
                }
            }
            return [:]
        }
    }

    public func jobResults(request: ServerRequest<Hubspot_Gateway_V1_JobResultsRequest>, context: ServerContext)
        async throws -> StreamingServerResponse<Hubspot_Gateway_V1_RecordResult>
    {
        let id = request.message.jobID
        let status = try await job(id)
        guard request.message.fromPosition >= 0 else {
            throw InputValidation.invalid(field: "from_position", "from_position must be 0 or more")
        }
        let store = try requireStore()
        return StreamingServerResponse { writer in
            var position = Int(request.message.fromPosition)
            while position < status.records {
                let page = try await store.results(id, from: position, limit: min(500, status.records - position))
                for result in page { try await writer.write(.init(result)) }
                position += page.count
                if page.count < 500 { break }
            }
            return [:]
        }
    }

    /// A proto input as the job's record; INVALID_ARGUMENT naming it when it cannot be one.
    static func record(_ input: Hubspot_Gateway_V1_JobInput, position: Int) throws -> JobRecord {
        let field = "records[\(position)]"
        try InputValidation.objectType(input.objectType, field: "\(field).object_type")
        let operation: JobRecord.Operation
        switch input.operation {
        case .create: operation = .create
        case .update: operation = .update
        case .upsert: operation = .upsert
        case .unspecified, .UNRECOGNIZED:
            throw InputValidation.invalid(
                field: "\(field).operation", "\(field).operation must be CREATE, UPDATE or UPSERT")
        }
        try InputValidation.propertyNames(input.properties.keys, field: "\(field).properties")
        if !input.idProperty.isEmpty {
            try InputValidation.propertyName(input.idProperty, field: "\(field).id_property")
        }
        var associations: [JobRecord.Association] = []
        for (index, target) in input.associations.enumerated() {
            let association = try AssociationTranslation.input(
                target, field: "\(field).associations[\(index)]", from: input.objectType)
            associations.append(
                JobRecord.Association(
                    type: association.to.type, id: association.to.id,
                    kinds: association.kinds.map {
                        JobRecord.Association.Kind(category: $0.category.hubSpotName, typeId: $0.typeId)
                    }))
        }
        let record = JobRecord(
            objectType: input.objectType, operation: operation, id: input.id, idProperty: input.idProperty,
            properties: input.properties, associations: associations, recordKey: input.recordKey)
        if let problem = record.problem { throw InputValidation.invalid(field: field, "\(field): \(problem)") }
        return record
    }
}

extension Hubspot_Gateway_V1_Job {
    init(_ status: WriteJobStatus) {
        self.init()
        id = status.id
        state =
            switch status.state {
            case .queued: .queued
            case .running: .running
            case .done: .done
            case .cancelled: .cancelled
            }
        records = Int64(status.records)
        queued = Int64(status.queued)
        inFlight = Int64(status.inFlight)
        done = Int64(status.done)
        failed = Int64(status.failed)
        hubspotCalls = Int64(status.hubSpotCalls)
        createdAt = Google_Protobuf_Timestamp(date: status.createdAt)
        if let left = status.estimatedTimeLeft() { estimatedTimeLeft = Google_Protobuf_Duration(left) }
    }
}

extension Hubspot_Gateway_V1_RecordResult {
    init(_ result: JobRecordResult) {
        self.init()
        position = Int64(result.position)
        recordKey = result.recordKey
        outcome =
            switch result.outcome {
            case .created: .created
            case .updated: .updated
            case .failed: .failed
            case .cancelled: .cancelled
            case .written: .written
            }
        id = result.id
        errorReason = result.errorReason
        errorMessage = result.errorMessage
    }
}
