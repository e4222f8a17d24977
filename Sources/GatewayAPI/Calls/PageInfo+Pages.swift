import GatewayCore
import GatewayProto

extension Hubspot_Gateway_V1_PageInfo {
    /// Where the next page starts (empty: this was the last), and for search pages how many
    /// records match in all.
    init(_ page: RecordPage) {
        self.init(next: page.next)
        if let total = page.total { self.total = Int64(total) }
    }

    /// Where the next page starts (empty: this was the last).
    init(next cursor: String?) {
        self.init()
        nextCursor = cursor ?? ""
    }
}
