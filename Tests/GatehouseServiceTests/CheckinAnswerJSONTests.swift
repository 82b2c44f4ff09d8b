import Foundation
import Testing

@testable import GatehouseAPI
@testable import GatehouseCore
@testable import GatehouseDomain
@testable import GatehouseService
@testable import GatehouseWeb

/// The hand-written check-in answer must be the very document the API's JSONEncoder writes, and
/// times must come out to the stored millisecond.
@Suite struct CheckinAnswerJSONTests {
    static let tickets: [TicketSummary?] = [
        nil,
        TicketSummary(id: "TABC", number: 1, holderName: nil, ticketType: nil),
        TicketSummary(id: "TXYZ", number: 123_456, holderName: "Zoë \"Z\" O'Brien\\ \n\t\u{1}/é😀", ticketType: "VIP / backstage"),
        TicketSummary(id: "T1", number: 7, holderName: nil, ticketType: "Day pass"),
    ]

    @Test func same_bytes_as_the_api_encoder() throws {
        var random = SystemRandomNumberGenerator()
        for result in CheckinResult.allCases {
            for ticket in Self.tickets {
                for (gate, attention) in [(nil, false), ("north-1", true), ("gate \"7\"", false), (nil, true)] as [(String?, Bool)] {
                    for millis in [
                        nil, 0, 1_764_143_629_123, 951_782_400_000, 4_102_444_799_999, Int64.random(in: 0..<4_102_444_800_000, using: &random),
                    ] as [Int64?] {
                        let answer = CheckinAnswer(
                            result: result,
                            message: CheckinMessage.text(for: result, firstUsedAt: millis.map(Date.init(millis:)), firstUsedGate: gate),
                            ticket: ticket,
                            firstUsedAt: millis.map(Date.init(millis:)),
                            firstUsedGate: gate,
                            attention: attention
                        )
                        let expected = try APIJSON.encoder.encode(answer)
                        let text = String(decoding: answer.jsonBytes, as: UTF8.self)
                        #expect(text == String(decoding: expected, as: UTF8.self))
                        // A time that is absent is left out, never written as null or 0.
                        #expect(text.contains("\"firstUsedAt\"") == (millis != nil), "\(text)")
                        var decoded = try APIJSON.decoder.decode(CheckinAnswer.self, from: Data(answer.jsonBytes))
                        // Parsed text and Date(millis:) may differ in the last bit of the Double.
                        #expect(abs((decoded.firstUsedAt?.timeIntervalSince1970 ?? 0) - (answer.firstUsedAt?.timeIntervalSince1970 ?? 0)) < 0.0005)
                        decoded.firstUsedAt = answer.firstUsedAt
                        #expect(decoded == answer)
                    }
                }
            }
        }
    }

    @Test func times_keep_their_millisecond() {
        // 1764143629.123 is 1764143629.12299990654 as a Double: truncating would print .122.
        #expect(Date(millis: 1_764_143_629_123).iso8601Millis == "2025-11-26T07:53:49.123Z")
        for millis in stride(from: Int64(1_764_143_629_000), to: 1_764_143_630_000, by: 1) {
            #expect(Date(millis: millis).iso8601Millis.hasSuffix(String(format: ".%03dZ", millis % 1000)))
        }
    }

    @Test func leap_days_and_year_ends() {
        for (millis, text) in [
            (Int64(0), "1970-01-01T00:00:00.000Z"), (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"), (-1, "1969-12-31T23:59:59.999Z"),
        ] {
            var out = JSONOutput()
            out.timestamp(millisecondsSince1970: millis)
            #expect(String(decoding: out.bytes, as: UTF8.self) == text)
        }
    }
}
