import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

/// A dry-run kiosk with a passage sensor (`--inputs DIR/passage`) against the real service: an
/// admission nobody passes on is annulled on the service, so the ticket admits at the next scan;
/// one the turnstile confirms stays used.
@Suite struct PassageEndToEndTests {
    @Test func no_passage_gives_the_ticket_back_and_a_passage_keeps_it_used() async throws {
        let folder = try TemporaryDirectory()
        let port = ServiceProcess.freePort()
        let service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        let admin = try AdminClient(service)
        let event = try admin.createEvent("Turnstile")
        let device = try admin.addDevice(event: event, gate: "north-1")
        let ticket = try admin.issue(event: event)[0]
        let inputs = folder.file("inputs")
        try FileManager.default.createDirectory(atPath: inputs, withIntermediateDirectories: true)
        let passageFile = inputs + "/passage"
        try "0\n".write(toFile: passageFile, atomically: true, encoding: .utf8)
        let state = folder.file("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let kiosk = try OfflineGateTests.DryRunKiosk(
            folder: folder,
            name: "north",
            port: port,
            device: device,
            state: state,
            extra: ["--inputs", inputs, "--set", "passage=sensor", "--set", "passage_timeout_ms=3000", "--set", "cooldown_ms=20000"]
        )
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
        try "1\n".write(toFile: passageFile, atomically: true, encoding: .utf8)
        try await waitUntil(limit: .seconds(3)) { kiosk.journal.entries.contains { $0["PASSAGE"] == "confirmed" } }
        try "0\n".write(toFile: passageFile, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .seconds(3))
        #expect(try status() == "used", "a confirmed admission stays")
    }
}
