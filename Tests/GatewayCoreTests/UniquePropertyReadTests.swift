import Foundation
@testable import GatewayCore
import HubSpotAPI
import Testing
import TestSupport

/// Reads by a unique property (`email`) take the same path as reads by id: the shared cache,
/// batch reads merged across callers, stale answers while HubSpot cannot be asked.
@Suite struct UniquePropertyReadTests {
    /// The seeded contacts' emails, by id.
    static func emails(_ environment: DoorEnvironment, _ door: Door) async throws -> [(id: String, email: String)] {
        let records = try await door.upstream.readObjects(
            type: "contacts", ids: environment.ids, properties: ["email"],
            CallTerms(priority: .interactive, deadline: .now + .seconds(5)))
        return records.compactMap { record in record.flatMap { r in r["email"].map { (r.id, $0) } } }
    }

    /// Requests the simulator received, in all and per endpoint.
    static func calls(_ environment: DoorEnvironment) async throws -> (total: Int, byEndpoint: [String: Int]) {
        let stats = try await environment.send(.get, "/_sim/stats")
        let byEndpoint = (stats["byEndpoint"] as? [String: NSNumber] ?? [:]).mapValues(\.intValue)
        return ((stats["total"] as? NSNumber)?.intValue ?? -1, byEndpoint)
    }

    /// As a replica runs it: hearing the fleet's invalidations, which a record fetched by its
    /// email needs before it is cached (its id, and so its version, was not known beforehand).
    @Test func concurrentReadsByEmailShareBatchReadsThenComeFromTheCache() async throws {
        try await DoorEnvironment.with(contacts: 30) { environment in
            let door = environment.door()
            let listener = Task { await door.upstream.cache.runInvalidationListener() }
            defer {
                listener.cancel()
                door.transport.shutdown()
            }
            try await eventually("the cache hears invalidations") { door.upstream.cache.isListening }
            let contacts = try await Self.emails(environment, door)
            #expect(contacts.count == 30)
            try await environment.send(.post, "/_sim/stats/reset")

            func readAll() async throws -> [(expected: String, read: ObjectCache.Read)] {
                try await withThrowingTaskGroup(of: (String, ObjectCache.Read).self) { group in
                    for contact in contacts {
                        group.addTask {
                            // HubSpot compares emails without case.
                            let read = try await door.upstream.readObject(
                                type: "contacts", uniqueProperty: "email", value: contact.email.uppercased(),
                                properties: ["firstname"], CallTerms(deadline: .now + .seconds(5)))
                            return (contact.id, read)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }

            let first = try await readAll()
            for (expected, read) in first {
                #expect(read.object?.id == expected)
                #expect(read.object?["firstname"] != nil)
                #expect(read.object?.properties.keys.contains("email") == false, "email was not asked for")
            }
            let afterFirst = try await Self.calls(environment)
            #expect(
                afterFirst.total >= 1 && afterFirst.total < 10, "30 reads by email became \(afterFirst.total) calls")
            #expect(afterFirst.byEndpoint.keys.allSatisfy { $0.contains("batch") }, "\(afterFirst.byEndpoint)")

            let second = try await readAll()
            for (expected, read) in second {
                #expect(read.object?.id == expected)
                #expect(read.source == .cache)
            }
            #expect(try await Self.calls(environment).total == afterFirst.total, "the second round is all cache hits")
        }
    }

    @Test func withoutHearingInvalidationsAReadByEmailIsCachedByItsIdOnTheNextRead() async throws {
        try await DoorEnvironment.with(contacts: 1) { environment in
            let door = environment.door()
            defer { door.transport.shutdown() }
            let contact = try #require(try await Self.emails(environment, door).first)
            var sources: [ObjectCache.Source] = []
            for _ in 0..<3 {
                let read = try await door.upstream.readObject(
                    type: "contacts", uniqueProperty: "email", value: contact.email, properties: ["firstname"],
                    CallTerms(deadline: .now + .seconds(5)))
                #expect(read.object?.id == contact.id)
                sources.append(read.source)
            }
            #expect(sources == [.upstream, .upstream, .cache])
        }
    }

    @Test func aRecordThatNoLongerHoldsTheEmailIsNotServedForIt() async throws {
        try await DoorEnvironment.with(contacts: 2) { environment in
            let door = environment.door()
            defer { door.transport.shutdown() }
            let contact = try #require(try await Self.emails(environment, door).first)
            let found = try await door.upstream.readObject(
                type: "contacts", uniqueProperty: "email", value: contact.email, properties: [],
                CallTerms(deadline: .now + .seconds(5)))
            #expect(found.object?.id == contact.id)

            _ = try await door.upstream.write(
                type: "contacts", .update(id: contact.id, properties: ["email": "moved@example.com"]),
                CallTerms(deadline: .now + .seconds(5)))
            let old = try await door.upstream.readObject(
                type: "contacts", uniqueProperty: "email", value: contact.email, properties: [],
                CallTerms(deadline: .now + .seconds(5)))
            #expect(old.object == nil, "the remembered id no longer holds the old email")
            let moved = try await door.upstream.readObject(
                type: "contacts", uniqueProperty: "email", value: "moved@example.com", properties: ["email"],
                CallTerms(deadline: .now + .seconds(5)))
            #expect(moved.object?.id == contact.id)
            #expect(moved.object?["email"] == "moved@example.com", "asked for, so answered")
        }
    }

    @Test func readsByEmailAreServedStaleWhileHubSpotIsDown() async throws {
        try await DoorEnvironment.with(contacts: 2) { environment in
            let door = environment.door()
            defer { door.transport.shutdown() }
            let contact = try #require(try await Self.emails(environment, door).first)
            _ = try await door.upstream.readObject(
                type: "contacts", uniqueProperty: "email", value: contact.email, properties: [],
                CallTerms(deadline: .now + .seconds(5)))
            try await environment.faults(#"{"outage": true}"#)
            let stale = try await door.upstream.readObject(
                type: "contacts", uniqueProperty: "email", value: contact.email, properties: [], maxStaleness: .zero,
                CallTerms(deadline: .now + .seconds(5)))
            #expect(stale.source == .stale)
            #expect(stale.object?.id == contact.id)
            // An email never read before has nothing to serve: HubSpot's failure comes through.
            await #expect(throws: (any Error).self) {
                _ = try await door.upstream.readObject(
                    type: "contacts", uniqueProperty: "email", value: "never@example.com", properties: [],
                    CallTerms(deadline: .now + .seconds(5)))
            }
        }
    }

    @Test func anEmailNoRecordHoldsIsNotFound() async throws {
        try await DoorEnvironment.with(contacts: 1) { environment in
            let door = environment.door()
            defer { door.transport.shutdown() }
            let read = try await door.upstream.readObject(
                type: "contacts", uniqueProperty: "email", value: "nobody@example.com", properties: [],
                CallTerms(deadline: .now + .seconds(5)))
            #expect(read.object == nil)
        }
    }
}

/// Records HubSpot merged: a read of the merged-away id answers the survivor, as HubSpot does,
/// and is then served from the survivor's cache entries.
@Suite struct MergedRecordReadTests {
    @Test func aReadOfAMergedAwayIdAnswersTheSurvivorAndIsThenServedFromItsEntries() async throws {
        try await DoorEnvironment.with(contacts: 2) { environment in
            let door = environment.door()
            defer { door.transport.shutdown() }
            let (survivor, merged) = (environment.ids[0], environment.ids[1])
            _ = try await door.upstream.readObject(
                type: "contacts", id: merged, properties: ["email"], CallTerms(deadline: .now + .seconds(5)))
            // Merged in HubSpot's UI (the gateway hears of it only by reading).
            try await environment.send(
                .post, "/_sim/ui/objects/contacts/merge",
                body: #"{"primaryObjectId": "\#(survivor)", "objectIdToMerge": "\#(merged)"}"#)
            let fresh = try await door.upstream.readObject(
                type: "contacts", id: merged, properties: ["email"], maxStaleness: .zero,
                CallTerms(deadline: .now + .seconds(5)))
            #expect(fresh.object?.id == survivor, "HubSpot answers the survivor for the old id")
            try await environment.send(.post, "/_sim/stats/reset")
            let again = try await door.upstream.readObject(
                type: "contacts", id: merged, properties: ["email"], CallTerms(deadline: .now + .seconds(5)))
            #expect(again.object?.id == survivor)
            #expect(again.source == .cache, "the survivor's entry, remembered as the old id's")
            #expect(try await environment.perSecond().counts.isEmpty, "no HubSpot call for the old id any more")
        }
    }
}
