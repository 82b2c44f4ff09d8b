import Foundation
import GatehouseCore
import GatehouseDomain
import GatehouseStorage

/// JSON as the API speaks it: ISO 8601 times with milliseconds, accepted with or without them.
package enum APIJSON {
    package static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.iso8601Millis)
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    package static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseDate(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "expected an ISO 8601 time such as 2026-12-31T20:00:00Z"
                )
            }
            return date
        }
        return decoder
    }()

    /// Strict: a real instant or nothing (see `ISO8601Time`).
    package static func parseDate(_ text: String) -> Date? { ISO8601Time.parse(text) }
}
