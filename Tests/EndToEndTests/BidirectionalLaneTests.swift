import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// A bidirectional lane (`direction_input = on`, `exit_relay_line`) as a dry-run kiosk against
/// the real service: the direction input says each scan's way, an exit goes to the service as
/// `direction: "exit"` and opens the exit relay only, and an input that cannot be read decides
/// nothing.
@Suite struct BidirectionalLaneTests {
    @Test func the_direction_input_sends_exits_as_exits_through_the_exit_relay() async throws {
        let lane = try DryRunLane(
            event: "Two-way lane",
            inputs: ["direction": "0"],
            settings: ["direction_input=on", "exit_relay_line=26"]
        )
        let (admin, event, ticket, kiosk) = (lane.admin, lane.event, lane.ticket, lane.kiosk)
        func inside() throws -> Int { try admin.call("GET", "/api/events/\(event)/presence", expect: 200)["inside"] as! Int }
        func pulses(_ line: String) -> Int { KioskEndToEndTests.pulses(kiosk.newEvents, line).count }

        // In: the entry relay opens, the ticket is used, one person inside.
        let entry = try await kiosk.scan(ticket.qrData)
        #expect(entry["CHECKIN_RESULT"] == "valid")
        #expect(entry["CHECKIN_DIRECTION"] == "entry")
        #expect(pulses("relay") == 1)
        #expect(pulses("exit_relay") == 0)
        #expect(try inside() == 1)

        // The button pressed: the same code leaves, through the exit relay only.
        try lane.write("direction", "1")
        try await Task.sleep(for: .milliseconds(1600))
        let exit = try await kiosk.scan(ticket.qrData, offset: 10)
        #expect(exit["CHECKIN_RESULT"] == "exit")
        #expect(exit["CHECKIN_DIRECTION"] == "exit")
        #expect(pulses("exit_relay") == 1)
        #expect(pulses("relay") == 0)
        #expect(try inside() == 0)
        let log = try admin.call("GET", "/api/events/\(event)/checkins?limit=10", expect: 200)["checkins"] as! [[String: Any]]
        // Asked as an entry the used ticket would be `already_used`: the service was asked for an exit.
        #expect(log.contains { $0["result"] as? String == "exit" && $0["scanId"] as? String == exit["SCAN_ID"] })

        // The input gone (a cut wire): nothing is decided, no relay moves, and the journal says why.
        try FileManager.default.removeItem(atPath: lane.inputs + "/direction")
        try await waitUntil(limit: .seconds(3)) {
            kiosk.journal.entries.contains { $0["MESSAGE"]?.hasPrefix("Direction input cannot be read") == true }
        }
        kiosk.settle()
        let before = kiosk.decisions.count
        try kiosk.scene.show(ticket.qrData, offset: 20)
        try await waitUntil(limit: .seconds(6)) {
            kiosk.journal.entries.contains { $0["MESSAGE"] == "Scan not decided: the lane's direction is unknown" }
        }
        kiosk.scene.clear()
        #expect(kiosk.decisions.count == before)
        #expect(pulses("relay") == 0 && pulses("exit_relay") == 0)
    }
}
