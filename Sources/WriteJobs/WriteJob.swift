import Foundation
import GatewayCore

/// One record of a write job, as stored until a worker writes it.
public struct JobRecord: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable {
        /// A new record, matched by its unique `idProperty` value: written as an upsert, so a
        /// batch retried after a crash finds the record it made instead of making a second.
        case create
        case update
        case upsert
    }

    public struct Association: Codable, Sendable, Equatable {
        public var type: String
        public var id: String
        /// (category, type id) pairs; empty: HubSpot's default kind for the pair.
        public var kinds: [Kind]

        public struct Kind: Codable, Sendable, Equatable {
            public var category: String
            public var typeId: Int

            public init(category: String, typeId: Int) {
                self.category = category
                self.typeId = typeId
            }
        }

        public init(type: String, id: String, kinds: [Kind]) {
            self.type = type
            self.id = id
            self.kinds = kinds
        }
    }

    public var objectType: String
    public var operation: Operation
    public var id: String
    public var idProperty: String
    public var properties: [String: String]
    public var associations: [Association]
    public var recordKey: String

    public init(
        objectType: String, operation: Operation, id: String = "", idProperty: String = "",
        properties: [String: String], associations: [Association] = [], recordKey: String = ""
    ) {
        self.objectType = objectType
        self.operation = operation
        self.id = id
        self.idProperty = idProperty
        self.properties = properties
        self.associations = associations
        self.recordKey = recordKey
    }

    /// Why the record cannot be written as given (checked at submission), or nil.
    public var problem: String? {
        if objectType.isEmpty { return "object_type is required" }
        if properties.isEmpty && associations.isEmpty { return "properties is empty: nothing to write" }
        switch operation {
        case .update:
            guard !id.isEmpty, id.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                return "an update needs the record's HubSpot id (digits)"
            }
        case .create, .upsert:
            guard !idProperty.isEmpty else {
                return
                    "\(operation.rawValue)s need id_property, a unique property (e.g. email) whose value is in properties: it is what makes a retried write find the record instead of making a second"
            }
            guard let value = properties[idProperty], !value.isEmpty else {
                return "properties must hold the id_property \(idProperty)'s value"
            }
        }
        return nil
    }

    /// The write the door makes of it: creates and upserts are upserts by the unique property.
    var write: ObjectWrite {
        switch operation {
        case .update: .update(id: id, properties: properties.mapValues { $0 })
        case .create, .upsert:
            .upsert(
                idProperty: idProperty, value: properties[idProperty] ?? "", properties: properties.mapValues { $0 })
        }
    }

    /// Records a HubSpot import can write in one file: creates and upserts of one type, by one
    /// unique property, without associations.
    static func importable(_ records: [JobRecord]) -> Bool {
        guard let first = records.first, first.operation != .update else { return false }
        return records.allSatisfy {
            $0.operation != .update && $0.associations.isEmpty && $0.idProperty == first.idProperty
                && ObjectTypeAliases.canonical($0.objectType) == ObjectTypeAliases.canonical(first.objectType)
        }
    }

    /// Records of one batch share these.
    var batchKey: String { "\(ObjectTypeAliases.canonical(objectType))/\(operation == .update ? "update" : "upsert")" }
}

/// One record's outcome.
public struct JobRecordResult: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        case created, updated, failed, cancelled
        /// Imported: created or updated, HubSpot does not say which; no id.
        case written
    }

    public var position: Int
    public var recordKey: String
    public var outcome: Outcome
    public var id: String
    /// A `GatewayErrorReason` name, for failures.
    public var errorReason: String
    public var errorMessage: String

    public init(
        position: Int, recordKey: String, outcome: Outcome, id: String = "", errorReason: String = "",
        errorMessage: String = ""
    ) {
        self.position = position
        self.recordKey = recordKey
        self.outcome = outcome
        self.id = id
        self.errorReason = errorReason
        self.errorMessage = errorMessage
    }
}

/// A job's state and counts.
public struct WriteJobStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        case queued, running, done, cancelled
    }

    public var id: String
    public var service: String
    public var state: State
    public var records: Int
    /// Records in a batch a worker took (written or not yet).
    public var started: Int
    public var done: Int
    public var failed: Int
    public var hubSpotCalls: Int
    public var createdAt: Date
    /// When the first batch was taken (for the rate).
    public var firstStartedAt: Date?

    public var queued: Int { max(0, records - started) }
    public var inFlight: Int { max(0, started - done - failed) }
    public var isFinished: Bool { state == .done || state == .cancelled }

    /// The rest at the rate written so far; nil before anything was written.
    public func estimatedTimeLeft(now: Date = Date()) -> Duration? {
        guard let first = firstStartedAt, done + failed > 0, !isFinished else { return nil }
        let perSecond = Double(done + failed) / max(0.001, now.timeIntervalSince(first))
        return .seconds(Double(records - done - failed) / perSecond)
    }
}
