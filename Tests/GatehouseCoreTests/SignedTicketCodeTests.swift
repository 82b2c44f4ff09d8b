import Foundation
import Testing

@testable import GatehouseCore

@Suite struct SignedTicketCodeTests {
    @Test func base32_round_trips_and_has_one_spelling() {
        for length in [0, 1, 5, 10, 74] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255) }
            let text = Base32.encode(bytes)
            #expect(Base32.decode(text) == bytes)
            #expect(text.count == (length * 8 + 4) / 5)
        }
        // "AB" and "AC" decode to the same byte; only the canonical spelling is accepted.
        #expect(Base32.decode("AA") == [0])
        #expect(Base32.decode("AB") == nil)
        #expect(Base32.decode("A1") == nil && Base32.decode("a") == nil)
    }

    @Test func fields_survive_the_round_trip_and_anything_else_is_not_a_signed_code() throws {
        let code = SignedTicketCode.make(eventID: "EABCDEFG", keyID: 7, serial: 0xAB_CDEF_0123, validFromHour: 100, validUntilHour: 300) {
            $0.count == 3 + 8 + 10 ? [UInt8](repeating: 0x5A, count: 64) : []
        }
        #expect(code.text.count == 131 && code.blob.count == SignedTicketCode.blobLength)
        let parsed = try #require(SignedTicketCode.parse(code.text + "\r\n"))
        #expect(parsed.keyID == 7 && parsed.serial == 0xAB_CDEF_0123 && parsed.validFromHour == 100 && parsed.validUntilHour == 300)
        #expect(parsed.signature == [UInt8](repeating: 0x5A, count: 64))
        #expect(parsed.validUntil == SignedTicketCode.epochMillis + 300 * 3_600_000)
        #expect(TicketCode.parse(code.text) == nil, "not a plain code")
        for bad in [String(code.text.dropLast()), code.text + "A", code.text.replacingOccurrences(of: "GS:", with: "GH:"), code.text.lowercased()] {
            #expect(SignedTicketCode.parse(bad) == nil, "\(bad)")
        }
        let noEnd = SignedTicketCode.make(eventID: "EABCDEFG", keyID: 1, serial: 1, validFromHour: 0, validUntilHour: SignedTicketCode.noEnd) { _ in
            [UInt8](repeating: 1, count: 64)
        }
        #expect(noEnd.validUntil == nil)
    }
}
