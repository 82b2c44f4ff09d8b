import GatehouseStorage
import Testing

@testable import GatehouseDomain

/// What a scan's deviceId, gateId and scanId may hold before any store sees them.
@Suite struct IdentifierCheckTests {
    @Test func takes_printable_text_of_any_script() throws {
        for text in [
            "north-1", "G", "Tor Süd 3", "scan:2026-12-07T07:00:00.123Z", "門 1", "😀", "a b\u{7e}",
            String(repeating: "x", count: Gatehouse.maximumIDLength),
        ] {
            try Gatehouse.checkIdentifier(text, field: "gateId")
        }
    }

    @Test func refuses_control_characters_ascii_or_not_and_empty_or_long_text() {
        for text in [
            "", "a\u{0}b", "a\nb", "\t", "a\u{1f}", "a\u{7f}", "a\u{80}", "a\u{85}b", "\u{9f}",
            String(repeating: "x", count: Gatehouse.maximumIDLength + 1),
        ] {
            #expect(throws: InvalidInputError.self, "\(text.unicodeScalars.map { String($0.value, radix: 16) })") {
                try Gatehouse.checkIdentifier(text, field: "gateId")
            }
        }
    }
}
