import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// A list's attention types at a dry-run kiosk with a staff button (`--inputs DIR/attention`)
/// against the real service: such a ticket waits under amber; unpressed it is annulled on the
/// service and valid again, pressed it opens and stays used; other tickets pass as before.
@Suite struct AttentionEndToEndTests {
    @Test func a_child_ticket_opens_only_after_the_staff_button() async throws {
        let lane = try DryRunLane(
            event: "Family day",
            inputs: ["attention": "0"],
            settings: ["attention_button=on", "attention_timeout_ms=2500", "cooldown_ms=20000"]
        )
        let (admin, event, kiosk) = (lane.admin, lane.event, lane.kiosk)
        _ = try admin.call("POST", "/api/events/\(event)/lists", ["name": "Hall", "gates": ["north-1"], "attention": ["Child"]], expect: 201)
        let child = try admin.issue(event: event, extra: ["ticketType": "Child"])[0]
        func status() throws -> String? { try admin.call("GET", "/api/tickets/\(child.id)", expect: 200)["status"] as? String }
        func pulses() -> Int { KioskEndToEndTests.pulses(kiosk.newEvents, "relay").count }

        // Nobody presses: amber, shut, and the check-in is taken back on the service.
        let first = try await kiosk.scan(child.qrData)
        #expect(first["CHECKIN_RESULT"] == "valid")
        try await waitUntil(limit: .seconds(6)) { kiosk.journal.entries.contains { $0["ATTENTION"] == "timeout" } }
        #expect(kiosk.journal.entries.contains { $0["ATTENTION"] == "waiting" })
        #expect(pulses() == 0, "nothing opened")
        #expect(kiosk.newEvents.contains { $0.line == "red" && $0.value == 1 } && kiosk.newEvents.contains { $0.line == "green" && $0.value == 1 })
        try await waitUntil(limit: .seconds(8)) { (try? status()) == "unused" }

        // Scanned again, staff look and press: the lane opens, the ticket stays used.
        kiosk.settle()
        try kiosk.scene.show(child.qrData, offset: 10)
        try await waitUntil(limit: .seconds(6)) { kiosk.journal.entries.filter { $0["ATTENTION"] == "waiting" }.count == 2 }
        kiosk.scene.clear()
        // What `systemctl status` says meanwhile.
        try await waitUntil(limit: .seconds(3)) { kiosk.notify.messages.contains { $0.contains("STATUS=WAITING FOR STAFF") } }
        #expect(pulses() == 0, "not before the press")
        try lane.write("attention", "1")
        try await waitUntil(limit: .seconds(3)) { kiosk.journal.entries.contains { $0["ATTENTION"] == "confirmed" } }
        try lane.write("attention", "0")
        try await waitUntil(limit: .seconds(3)) { pulses() == 1 }
        try await Task.sleep(for: .seconds(3))
        #expect(try status() == "used")

        // A ticket of another type passes without waiting.
        let adult = try await kiosk.scan(lane.ticket.qrData, offset: 20)
        #expect(adult["CHECKIN_RESULT"] == "valid")
        #expect(pulses() == 1)
        #expect(kiosk.journal.entries.filter { $0["ATTENTION"] == "waiting" }.count == 2)
    }
}
