import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The fire alarm input of a real dry-run kiosk against the real service, driven through
/// `--inputs`: the lane opens on the alarm, takes no tickets meanwhile, and closes only after
/// the input has been clear for `alarm_clear_ms`; with normally-closed wiring a missing input is
/// a cut wire, and so an alarm.
@Suite struct FireAlarmEndToEndTests {
    @Test func the_alarm_opens_the_lane_stops_scanning_and_a_cut_wire_is_an_alarm() async throws {
        let lane = try DryRunLane(event: "Fire drill", inputs: ["alarm": "0"], settings: ["alarm=nc", "alarm_clear_ms=600"])
        let (admin, ticket, kiosk) = (lane.admin, lane.ticket, lane.kiosk)
        let alarmFile = lane.inputs + "/alarm"
        /// What the organizer's API says of the lane's alarm (nil: calm).
        func reportedAlarm() throws -> String? {
            let lanes = try admin.call("GET", "/api/events/\(lane.event)/lanes", expect: 200)["lanes"] as? [[String: Any]] ?? []
            return lanes.first { $0["deviceId"] as? String == lane.device.id }?["alarm"] as? String
        }
        try await waitUntil { kiosk.notify.messages.contains { $0.contains("READY=1") } }
        try await Task.sleep(for: .milliseconds(200))
        #expect(kiosk.events.filter { $0.line == "relay" && $0.value == 1 }.isEmpty, "calm: the lane is shut")

        // The panel signals: the relay is energised at once.
        kiosk.settle()
        let signalled = ContinuousClock.now
        try lane.write("alarm", "1")
        try await waitUntil(limit: .seconds(3)) { kiosk.newEvents.contains { $0.line == "relay" && $0.value == 1 } }
        let latency = ContinuousClock.now - signalled
        print("fire alarm: file written → relay energised in \(latency.wholeMilliseconds) ms (dry run, 10 ms polling, 20 ms debounce)")
        try await waitUntil { kiosk.journal.entries.contains { $0["ALARM"] == "active" } }
        let raised = kiosk.journal.entries.first { $0["ALARM"] == "active" }
        #expect(raised?["PRIORITY"] == "1", "alert priority: \(raised ?? [:])")
        try await waitUntil { kiosk.notify.messages.contains { $0.contains("STATUS=FIRE ALARM, lane held open") } }
        // The service hears it with the next sync round, and the organizer sees it.
        try await waitUntil(limit: .seconds(5)) { (try? reportedAlarm()) != nil }
        let page = try admin.page("/admin/events/\(lane.event)/devices")
        #expect(page.contains("FIRE ALARM"), "the Devices page says it")

        // A ticket shown now is not checked in: nobody's ticket is burned during an evacuation.
        try kiosk.scene.show(ticket.qrData)
        try await Task.sleep(for: .seconds(1.5))
        kiosk.scene.clear()
        #expect(kiosk.decisions.isEmpty)
        let unused = try admin.call("GET", "/api/tickets/\(ticket.id)", expect: 200)
        #expect(unused["status"] as? String == "unused")

        // Clear: the lane stays open for alarm_clear_ms, then shuts.
        try lane.write("alarm", "0")
        let cleared = ContinuousClock.now
        try await waitUntil(limit: .seconds(5)) { kiosk.journal.entries.contains { $0["ALARM"] == "cleared" } }
        #expect(ContinuousClock.now - cleared >= .milliseconds(600))
        #expect(kiosk.events.last { $0.line == "relay" }?.value == 0)
        try await waitUntil(limit: .seconds(5)) { (try? reportedAlarm()) == .some(nil) }

        // A cut wire (normally closed: the file is gone) is an alarm too.
        try FileManager.default.removeItem(atPath: alarmFile)
        try await waitUntil(limit: .seconds(3)) { kiosk.journal.entries.filter { $0["ALARM"] == "active" }.count == 2 }
        #expect(kiosk.journal.entries.last { $0["ALARM"] == "active" }?["ALARM_REASON"]?.contains("cut wire") == true)
        #expect(kiosk.events.last { $0.line == "relay" }?.value == 1)

        // Wire mended and clear: back in service, the ticket admits.
        try lane.write("alarm", "0")
        try await waitUntil(limit: .seconds(5)) { kiosk.journal.entries.filter { $0["ALARM"] == "cleared" }.count == 2 }
        let decided = try await kiosk.scan(ticket.qrData)
        #expect(decided["CHECKIN_RESULT"] == "valid", "\(decided)")
    }
}
