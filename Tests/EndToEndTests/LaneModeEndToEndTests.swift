import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// Lane modes end to end: the organizer's mode reaches a dry-run kiosk through its sync and the
/// kiosk's report comes back; the key switch (`--inputs DIR/mode`) and `gate-kiosk mode` on the
/// box outrank the organizer, in that order; no ticket is checked in unless the lane is normal.
@Suite struct LaneModeEndToEndTests {
    func lane(_ admin: AdminClient, _ event: String) throws -> [String: Any] {
        (try admin.call("GET", "/api/events/\(event)/lanes", expect: 200)["lanes"] as? [[String: Any]])?.first ?? [:]
    }

    func boxMode(_ word: String, state: String) throws -> String {
        let process = Process()
        process.executableURL = ServiceProcess.builtExecutable("gate-kiosk", override: "GATE_KIOSK_BIN")
        process.arguments = ["mode", word]
        process.environment = ["STATE_DIRECTORY": state]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    @Test func the_organizer_the_box_and_the_key_switch_set_the_lane_in_that_order_of_strength() async throws {
        let rig = try DryRunLane(event: "Lanes", inputs: ["mode": "normal"], settings: ["mode_input=on"])
        let (admin, event, device, ticket, kiosk, state) = (rig.admin, rig.event, rig.device, rig.ticket, rig.kiosk, rig.state)
        try await waitUntil { kiosk.notify.messages.contains { $0.contains("READY=1") } }

        // The organizer locks the lane: applied with the next sync, and reported back.
        let asked = ContinuousClock.now
        _ = try admin.call("PUT", "/api/devices/\(device.id)/lane-mode", ["mode": "locked"], expect: 200)
        try await waitUntil(limit: .seconds(5)) { kiosk.journal.entries.contains { $0["LANE_MODE"] == "locked" } }
        print("lane mode: organizer → kiosk in \((ContinuousClock.now - asked).wholeMilliseconds) ms")
        try await waitUntil(limit: .seconds(5)) { (try? lane(admin, event)["reported"] as? String) == "locked" }
        #expect(try lane(admin, event)["reportedSource"] as? String == "organizer")
        try await waitUntil { kiosk.notify.messages.contains { $0.contains("STATUS=LANE locked (organizer)") } }
        kiosk.settle()
        try kiosk.scene.show(ticket.qrData)
        try await waitUntil(limit: .seconds(5)) { kiosk.journal.entries.contains { $0["MESSAGE"] == "Scan at a locked lane: not checked in" } }
        kiosk.scene.clear()
        #expect(kiosk.relayPulses == 0 && kiosk.decisions.isEmpty)

        // The technician on the box: out of order, over the organizer's lock.
        #expect(try boxMode("out_of_order", state: state).contains("out_of_order"))
        try await waitUntil(limit: .seconds(5)) { (try? lane(admin, event)["reported"] as? String) == "out_of_order" }
        #expect(try lane(admin, event)["reportedSource"] as? String == "box")
        // The key switch to free passage, over both: the relay is held open.
        try rig.write("mode", "free")
        try await waitUntil(limit: .seconds(5)) { kiosk.events.last { $0.line == "relay" }?.value == 1 }
        try await waitUntil(limit: .seconds(5)) { (try? lane(admin, event)["reportedSource"] as? String) == "key_switch" }
        // Switch back to normal, the box hands back: the organizer's lock again; cleared: normal.
        try rig.write("mode", "normal")
        try await waitUntil(limit: .seconds(5)) { (try? lane(admin, event)["reportedSource"] as? String) == "box" }
        _ = try boxMode("remote", state: state)
        try await waitUntil(limit: .seconds(5)) { (try? lane(admin, event)["reportedSource"] as? String) == "organizer" }
        #expect(kiosk.events.last { $0.line == "relay" }?.value == 0, "free passage ended: the lane shut")
        _ = try admin.call("PUT", "/api/devices/\(device.id)/lane-mode", ["mode": NSNull()], expect: 200)
        try await waitUntil(limit: .seconds(5)) { (try? lane(admin, event)["reported"] as? String) == "normal" }
        let decided = try await kiosk.scan(ticket.qrData)
        #expect(decided["CHECKIN_RESULT"] == "valid", "\(decided)")
        let changes = kiosk.journal.entries.filter { $0["MESSAGE"] == "Lane mode changed" }.compactMap { $0["LANE_MODE_SOURCE"] }
        #expect(changes == ["organizer", "box", "key_switch", "box", "organizer", "none"], "\(changes)")
    }
}
