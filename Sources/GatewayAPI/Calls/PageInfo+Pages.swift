import GatewayProto
import HubSpotAPI

extension Hubspot_Gateway_V1_PageInfo {
    /// Where the next page of a list starts (empty: this was the last).
    init(next cursor: String?) {
        self.init()
        nextCursor = cursor ?? ""
    }

    /// A search page's cursor and how many records match in all.
    init(_ page: SearchPage) {
        self.init(next: page.nextAfter)
        total = Int64(page.total)
    }
}
