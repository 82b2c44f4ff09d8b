import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// A dry-run kiosk with a passage sensor (`--inputs DIR/passage`) against the real service: an
/// admission nobody passes on is annulled on the service, so the ticket admits at the next scan;
/// one the turnstile confirms stays used.
@Suite struct PassageEndToEndTests {
    @Test func no_passage_gives_the_ticket_back_and_a_passage_keeps_it_used() async throws {
        let lane = try DryRunLane(
            event: "Turnstile",
            inputs: ["passage": "0"],
            settings: ["passage=sensor", "passage_timeout_ms=3000", "cooldown_ms=20000"]
        )
        let (admin, event, ticket, kiosk) = (lane.admin, lane.event, lane.ticket, lane.kiosk)
        func status() throws -> String? { try admin.call("GET", "/api/tickets/\(ticket.id)", expect: 200)["status"] as? String }

        // Valid, the relay opens, nobody turns the arm.
        let first = try await kiosk.scan(ticket.qrData)
        #expect(first["CHECKIN_RESULT"] == "valid")
        try await waitUntil(limit: .seconds(8)) { kiosk.journal.entries.contains { $0["PASSAGE"] == "timeout" } }
        // The annul reaches the service with the next sync round.
        try await waitUntil(limit: .seconds(8)) { (try? status()) == "unused" }
        let log = try admin.call("GET", "/api/events/\(event)/checkins?limit=50", expect: 200)["checkins"] as! [[String: Any]]
        #expect(log.contains { $0["result"] as? String == "annulled" }, "the log keeps both rows")

        // Scanned again at once (the cooldown is forgotten), and this time the arm turns.
        kiosk.settle()
        try kiosk.scene.show(ticket.qrData, offset: 10)
        try await waitUntil(limit: .seconds(6)) { kiosk.decisions.count >= 2 }
        kiosk.scene.clear()
        #expect(kiosk.decisions.last?["CHECKIN_RESULT"] == "valid")
        try await Task.sleep(for: .milliseconds(300))
        try lane.write("passage", "1")
        try await waitUntil(limit: .seconds(3)) { kiosk.journal.entries.contains { $0["PASSAGE"] == "confirmed" } }
        try lane.write("passage", "0")
        try await Task.sleep(for: .seconds(3))
        #expect(try status() == "used", "a confirmed admission stays")
    }

    /// The uplink goes just after an admission nobody passed on was taken back, before the
    /// service heard the annul: the snapshot (whose pages said the ticket was used) shows it as
    /// before, so the holder is let in offline; back online, the annul and the offline entry
    /// reach the service in that order — one passage, no conflict.
    @Test func a_guest_taken_back_is_admitted_offline_when_the_uplink_goes() async throws {
        let lane = try DryRunLane(
            event: "Outage",
            inputs: ["passage": "0"],
            settings: ["passage=sensor", "passage_timeout_ms=3000", "cooldown_ms=20000"]
        )
        let kiosk = lane.kiosk
        try await kiosk.waitForSnapshot(1)
        let snapshot = lane.state + "/offline.sqlite"
        let first = try await kiosk.scan(lane.ticket.qrData)
        #expect(first["CHECKIN_RESULT"] == "valid")
        // The service's pages bring the admission to the snapshot while the arm waits.
        try await waitUntil(limit: .seconds(3)) { (try? OfflineGateTests().query(snapshot, "SELECT status FROM tickets")) == "used" }
        try await waitUntil(limit: .seconds(8)) { kiosk.journal.entries.contains { $0["PASSAGE"] == "timeout" } }
        lane.service.stop()

        kiosk.settle()
        try kiosk.scene.show(lane.ticket.qrData, offset: 10)
        try await waitUntil(limit: .seconds(8)) { kiosk.decisions.count >= 2 }
        kiosk.scene.clear()
        let again = try #require(kiosk.decisions.last)
        #expect(again["MESSAGE"] == "Check-in decided offline" && again["CHECKIN_RESULT"] == "valid", "\(again)")
        try await Task.sleep(for: .milliseconds(300))
        try lane.write("passage", "1")
        try await waitUntil(limit: .seconds(3)) { kiosk.journal.entries.filter { $0["PASSAGE"] == "confirmed" }.count == 1 }
        try lane.write("passage", "0")

        let service = try ServiceProcess(databasePath: lane.folder.file("g.sqlite"), port: lane.port)
        let admin = try AdminClient(service)
        try await waitUntil(limit: .seconds(10)) { kiosk.journal.entries.contains { $0["MESSAGE"] == "Offline check-ins uploaded" } }
        let ticket = try admin.call("GET", "/api/tickets/\(lane.ticket.id)", expect: 200)
        #expect(ticket["status"] as? String == "used")
        let log = try OfflineGateTests().checkins(admin, lane.event)
        #expect(log.filter { $0["result"] as? String == "annulled" }.count == 1, "\(log)")
        #expect(log.filter { $0["offline"] as? Bool == true }.count == 1, "\(log)")
        #expect(try admin.call("GET", "/api/events/\(lane.event)", expect: 200)["conflicts"] as? Int == 0)
    }
}
