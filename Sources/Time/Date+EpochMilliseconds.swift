import Foundation

extension Date {
    /// Milliseconds since 1970, as HubSpot and Redis stream ids count time.
    /// Rounded to the nearest: a Date parsed from a millisecond timestamp may sit a hair below it.
    public var epochMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    public init(epochMilliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(epochMilliseconds) / 1000)
    }
}
