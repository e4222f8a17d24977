import HubSpotAPI

/// One write the gateway merges into HubSpot's batch create, update or upsert.
public enum ObjectWrite: Sendable {
    case create(properties: [String: String], associations: [NewAssociation] = [])
    /// nil values clear properties.
    case update(id: String, properties: [String: String?])
    /// Creates or updates the record whose unique `idProperty` (e.g. email) is `value`.
    case upsert(idProperty: String, value: String, properties: [String: String?])

    /// The batch endpoint this write goes to.
    public var operation: BatchWriteRequest.Operation {
        switch self {
        case .create: .create
        case .update: .update
        case .upsert: .upsert
        }
    }

    /// Writes to the same record never share a batch (HubSpot refuses duplicate ids).
    var identity: String? {
        switch self {
        case .create: nil
        case .update(let id, _): "id:\(id)"
        case .upsert(let idProperty, let value, _): "\(idProperty):\(value.lowercased())"
        }
    }
}

/// One batch call: the inputs of one object type and operation.
public struct BatchWriteRequest: Sendable {
    public enum Operation: Hashable, Sendable {
        case create, update, upsert
    }

    public var type: String
    public var operation: Operation
    public var writes: [ObjectWrite]
    /// One per write, to have HubSpot report bad inputs one by one (207); nil: none sent.
    public var traceIds: [String]?

    /// Sends the request with `client`.
    public func send(with client: HubSpotClient, options: CallOptions) async throws -> BatchResult {
        switch operation {
        case .create:
            let inputs = writes.enumerated().map { index, write -> BatchCreateInput in
                guard case .create(let properties, let associations) = write else {
                    preconditionFailure("mixed operations in one batch")
                }
                return BatchCreateInput(
                    properties: properties,
                    associations: associations.isEmpty ? nil : associations.map(AssociationInput.init),
                    objectWriteTraceId: traceIds?[index])
            }
            return try await client.batchCreate(type, inputs: inputs, options: options)
        case .update, .upsert:
            let inputs = writes.enumerated().map { index, write -> BatchUpdateInput in
                switch write {
                case .update(let id, let properties):
                    BatchUpdateInput(id: id, properties: properties, objectWriteTraceId: traceIds?[index])
                case .upsert(let idProperty, let value, let properties):
                    BatchUpdateInput(
                        id: value, properties: properties, idProperty: idProperty, objectWriteTraceId: traceIds?[index])
                case .create: preconditionFailure("mixed operations in one batch")
                }
            }
            return operation == .update
                ? try await client.batchUpdate(type, inputs: inputs, options: options)
                : try await client.batchUpsert(type, inputs: inputs, options: options)
        }
    }
}

/// Merges concurrent creates, updates and upserts of one object type into HubSpot batch calls
/// (≤ `maxBatchSize` inputs), the way `BatchReadCoalescer` merges reads.
///
/// When HubSpot refuses a whole batch because of bad inputs (400, 404 or 409), the good inputs
/// still go through and only the bad ones get their error: inputs carry an `objectWriteTraceId`
/// so HubSpot can answer per input in one call (207); where it fails the batch anyway, the
/// batch is split in halves level by level, and a half whose sibling went through is known to
/// hold the bad input and is not sent again. When every quarter fails exactly like the whole
/// batch, the error is one every input shares, and all inputs get it without further calls.
public final class BatchWriteCoalescer: Sendable {
    /// Waits for the budget before a batch goes out (the rate limiter).
    public typealias Admit = @Sendable (_ deadline: ContinuousClock.Instant) async throws -> Void
    /// Sends one admitted batch.
    public typealias Call =
        @Sendable (_ request: BatchWriteRequest, _ deadline: ContinuousClock.Instant) async throws -> BatchResult

    private struct Group: Hashable, Sendable {
        var type: String
        var operation: BatchWriteRequest.Operation
    }

    private let coalescer: BatchCoalescer<Group, ObjectWrite, HubSpotObject>
    public var maxBatchSize: Int { coalescer.maxBatchSize }
    /// Writes waiting for their batch.
    var waitingCount: Int { coalescer.waitingCount }

    /// - Parameter useWriteTraceIds: send `objectWriteTraceId`s so HubSpot reports bad inputs
    ///   one by one; without them a bad input fails its batch and the batch is split.
    public init(
        maxBatchSize: Int = 100, useWriteTraceIds: Bool = true, earlyRefusal: BatchEarlyRefusal? = nil,
        admit: @escaping Admit, call: @escaping Call
    ) {
        let splitter = Splitter(admit: admit, call: call, useWriteTraceIds: useWriteTraceIds)
        coalescer = BatchCoalescer(
            maxBatchSize: maxBatchSize, merging: .separate, earlyRefusal: earlyRefusal, admit: admit
        ) {
            group, writes, deadline in
            await splitter.write(group.type, group.operation, writes, deadline: deadline, admitted: true)
        }
    }

    /// Writes one record through a batch call and answers HubSpot's copy of it.
    public func write(type: String, _ write: ObjectWrite, deadline: ContinuousClock.Instant) async throws
        -> HubSpotObject
    {
        try await coalescer.submit(
            write, key: Group(type: type, operation: write.operation), identity: write.identity, deadline: deadline)
    }
}

/// Sends a batch and, when HubSpot refuses it for bad inputs, finds them by splitting.
private struct Splitter: Sendable {
    let admit: BatchWriteCoalescer.Admit
    let call: BatchWriteCoalescer.Call
    let useWriteTraceIds: Bool

    typealias Answers = [Result<HubSpotObject, any Error>]

    /// A run of writes known to hold at least one bad input, and the error HubSpot gave it.
    private struct Failing {
        var range: Range<Int>
        var error: HubSpotError
    }

    /// How one call went.
    private enum Sent {
        case answered(Answers)
        /// HubSpot refused the whole batch because of its inputs.
        case refused(HubSpotError)
        /// Any other failure (budget, deadline, HubSpot down): it is every input's answer.
        case failed(any Error)
    }

    /// One result per write. The halves of a refused batch are tried level by level; a half
    /// next to a half that went through is known to fail and is split without being sent.
    func write(
        _ type: String, _ operation: BatchWriteRequest.Operation, _ writes: [ObjectWrite],
        deadline: ContinuousClock.Instant, admitted: Bool
    ) async -> Answers {
        var answers = [Result<HubSpotObject, any Error>?](repeating: nil, count: writes.count)
        func send(_ range: Range<Int>, admitted: Bool) async -> Sent {
            if !admitted {
                do { try await admit(deadline) } catch { return .failed(error) }
            }
            let batch = Array(writes[range])
            let traceIds = useWriteTraceIds ? batch.indices.map { "gw-\($0)" } : nil
            do {
                let result = try await call(
                    BatchWriteRequest(type: type, operation: operation, writes: batch, traceIds: traceIds), deadline)
                return .answered(Self.match(result, batch, traceIds: traceIds))
            } catch let error as HubSpotError where Self.blamesInputs(error) {
                return .refused(error)
            } catch {
                return .failed(error)
            }
        }
        func settle(_ range: Range<Int>, _ sent: Sent, into failing: inout [Failing]) {
            switch sent {
            case .answered(let results):
                for (offset, result) in results.enumerated() { answers[range.lowerBound + offset] = result }
            case .failed(let error): for index in range { answers[index] = .failure(error) }
            case .refused(let error) where range.count == 1: answers[range.lowerBound] = .failure(error)
            case .refused(let error): failing.append(Failing(range: range, error: error))
            }
        }

        var failing: [Failing] = []
        settle(0..<writes.count, await send(0..<writes.count, admitted: admitted), into: &failing)
        guard let root = failing.first?.error else { return answers.map { $0! } }
        while !failing.isEmpty {
            var next: [Failing] = []
            var sentThisLevel = 0
            var refusedAlike = 0
            for node in failing {
                let middle = node.range.lowerBound + node.range.count / 2
                let left = node.range.lowerBound..<middle
                let right = middle..<node.range.upperBound
                let leftSent = await send(left, admitted: false)
                sentThisLevel += 1
                if case .refused(let error) = leftSent, Self.alike(error, root) { refusedAlike += 1 }
                settle(left, leftSent, into: &next)
                if case .answered(let results) = leftSent,
                    results.allSatisfy({ if case .success = $0 { true } else { false } })
                {
                    // The bad input is on the right: known, not sent again.
                    if right.count == 1 {
                        answers[right.lowerBound] = .failure(node.error)
                    } else {
                        next.append(Failing(range: right, error: node.error))
                    }
                    continue
                }
                let rightSent = await send(right, admitted: false)
                sentThisLevel += 1
                if case .refused(let error) = rightSent, Self.alike(error, root) { refusedAlike += 1 }
                settle(right, rightSent, into: &next)
            }
            if sentThisLevel >= 4, refusedAlike == sentThisLevel {
                // Every quarter (or finer) failed exactly as the whole did: an error every input
                // shares (a property that does not exist, say). Splitting on would cost a call per input.
                for node in next { for index in node.range { answers[index] = .failure(node.error) } }
                break
            }
            failing = next
        }
        return answers.map { $0! }
    }

    static func alike(_ a: HubSpotError, _ b: HubSpotError) -> Bool {
        a.status == b.status && a.message == b.message
    }

    /// 400 (validation), 404 (an update of a missing record) and 409 (a duplicate) are about
    /// inputs; everything else (429, 5xx, auth) is about the call.
    static func blamesInputs(_ error: HubSpotError) -> Bool {
        error.status == 400 || error.status == 404 || error.status == 409
    }

    /// Pairs HubSpot's results and per-input errors with the writes.
    static func match(_ result: BatchResult, _ writes: [ObjectWrite], traceIds: [String]?) -> [Result<
        HubSpotObject, any Error
    >] {
        var answers = [Result<HubSpotObject, any Error>?](repeating: nil, count: writes.count)
        var unattributed: [HubSpotError] = []
        for item in result.errors {
            let error = HubSpotError(item: item, correlationId: result.correlationId)
            if let traced = item.context?["objectWriteTraceId"]?.first, let index = traceIds?.firstIndex(of: traced) {
                answers[index] = .failure(error)
            } else if let ids = item.context?["ids"], !ids.isEmpty {
                for (index, write) in writes.enumerated() {
                    if case .update(let id, _) = write, ids.contains(id) { answers[index] = .failure(error) }
                }
            } else {
                unattributed.append(error)
            }
        }
        var open = writes.indices.filter { answers[$0] == nil }
        for object in result.results {
            let index =
                open.first { Self.describes(object, writes[$0]) }
                ?? open.first { index in
                    if case .create = writes[index] { true } else { false }
                }
            guard let index else { continue }
            answers[index] = .success(object)
            open.removeAll { $0 == index }
        }
        return answers.map { answer in
            answer
                ?? .failure(
                    unattributed.first
                        ?? HubSpotError(
                            status: 500, message: "HubSpot's batch answer did not mention this input",
                            correlationId: result.correlationId))
        }
    }

    /// Whether a returned object is the one `write` wrote.
    static func describes(_ object: HubSpotObject, _ write: ObjectWrite) -> Bool {
        switch write {
        case .update(let id, _):
            return object.id == id
        case .upsert(let idProperty, let value, _):
            return object.properties[idProperty]??.lowercased() == value.lowercased()
        case .create(let properties, _):
            return properties.allSatisfy { name, value in
                guard let stored = object.properties[name] else { return true }
                return stored?.lowercased() == value.lowercased()
            }
        }
    }
}
