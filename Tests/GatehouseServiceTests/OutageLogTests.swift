import GatehouseDomain
import Testing

/// What an outage leaves in the log: each cause once, its end once.
@Suite struct OutageLogTests {
    @Test func alternating_causes_are_logged_once_each_and_the_end_once() {
        let capture = LogCapture()
        let logger = capture.logger()
        let outages = OutageLog()
        outages.served(logger: logger)
        // A server restarting under load: connections fail with different errors, interleaved.
        for _ in 0..<200 {
            outages.failed("Lost connection to server during query", logger: logger)
            outages.failed("Can't connect to server on '127.0.0.1' (111)", logger: logger)
        }
        for cause in 0..<20 { outages.failed("cause \(cause)", logger: logger) }
        outages.served(logger: logger)
        outages.served(logger: logger)
        let lines = capture.text.split(separator: "\n")
        #expect(lines.filter { $0.contains("Database unavailable") }.count == OutageLog.maximumCauses)
        #expect(lines.filter { $0.contains("Lost connection") }.count == 1)
        #expect(lines.filter { $0.contains("Database available again") }.count == 1)
        #expect(lines.last?.contains("db.previous_error=cause 19") == true, "the end names the last cause: \(lines.last ?? "")")
        // The next outage logs its causes afresh.
        outages.failed("Lost connection to server during query", logger: logger)
        #expect(capture.text.split(separator: "\n").filter { $0.contains("Lost connection") }.count == 2)
    }
}
