import Foundation

/// HubSpot's timestamps (`2019-10-30T03:30:17.883Z`), read and written in one place. Parsing takes a
/// path without a formatter first: it runs for every record read, and Foundation's costs microseconds.
public enum HubSpotTimestamp {
    /// HubSpot's timestamps (ISO-8601 in UTC, with or without a fraction of a second, or any
    /// other offset Foundation reads), or nil when `text` is none.
    public static func parse(_ text: String) -> Date? {
        if let date = parseUTC(text) { return date }
        return (try? Date(text, strategy: withFraction)) ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
    }

    /// ISO-8601 with milliseconds, as HubSpot writes timestamps (`2026-01-01T00:00:00.000Z`).
    public static func format(_ date: Date) -> String { date.formatted(withFraction) }

    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// The fast path, without Foundation: `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, or nil for any
    /// other shape (this runs for every timestamp of every record read).
    static func parseUTC(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { b -> Date? in
            guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A,
                b[b.count - 1] == 0x5A
            else { return nil }
            func digits(_ start: Int, _ count: Int) -> Int? {
                var value = 0
                for i in start..<start + count {
                    let d = Int(b[i]) - 48
                    guard d >= 0, d <= 9 else { return nil }
                    value = value * 10 + d
                }
                return value
            }
            guard let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
                let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
                (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
            else { return nil }
            var fraction = 0.0
            if b.count > 20 {
                guard b[19] == 0x2E, b.count > 21 else { return nil }
                var scale = 0.1
                for i in 20..<b.count - 1 {
                    let d = Int(b[i]) - 48
                    guard d >= 0, d <= 9 else { return nil }
                    fraction += Double(d) * scale
                    scale /= 10
                }
            } else if b[19] != 0x5A {
                return nil
            }
            // Days from the civil date (Howard Hinnant's algorithm).
            let y = month <= 2 ? year - 1 : year
            let era = (y >= 0 ? y : y - 399) / 400
            let yoe = y - era * 400
            let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
            let days = era * 146_097 + doe - 719_468
            let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second) + fraction
            return Date(timeIntervalSince1970: seconds)
        }
    }
}
