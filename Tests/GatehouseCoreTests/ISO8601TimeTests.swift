import FoundationEssentials
import GatehouseCore
import Testing

@Suite struct ISO8601TimeTests {
    @Test func what_the_api_writes_it_reads_back_to_the_millisecond() {
        var generator = SystemRandomNumberGenerator()
        // Years 0001 to 9999, proleptic Gregorian: 0001-01-01 is -62,135,596,800 s from 1970.
        let earliest: Int64 = -62_135_596_800_000
        let latest: Int64 = 253_402_300_799_999
        for millis in [earliest, latest, 0, -1, 951_782_400_000] + (0..<5_000).map({ _ in Int64.random(in: earliest...latest, using: &generator) }) {
            let text = Date(millis: millis).iso8601Millis
            #expect(ISO8601Time.parse(text)?.millis == millis, "\(text)")
        }
    }

    @Test(arguments: [
        ("2026-12-31T20:00:00Z", "2026-12-31T20:00:00.000Z"), ("2026-12-31T20:00Z", "2026-12-31T20:00:00.000Z"),
        ("2026-12-31T21:00:00+01:00", "2026-12-31T20:00:00.000Z"), ("2026-12-31T21:00:00+0100", "2026-12-31T20:00:00.000Z"),
        ("2026-12-31T21:00:00+01", "2026-12-31T20:00:00.000Z"), ("2027-01-01T01:30:00.5+05:30", "2026-12-31T20:00:00.500Z"),
        ("2026-12-31T20:00:00.123456789Z", "2026-12-31T20:00:00.123Z"), ("2024-02-29T00:00:00z", "2024-02-29T00:00:00.000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"), ("1582-10-10T00:00:00Z", "1582-10-10T00:00:00.000Z"),
    ])
    func real_instants_are_read(_ text: String, _ expected: String) {
        #expect(ISO8601Time.parse(text)?.iso8601Millis == expected, "\(text)")
    }

    @Test(arguments: [
        "2026-02-29T00:00:00Z", "2026-02-30T10:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z", "2026-12-00T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T25:00:00Z", "2026-12-01T10:60:00Z",
        "2026-12-01T10:00:60Z", "0000-01-01T00:00:00Z", "100000-01-01T00:00:00Z", "2026-12-01T10:00:00", "2026-12-01", "2026-12-01 10:00:00Z",
        "2026-12-01T10:00:00+24:00", "2026-12-01T10:00:00+01:60", "2026-12-01T10:00:00.Z", "2026-12-01T10:00:00ZZ", "", "yesterday",
        "２０２６-12-01T10:00:00Z",
    ])
    func impossible_or_incomplete_times_are_refused(_ text: String) {
        #expect(ISO8601Time.parse(text) == nil, "\(text)")
    }
}
