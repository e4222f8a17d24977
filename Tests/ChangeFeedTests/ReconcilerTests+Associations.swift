import ChangeFeed
import Foundation
import GatewayCore
import HubSpotAPI
import Testing

/// The reconciler's association scan: changes HubSpot's modification times do not show.
extension ReconcilerTests {
    /// A deal at company A, and company B, made in HubSpot's UI; the scans' first sight of them.
    func dealBetweenCompanies(_ rig: Rig, token: Int64) async throws -> (deal: String, a: String, b: String) {
        let a = try await rig.ui(.post, "companies", #"{"properties": {"name": "A"}}"#)["id"] as? String ?? ""
        let b = try await rig.ui(.post, "companies", #"{"properties": {"name": "B"}}"#)["id"] as? String ?? ""
        let deal =
            try await rig.ui(
                .post, "deals",
                #"{"properties": {"dealname": "Moving"}, "associations": [{"to": {"id": "\#(a)"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]}"#
            )["id"] as? String ?? ""
        // The first scan only keeps what it finds: nothing was reported before it.
        #expect(try await rig.reconciler.reconcileAssociations("deals", token: token) == 0)
        #expect(try await rig.reconciler.reconcileAssociations("companies", token: token) == 0)
        return (deal, a, b)
    }

    func associationEvents(_ rig: Rig) async throws -> [String] {
        try await rig.feed.stored().filter { $0.kind == .associationAdded || $0.kind == .associationRemoved }.map {
            "\($0.source.rawValue) \($0.objectType) \($0.objectId) \($0.kind == .associationAdded ? "+" : "-")\($0.associationType ?? "") \($0.toObjectId ?? "")"
        }
    }

    @Test func anAssociationChangeOnlyAScanCanSeeIsPublishedOnceInBothDirections() async throws {
        try await Self.with(configure: { $0.objectTypes = ["deals", "companies"] }) { rig in
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            let (deal, a, b) = try await dealBetweenCompanies(rig, token: token)
            _ = try await rig.reconciler.reconcile("deals", token: token)
            // Someone moves the deal to company B in HubSpot: no modification time moves, so the
            // change walk sees nothing.
            _ = try await rig.client.removeAssociations(from: "deals", id: deal, to: "companies", toId: a)
            _ = try await rig.client.associateDefault(from: "deals", id: deal, to: "companies", toId: b)
            #expect(try await rig.reconciler.reconcile("deals", token: token) == 0)
            // Until the scan interval has passed since the last scan, none starts.
            #expect(try await rig.reconciler.reconcileAssociations("deals", token: token) == 0)
            let later = Date() + 601
            #expect(try await rig.reconciler.reconcileAssociations("deals", token: token, now: later) == 4)
            #expect(
                Set(try await associationEvents(rig)) == [
                    "RECONCILER deals \(deal) -DEAL_TO_COMPANY \(a)",
                    "RECONCILER companies \(a) -COMPANY_TO_DEAL \(deal)",
                    "RECONCILER deals \(deal) +DEAL_TO_COMPANY \(b)",
                    "RECONCILER companies \(b) +COMPANY_TO_DEAL \(deal)",
                ])
            // The companies' own scan finds their side reported already; scans again: nothing.
            #expect(try await rig.reconciler.reconcileAssociations("companies", token: token, now: later) == 0)
            #expect(
                try await rig.reconciler.reconcileAssociations("deals", token: token, now: later + 601) == 0)
            #expect(try await associationEvents(rig).count == 4)
        }
    }

    @Test func anAssociationChangeHeardByAWebhookAndFoundByTheScanIsPublishedOnceWhicheverCameFirst() async throws {
        try await Self.with(configure: { $0.objectTypes = ["deals"] }) { rig in
            let token = try #require(try await rig.lease.take(as: "replica-1"))
            let (deal, a, b) = try await dealBetweenCompanies(rig, token: token)
            func hubSpot(
                _ type: String, _ id: String, _ to: String, added: Bool, _ eventId: String,
                source: ChangeEvent.Source = .webhook
            ) -> ChangeEvent {
                var event = ChangeEvent(
                    objectType: type, objectId: id, kind: added ? .associationAdded : .associationRemoved,
                    eventId: eventId, subscriptionType: "\(type.dropLast()).associationChange",
                    occurredAt: 1_790_000_000_000)
                event.associationType = type == "deals" ? "DEAL_TO_COMPANY" : "COMPANY_TO_DEAL"
                event.toObjectId = to
                event.source = source
                return event
            }
            // The webhook first: the deal joins B and HubSpot says so on both records; the scan
            // then has nothing to add.
            _ = try await rig.client.associateDefault(from: "deals", id: deal, to: "companies", toId: b)
            let joined = [
                hubSpot("deals", deal, b, added: true, "h1"), hubSpot("companies", b, deal, added: true, "h2"),
            ]
            #expect(try await rig.feed.feed.append(joined).storedCount == 2)
            let later = Date() + 601
            #expect(try await rig.reconciler.reconcileAssociations("deals", token: token, now: later) == 0)
            // The scan first: the deal leaves A; HubSpot's late copies of it (webhook, then the
            // journal) are dropped, on both records.
            _ = try await rig.client.removeAssociations(from: "deals", id: deal, to: "companies", toId: a)
            #expect(
                try await rig.reconciler.reconcileAssociations("deals", token: token, now: later + 601) == 2)
            let left = [
                hubSpot("deals", deal, a, added: false, "h3"), hubSpot("companies", a, deal, added: false, "h4"),
            ]
            #expect(try await rig.feed.feed.append(left).storedCount == 0)
            let fromJournal = [
                hubSpot("deals", deal, a, added: false, "j3", source: .journal),
                hubSpot("companies", a, deal, added: false, "j4", source: .journal),
            ]
            #expect(try await rig.feed.feed.append(fromJournal).storedCount == 0)
            // The deal goes back to A, heard by webhook alone: kept (a report is consumed once).
            _ = try await rig.client.associateDefault(from: "deals", id: deal, to: "companies", toId: a)
            #expect(try await rig.feed.feed.append([hubSpot("deals", deal, a, added: true, "h5")]).storedCount == 1)
            #expect(
                try await rig.reconciler.reconcileAssociations("deals", token: token, now: later + 1202) == 0)
            #expect(
                try await associationEvents(rig) == [
                    "WEBHOOK deals \(deal) +DEAL_TO_COMPANY \(b)", "WEBHOOK companies \(b) +COMPANY_TO_DEAL \(deal)",
                    "RECONCILER deals \(deal) -DEAL_TO_COMPANY \(a)",
                    "RECONCILER companies \(a) -COMPANY_TO_DEAL \(deal)",
                    "WEBHOOK deals \(deal) +DEAL_TO_COMPANY \(a)",
                ])
        }
    }
}
