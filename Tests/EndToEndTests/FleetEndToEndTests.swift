import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A dry-run kiosk's heartbeats against the real service: its figures reach the fleet API, a
/// camera that goes shows within one heartbeat (on the API, the gates page and the device's
/// events), and a killed kiosk is called silent within 30 s. Its figures also go to a textfile and
/// its own `/metrics`.
@Suite struct FleetEndToEndTests {
    @Test func a_kiosk_s_heartbeats_show_its_camera_and_its_silence() async throws {
        let collector = try TemporaryDirectory()
        let textfile = collector.file("gate_kiosk.prom")
        let metricsPort = ServiceProcess.freePort()
        let lane = try DryRunLane(
            event: "Fleet",
            inputs: [:],
            settings: ["metrics_textfile=\(textfile)", "metrics_listen=127.0.0.1:\(metricsPort)"]
        )
        let (admin, event, kiosk) = (lane.admin, lane.event, lane.kiosk)
        func me() -> [String: Any]? {
            let devices = (try? admin.call("GET", "/api/events/\(event)/devices", expect: 200)["devices"]) as? [[String: Any]]
            return devices?.first { $0["deviceId"] as? String == lane.device.id }
        }
        func state() -> String? { me()?["state"] as? String }

        try await waitUntil(limit: .seconds(15)) { state() == "ok" }
        let heartbeat = try #require(me()?["heartbeat"] as? [String: Any])
        #expect(heartbeat["version"] as? String == ProductVersion.current)
        #expect(heartbeat["camera"] as? String == "ok" && heartbeat["decoder"] as? String == "zbar+zxing")
        #expect(heartbeat["clockTrusted"] as? Bool == true && (heartbeat["diskFreeBytes"] as? Int ?? 0) > 0)
        // The same figures for node_exporter's textfile collector, in a form promtool accepts.
        try await waitUntil(limit: .seconds(5)) { FileManager.default.fileExists(atPath: textfile) }
        let figures = try String(contentsOfFile: textfile, encoding: .utf8)
        #expect(figures.contains("gate_kiosk_camera_up 1\n") && figures.contains("gate_kiosk_snapshot_tickets 1\n"), "\(figures)")
        #expect(figures.contains("gate_kiosk_lane_mode{mode=\"normal\"} 1\n"))
        let promtool = Process()
        promtool.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        promtool.arguments = ["check", "metrics"]
        promtool.standardInput = FileHandle(forReadingAtPath: textfile)
        let said = Pipe()
        promtool.standardOutput = said
        promtool.standardError = said
        try promtool.run()
        promtool.waitUntilExit()
        #expect(promtool.terminationStatus == 0, "\(String(decoding: said.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        #expect(heartbeat["laneMode"] as? String == "normal" && heartbeat["backlog"] as? Int == 0 && heartbeat["snapshotTickets"] as? Int == 1)
        // And at the box's own /metrics, for a Prometheus server that scrapes it directly.
        let scraped = try HTTPConnection(port: metricsPort).request("GET", "/metrics")
        #expect(scraped.status == 200 && scraped.text.contains("gate_kiosk_camera_up 1\n") && scraped.text.contains("gate_kiosk_info{"))
        #expect(try HTTPConnection(port: metricsPort).request("GET", "/").status == 404)
        #expect(try HTTPConnection(port: metricsPort).request("POST", "/metrics", body: [1, 2]).status == 405)

        // The camera goes: said within one heartbeat, with the event on the device's page.
        let gone = ContinuousClock.now
        try FileManager.default.removeItem(atPath: kiosk.scene.folder)
        try await waitUntil(limit: .seconds(15)) { state() == "camera_offline" }
        print("fleet: camera gone → camera_offline on the API in \((ContinuousClock.now - gone).wholeMilliseconds) ms (heartbeat every 10 s)")
        try await waitUntil(limit: .seconds(12)) { (try? admin.page("/admin/devices/\(lane.device.id)"))?.contains("camera offline") == true }
        #expect(try admin.page("/admin/events/\(event)/gates").contains("camera offline"))

        // Killed: silent within 30 s of its last heartbeat.
        kill(kiosk.process.processIdentifier, SIGKILL)
        let killed = ContinuousClock.now
        try await waitUntil(limit: .seconds(45)) { state() == "silent" }
        print("fleet: kiosk killed → silent on the API after \((ContinuousClock.now - killed).wholeMilliseconds) ms")
    }
}
