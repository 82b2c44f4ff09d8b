import Foundation
import GatehouseCore
import Testing

@Suite struct TicketCodeTests {
    @Test func minted_code_round_trips_and_fits_alphanumeric_mode() throws {
        let code = TicketCode(eventID: Identifier.newEventID(), token: Secret.newTicketToken())
        #expect(code.text.count == 38)
        #expect(TicketCode.parse("GH:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ") == TicketCode(eventID: "EABCDEFG", token: "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        let alphanumeric = Set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
        #expect(code.text.allSatisfy { alphanumeric.contains($0) })
        #expect(TicketCode.parse(code.text) == code)
        #expect(TicketCode.parse(code.text + "\r\n") == code)
        #expect(TicketCode.parse(bytes: Array(code.text.utf8)) == code)
    }

    @Test func tokens_are_distinct_and_carry_128_bits() {
        let tokens = Set((0..<10_000).map { _ in Secret.newTicketToken() })
        #expect(tokens.count == 10_000)
        #expect(Secret.ticketTokenLength * 5 >= 128)
    }

    @Test(arguments: [
        "", "GH:", "GH::", "GH1:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ", "https://example.com/ticket/1", "GH:EABCDEFG:short",
        "GH:eabcdefg:ABCDEFGHIJKLMNOPQRSTUVWXYZ", "GH:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXY1",
        "GH:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ:extra", "GH2:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "GH:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ' OR 1=1 --", "GH:ΕABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ])
    func foreign_or_damaged_payloads_are_not_ours(_ payload: String) {
        #expect(TicketCode.parse(payload) == nil)
    }

    @Test func a_huge_payload_is_refused_before_any_work() {
        #expect(TicketCode.parse(String(repeating: "A", count: 1_000_000)) == nil)
        #expect(TicketCode.parse("GH:" + String(repeating: "A", count: 1_000_000)) == nil)
    }

    @Test func binary_payloads_that_are_not_utf8_are_refused() {
        #expect(TicketCode.parse(bytes: [0xff, 0xfe, 0x00, 0x41]) == nil)
        #expect(TicketCode.parse(bytes: [UInt8](repeating: 0x41, count: 100_000)) == nil)
    }

    @Test func messages_name_the_first_use() {
        let at = Date(timeIntervalSince1970: 19 * 3600 + 2 * 60 + 11)
        let text = CheckinMessage.text(for: .alreadyUsed, firstUsedAt: at, firstUsedGate: "North 1", timeZone: TimeZone(identifier: "UTC")!)
        #expect(text == "Already used at North 1, 19:02:11")
        #expect(CheckinMessage.text(for: .valid, firstUsedAt: nil, firstUsedGate: nil) == "Valid — entry allowed")
        for result in CheckinResult.allCases {
            #expect(!CheckinMessage.text(for: result, firstUsedAt: nil, firstUsedGate: nil).isEmpty)
        }
    }

    @Test func answers_encode_the_wire_names() throws {
        let answer = CheckinAnswer(result: .alreadyUsed, message: "x")
        let json = String(decoding: try JSONEncoder().encode(answer), as: UTF8.self)
        #expect(json.contains(#""result":"already_used""#))
        #expect(json.contains(#""ok":false"#))
    }
}
