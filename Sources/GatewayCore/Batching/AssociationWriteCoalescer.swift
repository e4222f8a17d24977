import HubSpotAPI

/// One association to make or remove between two records of a type pair.
public struct AssociationWrite: Sendable {
    public var fromId: String
    public var toId: String
    /// Labelled types to make; empty with `.associate` is invalid (use `.associateDefault`).
    public var types: [AssociationSpec]

    public init(fromId: String, toId: String, types: [AssociationSpec] = []) {
        self.fromId = fromId
        self.toId = toId
        self.types = types
    }

    /// The same write from two callers is one input.
    var identity: String {
        "\(fromId)>\(toId)|"
            + types.map { "\($0.associationCategory.rawValue):\($0.associationTypeId)" }.joined(separator: ",")
    }
}

/// Merges concurrent association writes of one type pair into HubSpot's v4 batch calls (see
/// `BatchCoalescer`): fifty callers each associating a contact with a deal cost a call or two,
/// not fifty. When HubSpot refuses a batch for a bad input (an id it does not have), the batch
/// is sent again in halves, each an own call, until only the bad inputs fail — safe because
/// associating and removing are idempotent.
public final class AssociationWriteCoalescer: Sendable {
    public enum Operation: Hashable, Sendable {
        /// HubSpot's default (unlabelled) type.
        case associateDefault
        /// The write's labelled types.
        case associate
        /// Every type between the two records.
        case remove
    }

    struct Group: Hashable, Sendable {
        var from: String
        var to: String
        var operation: Operation
    }

    /// Sends one batch; `admitted`: the call already holds a budget slot (the first of a batch).
    public typealias Send =
        @Sendable (
            _ from: String, _ to: String, _ operation: Operation, _ writes: [AssociationWrite],
            _ deadline: ContinuousClock.Instant, _ admitted: Bool
        ) async throws -> Void

    private let coalescer: BatchCoalescer<Group, AssociationWrite, Void>

    /// Waits for the budget before a batch goes out (the rate limiter).
    public typealias Admit = @Sendable (_ deadline: ContinuousClock.Instant) async throws -> Void

    public init(
        maxBatchSize: Int = 100, earlyRefusal: BatchEarlyRefusal? = nil, admit: @escaping Admit,
        send: @escaping Send
    ) {
        coalescer = BatchCoalescer(
            maxBatchSize: maxBatchSize, merging: .share, earlyRefusal: earlyRefusal, admit: admit
        ) {
            group, writes, deadline in
            await Self.sendSplitting(group, writes, deadline, admitted: true, send)
        }
    }

    /// Writes waiting for their batch.
    var waitingCount: Int { coalescer.waitingCount }

    /// Makes or removes one association, in a batch with the other callers' of the type pair.
    public func write(
        _ operation: Operation, from: String, to: String, _ write: AssociationWrite, deadline: ContinuousClock.Instant
    ) async throws {
        try await coalescer.submit(
            write, key: Group(from: from, to: to, operation: operation), identity: write.identity, deadline: deadline)
    }

    static func sendSplitting(
        _ group: Group, _ writes: [AssociationWrite], _ deadline: ContinuousClock.Instant, admitted: Bool,
        _ send: Send
    ) async -> [Result<Void, any Error>] {
        do {
            try await send(group.from, group.to, group.operation, writes, deadline, admitted)
            return writes.map { _ in .success(()) }
        } catch {
            guard writes.count > 1, let refusal = error as? HubSpotError, [400, 404, 409].contains(refusal.status)
            else { return writes.map { _ in .failure(error) } }
            let half = writes.count / 2
            return await sendSplitting(group, Array(writes[..<half]), deadline, admitted: false, send)
                + sendSplitting(group, Array(writes[half...]), deadline, admitted: false, send)
        }
    }
}
