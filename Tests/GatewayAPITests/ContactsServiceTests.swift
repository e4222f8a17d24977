import Foundation
import GatewayAPI
import GatewayCore
import GatewayProto
import GRPCCore
import GRPCInProcessTransport
import HubSpotAPI
import HubSpotSimulator
import Logging
import RedisClient
import SwiftProtobuf
import MetricsTestKit
import Testing
import TestSupport

@Suite struct ContactsServiceTests {
    @Test func aContactIsReadFromHubSpotOnceThenFromTheCacheAndSaysSo() async throws {
        try await GatewayRig.with { rig in
            let request = Hubspot_Gateway_V1_GetContactRequest.with {
                $0.id = rig.ids[0]; $0.properties = ["phone"]
            }
            let first = try await rig.client.getContact(request, metadata: GatewayRig.metadata())
            #expect(
                first.contact.id == rig.ids[0] && !first.contact.email.isEmpty
                    && first.contact.properties["phone"] != nil)
            #expect(first.freshness.source == .hubspot)
            let second = try await rig.client.getContact(
                request, metadata: GatewayRig.metadata(key: GatewayRig.readerKey))
            #expect(second.freshness.source == .cache && second.contact == first.contact)
            let fresh = try await rig.client.getContact(
                .with {
                    $0.id = rig.ids[0]; $0.readOptions.maxStaleness = .init(seconds: 0)
                }, metadata: GatewayRig.metadata())
            #expect(fresh.freshness.source == .hubspot, "zero staleness bypasses the cache")
            let byEmail = try await rig.client.getContact(
                .with { $0.email = first.contact.email }, metadata: GatewayRig.metadata())
            #expect(byEmail.contact.id == rig.ids[0])
            var sources = [byEmail.freshness.source]
            for _ in 0..<2 {
                let again = try await rig.client.getContact(
                    .with { $0.email = first.contact.email.uppercased() }, metadata: GatewayRig.metadata())
                #expect(again.contact.id == rig.ids[0])
                sources.append(again.freshness.source)
            }
            #expect(sources.last == .cache, "reads by email are cached like reads by id: \(sources)")
            let noSuchEmail = await rpcError {
                _ = try await rig.client.getContact(
                    .with { $0.email = "nobody@example.com" }, metadata: GatewayRig.metadata())
            }
            #expect(noSuchEmail?.code == .notFound)
            let missing = await rpcError {
                _ = try await rig.client.getContact(.with { $0.id = "999999999" }, metadata: GatewayRig.metadata())
            }
            #expect(missing?.code == .notFound)
        }
    }

    @Test func callsWithoutAKnownKeyOrTheRightScopeAreRefused() async throws {
        try await GatewayRig.with { rig in
            let get = Hubspot_Gateway_V1_GetContactRequest.with { $0.id = rig.ids[0] }
            #expect(
                await rpcError { _ = try await rig.client.getContact(get, metadata: GatewayRig.metadata(key: nil)) }?
                    .code == .unauthenticated)
            #expect(
                await rpcError {
                    _ = try await rig.client.getContact(get, metadata: GatewayRig.metadata(key: "not-a-key"))
                }?.code == .unauthenticated)
            let denied = await rpcError {
                _ = try await rig.client.createContact(
                    .with { $0.contact.email = "new@example.com" },
                    metadata: GatewayRig.metadata(key: GatewayRig.readerKey))
            }
            #expect(denied?.code == .permissionDenied && denied?.message.contains("crm.write") == true)
        }
    }

    @Test func badInputIsRefusedWithTheFieldNamed() async throws {
        try await GatewayRig.with { rig in
            let email = await rpcError {
                _ = try await rig.client.createContact(
                    .with { $0.contact.email = "not an email" }, metadata: GatewayRig.metadata())
            }
            #expect(email?.code == .invalidArgument && email?.message.contains("contact.email") == true)
            let id = await rpcError {
                _ = try await rig.client.getContact(.with { $0.id = "12a" }, metadata: GatewayRig.metadata())
            }
            #expect(id?.code == .invalidArgument)
            let batch = await rpcError {
                _ = try await rig.client.batchGetContacts(
                    .with { $0.ids = (0..<101).map { String(1000 + $0) } }, metadata: GatewayRig.metadata())
            }
            #expect(batch?.code == .invalidArgument && batch?.message.contains("at most 100") == true)
            let search = await rpcError {
                _ = try await rig.client.searchContacts(
                    .with {
                        $0.query.filterGroups = (0..<6).map { _ in
                            .with {
                                $0.filters = [
                                    .with {
                                        $0.propertyName = "email"; $0.operator = .hasProperty
                                    }
                                ]
                            }
                        }
                    },
                    metadata: GatewayRig.metadata())
            }
            #expect(search?.code == .invalidArgument && search?.message.contains("at most 5") == true)
            // HubSpot's own validation comes back as INVALID_ARGUMENT with the property named.
            let stage = await rpcError {
                _ = try await rig.client.createContact(
                    .with {
                        $0.contact.email = "stage@example.com"; $0.contact.lifecycleStage = "no-such-stage"
                    }, metadata: GatewayRig.metadata())
            }
            #expect(stage?.code == .invalidArgument)
            #expect(stage?.metadata.firstString(GatewayErrors.Key.property) == "lifecyclestage")
        }
    }

    @Test func writesAreVisibleAtOnceAndDuplicatesNameTheExistingRecord() async throws {
        try await GatewayRig.with { rig in
            let created = try await rig.client.createContact(
                .with {
                    $0.contact.email = "ada@example.com"; $0.contact.firstName = "Ada"
                }, metadata: GatewayRig.metadata())
            let id = created.contact.id
            #expect(!id.isEmpty && created.contact.firstName == "Ada")
            _ = try await rig.client.getContact(.with { $0.id = id }, metadata: GatewayRig.metadata())  // now cached
            _ = try await rig.client.updateContact(
                .with {
                    $0.contact.id = id; $0.contact.lastName = "Lovelace"
                }, metadata: GatewayRig.metadata())
            let read = try await rig.client.getContact(.with { $0.id = id }, metadata: GatewayRig.metadata())
            #expect(
                read.contact.lastName == "Lovelace" && read.freshness.source == .hubspot,
                "the write dropped the cached copy")
            let duplicate = await rpcError {
                _ = try await rig.client.createContact(
                    .with { $0.contact.email = "ada@example.com" }, metadata: GatewayRig.metadata())
            }
            #expect(duplicate?.code == .alreadyExists)
            #expect(duplicate?.metadata.firstString(GatewayErrors.Key.existingId) == id)
            let upserted = try await rig.client.upsertContact(
                .with {
                    $0.contact.email = "ADA@example.com"; $0.contact.firstName = "Augusta"
                }, metadata: GatewayRig.metadata())
            #expect(upserted.contact.id == id && !upserted.created)
            let fresh = try await rig.client.upsertContact(
                .with { $0.contact.email = "grace@example.com" }, metadata: GatewayRig.metadata())
            #expect(fresh.created && fresh.contact.id != id)
        }
    }

    @Test func aBatchWriteAnswersPerInput() async throws {
        try await GatewayRig.with { rig in
            let response = try await rig.client.batchCreateContacts(
                .with {
                    $0.contacts = [
                        .with { $0.email = "one@example.com" },
                        .with {
                            $0.email = "two@example.com"; $0.lifecycleStage = "no-such-stage"
                        },
                        .with { $0.email = "three@example.com" },
                    ]
                }, metadata: GatewayRig.metadata())
            #expect(response.contacts.count == 3)
            #expect(
                response.contacts[0].email == "one@example.com" && response.contacts[2].email == "three@example.com")
            #expect(response.errors.map(\.index) == [1])
            #expect(response.errors.first?.code == Int32(RPCError.Code.invalidArgument.rawValue))
            let batch = try await rig.client.batchGetContacts(
                .with { $0.ids = [response.contacts[0].id, "999999999"] }, metadata: GatewayRig.metadata())
            #expect(batch.contacts.map(\.email) == ["one@example.com"] && batch.missingIds == ["999999999"])
        }
    }

    @Test func noBudgetBeforeTheDeadlineIsResourceExhaustedWithTheWait() async throws {
        try await GatewayRig.with(generalPerSecond: 1) { rig in
            _ = try await rig.client.listContacts(.init(), metadata: GatewayRig.metadata())
            let refused = await rpcError {
                var options = CallOptions.defaults
                options.timeout = .milliseconds(100)
                _ = try await rig.client.listContacts(.init(), metadata: GatewayRig.metadata(), options: options)
            }
            // Either the gateway's refusal (with the wait) or, if the clock ran out first, the deadline.
            #expect(refused?.code == .resourceExhausted || refused?.code == .deadlineExceeded)
            if refused?.code == .resourceExhausted {
                let wait = refused?.metadata.firstString(GatewayErrors.Key.retryAfterMilliseconds).flatMap(Int.init)
                #expect(wait.map { $0 > 0 && $0 <= 1000 } == true)
            }
        }
    }

    @Test func aWriteWhoseAnswerWasLostIsUnknownNotUnavailable() async throws {
        // HubSpot applies the create but answers after the gateway's request timeout: the
        // caller must not be told UNAVAILABLE (which clients retry, duplicating the contact).
        // (The answer comes well after the timeout, so that a loaded machine's delays on the
        // way there cannot make it arrive in time.)
        try await GatewayRig.with(hubspotRequestTimeout: .milliseconds(500)) { rig in
            try await rig.faults(#"{"rules": [{"endpoint": "objects.batch.create", "latency": "2500"}]}"#)
            let error = await rpcError {
                _ = try await rig.client.createContact(
                    .with { $0.contact.email = "landed@example.com" }, metadata: GatewayRig.metadata())
            }
            #expect(error?.code == .unknown, "\(String(describing: error))")
            #expect(error?.message.contains("may or may not have applied") == true, "\(String(describing: error))")
            #expect(error?.metadata.firstString(GatewayErrors.Key.writeOutcome) == "unknown")
            // Counted apart from the gateway's own failures (the internal-errors alert subtracts it).
            let unknown = try rig.requestMetrics.expectCounter(
                RequestObservationInterceptor.Name.writeOutcomesUnknown,
                [("method", "hubspot.gateway.v1.ContactsService/CreateContact")])
            #expect(unknown.totalValue == 1)
            try await rig.faults(#"{"rules": []}"#)
            try await eventually("HubSpot answered the create it applied") {
                try await rig.answeredOK("objects.batch.create") > 0
            }
            // It had landed: the duplicate a blind retry would make is refused by HubSpot here
            // (email is unique), which proves the first create was applied.
            let retry = await rpcError {
                _ = try await rig.client.createContact(
                    .with { $0.contact.email = "landed@example.com" }, metadata: GatewayRig.metadata())
            }
            #expect(retry?.code == .alreadyExists)
        }
    }

    @Test func aWriteThatCertainlyDidNotReachHubSpotIsUnavailable() async throws {
        try await GatewayRig.with { rig in
            try await rig.faults(#"{"outage": true}"#)
            // The simulator answers 503 for everything; the breaker opens after enough of them,
            // and its refusals certainly did not reach HubSpot.
            var codes: [RPCError.Code?] = []
            for index in 0..<8 {
                let error = await rpcError {
                    _ = try await rig.client.createContact(
                        .with { $0.contact.email = "x\(index)@example.com" }, metadata: GatewayRig.metadata())
                }
                codes.append(error?.code)
            }
            #expect(codes.first == .unknown, "a 5xx answer does not say the write was not applied: \(codes)")
            #expect(codes.last == .unavailable, "the open breaker's refusal is UNAVAILABLE: \(codes)")
        }
    }
}
