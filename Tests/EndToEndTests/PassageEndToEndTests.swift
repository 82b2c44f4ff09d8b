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
}
