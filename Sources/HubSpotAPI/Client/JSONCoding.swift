import Foundation
import Time

/// JSON coders that read and write HubSpot's timestamps (`2019-10-30T03:30:17.883Z`), made
/// once: the client's bodies and the gateway's cache entries use them.
public enum JSONCoding {
    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = HubSpotTimestamp.parse(text) { return date }
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "not an ISO-8601 timestamp: \(text)")
        }
        return decoder
    }()

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(HubSpotTimestamp.format(date))
        }
        return encoder
    }()
}
