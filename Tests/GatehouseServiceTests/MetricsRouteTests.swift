import Foundation
import GatehouseHarness
import Testing

/// `GET /metrics`: Prometheus's text format that promtool accepts, counters that move by exactly
/// the check-ins made, the devices' heartbeat gauges, and only the admin or the metrics token.
@Suite struct MetricsRouteTests {
    static let promtool = "/usr/bin/promtool"

    /// The value of one sample line (`name{labels} value`), nil when there is none.
    static func value(_ text: String, _ sample: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    static func promtoolCheck(_ text: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, said)
    }

    @Test(arguments: StoreKind.available)
    func metrics_count_every_check_in_and_pass_promtool(_ kind: StoreKind) async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.promtool),
            "promtool (Debian's prometheus): scripts/install-deps.sh --with-test-tools"
        )
        let metricsToken = "metrics-\(UUID().uuidString)"
        try await withService(kind, metricsToken: metricsToken) { admin in
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event, gate: "north \"1\"")
            let tickets = try await admin.issue(event: event, quantity: 3)
            let store = kind == .sqlite ? "sqlite" : kind == .postgres ? "postgresql" : "mysql"
            let valid = "gatehouse_checkins_total{result=\"valid\",gate=\"north \\\"1\\\"\",store=\"\(store)\"}"
            let used = "gatehouse_checkins_total{result=\"already_used\",gate=\"north \\\"1\\\"\",store=\"\(store)\"}"
            func scrape(_ token: String) async throws -> String {
                let response = try await admin.request("GET", "/metrics", headers: ["Authorization": "Bearer \(token)"])
                #expect(response.status == 200)
                #expect(response.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
                return response.text
            }
            let before = try await scrape(admin.adminToken)
            for ticket in tickets { #expect(try await admin.checkin(ticket.qrData, device: device).status == 200) }
            for ticket in tickets.prefix(2) { #expect(try await admin.checkin(ticket.qrData, device: device).status == 200) }
            let heartbeat: [String: Any] = [
                "deviceId": device.id, "gateId": device.gate, "camera": "ok", "backlog": 4, "snapshotAgeSeconds": 12, "online": true,
            ]
            #expect(try await admin.json("POST", "/api/devices/\(device.id)/heartbeat", heartbeat, bearer: device.token).status == 204)

            let after = try await scrape(metricsToken)
            #expect((Self.value(after, valid) ?? 0) - (Self.value(before, valid) ?? 0) == 3, "\(after)")
            #expect((Self.value(after, used) ?? 0) - (Self.value(before, used) ?? 0) == 2)
            let count = "gatehouse_checkin_duration_seconds_count{store=\"\(store)\"}"
            #expect((Self.value(after, count) ?? 0) - (Self.value(before, count) ?? 0) == 5)
            #expect(after.contains("gatehouse_checkin_duration_seconds_bucket{store=\"\(store)\",le=\"0.00025\"}"), "buckets start well below 5 ms")
            let labels = "{event=\"\(event)\",gate=\"north \\\"1\\\"\",device=\"\(device.id)\"}"
            #expect(Self.value(after, "gatehouse_device_backlog" + labels) == 4)
            #expect(Self.value(after, "gatehouse_device_snapshot_age_seconds" + labels) == 12)
            #expect(Self.value(after, "gatehouse_device_up" + labels) == 1)
            #expect(Self.value(after, "gatehouse_connections") != nil && Self.value(after, "gatehouse_heartbeats_total") == 1)

            let checked = try Self.promtoolCheck(after)
            #expect(checked.status == 0, "promtool check metrics: \(checked.output)")

            // Nobody else reads it: no token, a device's, a wrong one.
            for headers in [[:], ["Authorization": "Bearer \(device.token)"], ["Authorization": "Bearer not-the-token"]] {
                #expect(try await admin.request("GET", "/metrics", headers: headers).status == 401)
            }
            // The metrics token opens nothing else.
            #expect(try await admin.json("GET", "/api/events", bearer: metricsToken).status == 401)
        }
    }
}
