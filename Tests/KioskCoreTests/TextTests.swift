import KioskCore
import Testing

/// The small text helpers that stand in for Foundation's in the daemon.
@Suite struct TextTests {
    @Test func blanks_are_trimmed_at_both_ends_only() {
        #expect("  gate_id = north 1 \t\r\n".trimmedOfBlanks == "gate_id = north 1")
        #expect(" \t\n ".trimmedOfBlanks == "")
        #expect("".trimmedOfBlanks == "")
        #expect("x".trimmedOfBlanks == "x")
        #expect("\u{00A0}é \u{00A0}".trimmedOfBlanks == "\u{00A0}é \u{00A0}", "only ASCII blanks, like the config format says")
    }

    @Test func fixed_decimals_round_half_away_from_zero_after_scaling() {
        #expect(29.96.fixed(1) == "30.0")
        // 14.95 is 14.9499… as a Double, but 14.95 × 10 rounds to exactly 149.5: half, so up.
        #expect(14.95.fixed(1) == "15.0")
        #expect(0.04.fixed(1) == "0.0")
        #expect((-2.5).fixed(0) == "-3")
        #expect((-0.04).fixed(1) == "0.0")
        #expect(127.4.fixed(0) == "127")
        #expect(3.14159.fixed(3) == "3.142")
        // 1.005 is 1.00499… and 1.005 × 100 is 100.4999…: below half, so down.
        #expect(1.005.fixed(2) == "1.00")
        #expect(0.125.fixed(2) == "0.13", "exactly half in binary: away from zero")
        #expect((-0.125).fixed(2) == "-0.13")
        #expect(7.0.fixed(2) == "7.00")
    }

    @Test func parent_folders() {
        #expect(parentFolder(of: "/var/lib/gate-kiosk/device-token") == "/var/lib/gate-kiosk")
        #expect(parentFolder(of: "/device-token") == "/")
        #expect(parentFolder(of: "device-token") == ".")
        #expect(parentFolder(of: "a/b") == "a")
    }
}
