import Foundation
import GatewayAPI
import GatewayProto
import GRPCCore
import SwiftProtobuf
import Synchronization
import Testing
import TestSupport

/// Creates with an idempotency key, against hubspot-sim and a real redis-server.
@Suite struct IdempotencyTests {
    static func create(_ rig: GatewayRig, email: String, key: String, metadataKey: String? = nil) async throws
        -> Hubspot_Gateway_V1_Contact
    {
        var metadata = GatewayRig.metadata()
        if let metadataKey { metadata.addString(metadataKey, forKey: "idempotency-key") }
        return try await rig.client.createContact(
            .with {
                $0.contact.email = email
                $0.idempotencyKey = key
            }, metadata: metadata
        ).contact
    }

    /// How many contacts the simulator holds with `email`.
    static func stored(_ rig: GatewayRig, email: String) async throws -> Int {
        try await rig.client.searchContacts(
            .with {
                $0.query.filterGroups = [
                    .with {
                        $0.filters = [
                            .with {
                                $0.propertyName = "email"
                                $0.operator = .eq
                                $0.value = email
                            }
                        ]
                    }
                ]
            }, metadata: GatewayRig.metadata()
        ).contacts.count
    }

    @Test func aCreateRetriedConcurrentlyWithItsKeyIsWrittenOnceAndEveryRetryGetsItsAnswer() async throws {
        try await GatewayRig.with(contacts: 1) { rig in
            let key = "order-4711-\(UUID().uuidString)"
            let ids = AnsweredIds()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        let contact = try await Self.create(rig, email: "once@example.com", key: key)
                        ids.add(contact.id)
                    }
                }
                try await group.waitForAll()
            }
            let answered = ids.all
            #expect(answered.count == 5 && Set(answered).count == 1, "\(answered)")
            // Later, too: the stored answer, no HubSpot call.
            let before = try await rig.answeredOK("objects.batch.create")
            #expect(try await Self.create(rig, email: "once@example.com", key: key).id == answered[0])
            let after = try await rig.answeredOK("objects.batch.create")
            #expect(after == before)
            let count = try await Self.stored(rig, email: "once@example.com")
            #expect(count == 1)
        }
    }

    @Test func theSameKeyWithAnotherRequestIsAFailedPreconditionAndKeysMayComeAsMetadata() async throws {
        try await GatewayRig.with(contacts: 1) { rig in
            let key = "k-\(UUID().uuidString)"
            let first = try await Self.create(rig, email: "first@example.com", key: key)
            let conflict = await rpcError { _ = try await Self.create(rig, email: "second@example.com", key: key) }
            #expect(conflict?.code == .failedPrecondition && conflict?.message.contains(key) == true)
            // The same key in metadata is the same key.
            #expect(try await Self.create(rig, email: "first@example.com", key: "", metadataKey: key).id == first.id)
            let differ = await rpcError {
                _ = try await Self.create(rig, email: "first@example.com", key: key, metadataKey: "other")
            }
            #expect(differ?.code == .invalidArgument)
            let spaces = await rpcError { _ = try await Self.create(rig, email: "x@example.com", key: "has space") }
            #expect(spaces?.code == .invalidArgument)
        }
    }

    @Test func aFirstAttemptWhoseOutcomeIsUnknownMakesItsRetryAbortedNotADuplicate() async throws {
        try await GatewayRig.with(contacts: 1) { rig in
            // HubSpot takes 4 s to create; the caller gives up after 1.5 s (time enough for a
            // budget slot), while the request is at HubSpot: nobody can know whether it was written.
            try await rig.faults(#"{"rules": [{"endpoint": "objects.batch.create", "latency": "4000"}]}"#)
            let key = "slow-\(UUID().uuidString)"
            var metadata = GatewayRig.metadata()
            metadata.addString("1500m", forKey: "grpc-timeout")
            let first = await rpcError {
                _ = try await rig.client.createContact(
                    .with {
                        $0.contact.email = "slow@example.com"
                        $0.idempotencyKey = key
                    }, metadata: metadata)
            }
            #expect(first?.code == .unknown, "the gateway's answer to a write of unknown outcome")
            try await rig.faults(#"{"rules": []}"#)
            let retry = await rpcError { _ = try await Self.create(rig, email: "slow@example.com", key: key) }
            #expect(retry?.code == .aborted, "\(String(describing: retry))")
            #expect(retry?.message.contains("may or may not") == true)
            try await eventually("the slow create landed at the simulator") {
                try await Self.stored(rig, email: "slow@example.com") == 1
            }
            let count = try await Self.stored(rig, email: "slow@example.com")
            #expect(count == 1, "never a duplicate")
        }
    }
}

/// Ids answered to concurrent calls.
final class AnsweredIds: Sendable {
    private let ids = Mutex<[String]>([])
    func add(_ id: String) { ids.withLock { $0.append(id) } }
    var all: [String] { ids.withLock { $0 } }
}
