import Foundation
import SwiftProtobuf
import Time

extension Google_Protobuf_Timestamp {
    /// A HubSpot time (whole milliseconds) exactly: `init(date:)` truncates the binary fraction
    /// of a parsed `….978Z` to 977 ms, one millisecond before what HubSpot and the feed say.
    init(milliseconds: Int64) {
        let (seconds, remainder) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        // Before 1970 the remainder is negative; nanos must not be.
        self.init(
            seconds: remainder < 0 ? seconds - 1 : seconds,
            nanos: Int32(remainder < 0 ? remainder + 1000 : remainder) * 1_000_000)
    }

    init(hubSpotTime date: Date) { self.init(milliseconds: date.epochMilliseconds) }

    /// Whole milliseconds since 1970 (a finer part dropped).
    var milliseconds: Int64 { seconds * 1000 + Int64(nanos / 1_000_000) }
}
