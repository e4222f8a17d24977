import CoreMetrics
import GatewayCore
import Logging
import Synchronization

/// Keeps the events of the fleet's own portal: the global journal holds every account that
/// installed the app (sandbox and test accounts too), and a webhook URL can be shared; an event
/// of another portal would invalidate and publish records that are not this fleet's. Dropped
/// events are counted by portal and intake, and each foreign portal is logged once. An event
/// that names no portal, or any event while the fleet's portal is not known yet, is kept.
public final class PortalFilter: Sendable {
    public enum Name {
        /// Events dropped because they belong to another HubSpot portal, by `portal` and
        /// `intake` (`webhook`, `journal`).
        public static let foreign = "gateway_changes_foreign_portal_total"
    }

    let portal: HubSpotPortal
    private let logged = Mutex<Set<Int>>([])
    private let logger: Logger
    private let metrics: any MetricsFactory

    public init(portal: HubSpotPortal, logger: Logger, metrics: (any MetricsFactory)? = nil) {
        self.portal = portal
        self.logger = logger
        self.metrics = metrics ?? MetricsSystem.factory
    }

    /// `events` without those of other portals.
    public func keep(_ events: [ChangeEvent], intake: String) -> [ChangeEvent] {
        guard let own = portal.id else { return events }
        var kept: [ChangeEvent] = []
        kept.reserveCapacity(events.count)
        var dropped: [Int: Int] = [:]
        for event in events {
            if let other = event.portalId, other != own {
                dropped[other, default: 0] += 1
            } else {
                kept.append(event)
            }
        }
        for (other, count) in dropped {
            Counter(label: Name.foreign, dimensions: [("portal", String(other)), ("intake", intake)], factory: metrics)
                .increment(by: count)
            let first = logged.withLock { $0.insert(other).inserted }
            if first {
                logger.warning(
                    "dropping change events of another HubSpot portal (counted in gateway_changes_foreign_portal_total; logged once per portal)",
                    metadata: [
                        "portal": "\(other)", "ownPortal": "\(own)", "intake": "\(intake)", "events": "\(count)",
                    ])
            }
        }
        return kept
    }
}
