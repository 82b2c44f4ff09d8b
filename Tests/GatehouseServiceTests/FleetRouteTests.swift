import Foundation
import GatehouseHarness
import Synchronization
import Testing

@testable import GatehouseAPI

/// Heartbeats and the fleet: a device reports itself, the service keeps the latest and its last
/// 50 events, and `GET /api/events/{id}/devices` and the gates pages judge each device from it.
@Suite struct FleetRouteTests {
    @Test(arguments: StoreKind.available)
    func heartbeats_make_each_device_s_state_and_silence_is_said(_ kind: StoreKind) async throws {
        let clock = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let now: @Sendable () -> Date = { clock.withLock { $0 } }
        // Alone: its clock starts where the conformance fixtures' does, and its service's
        // background work would reach their rows in a shared database.
        try await withService(kind, now: now, alone: true) { admin in
            let event = try await admin.createEvent()
            let kiosk = try await admin.addDevice(event: event, gate: "north-1")
            let other = try await admin.addDevice(event: event, gate: "south-1")
            func fleet() async throws -> [String: [String: Any]] {
                let devices = try await admin.call("GET", "/api/events/\(event)/devices", expect: 200)["devices"] as! [[String: Any]]
                return Dictionary(uniqueKeysWithValues: devices.map { ($0["deviceId"] as! String, $0) })
            }
            func beat(_ body: [String: Any], _ device: DeviceCredentials, path: String? = nil) async throws -> Int {
                var full = body
                full["deviceId"] = full["deviceId"] ?? device.id
                full["gateId"] = full["gateId"] ?? device.gate
                return try await admin.json("POST", "/api/devices/\(path ?? device.id)/heartbeat", full, bearer: device.token).status
            }

            // Never heard: silent, no time.
            var devices = try await fleet()
            #expect(devices[kiosk.id]?["state"] as? String == "silent" && devices[kiosk.id]?["lastHeartbeatAt"] == nil)
            #expect(devices[kiosk.id]?["problems"] as? [String] == ["silent"])

            let healthy: [String: Any] = [
                "version": "2026.12.1", "uptimeSeconds": 120, "camera": "ok", "framesPerSecond": 14.8, "decoder": "zbar+zxing",
                "codesPerMinute": 3, "lastDecision": "valid #17", "online": true, "snapshotAgeSeconds": 2, "snapshotTickets": 500,
                "backlog": 0, "clockTrusted": true, "laneMode": "normal", "diskFreeBytes": 8_000_000_000, "diskFreePercent": 61.5,
                "cpuTemperatureCelsius": 51.2, "undervoltage": false, "throttled": false,
                "events": [["at": "2027-01-15T08:00:00.000Z", "kind": "camera_online", "detail": "/dev/gate-camera"]],
            ]
            #expect(try await beat(healthy, kiosk) == 204)
            devices = try await fleet()
            #expect(devices[kiosk.id]?["state"] as? String == "ok" && devices[kiosk.id]?["problems"] as? [String] == [])
            let kept = try #require(devices[kiosk.id]?["heartbeat"] as? [String: Any])
            #expect(kept["framesPerSecond"] as? Double == 14.8 && kept["snapshotTickets"] as? Int == 500 && kept["events"] == nil)
            #expect(devices[kiosk.id]?["lastHeartbeatAt"] as? String == "2027-01-15T08:00:00.000Z")

            // Trouble: every problem listed, the worst is the state.
            var troubled = healthy
            troubled["camera"] = "offline"
            troubled["cameraDetail"] = "no frames for 2 s"
            troubled["online"] = false
            troubled["backlog"] = 12
            troubled["cpuTemperatureCelsius"] = 83.0
            troubled["undervoltage"] = true
            troubled["snapshotAgeSeconds"] = 900
            troubled["diskFreeBytes"] = 50_000_000
            troubled["events"] = (0..<60).map {
                ["at": "2027-01-15T08:00:\(String(format: "%02d", $0 % 60)).000Z", "kind": "lane_mode", "detail": "mode \($0)"]
            }
            #expect(try await beat(troubled, kiosk) == 400, "more than 50 events in one heartbeat")
            troubled["events"] = (0..<50).map { ["at": "2027-01-15T08:01:00.000Z", "kind": "lane_mode", "detail": "mode \($0)"] }
            #expect(try await beat(troubled, kiosk) == 204)
            devices = try await fleet()
            #expect(devices[kiosk.id]?["state"] as? String == "camera_offline")
            #expect(
                devices[kiosk.id]?["problems"] as? [String]
                    == ["camera_offline", "offline", "stale_snapshot", "backlog", "low_disk", "hot", "undervoltage"]
            )
            // The device's page: its figures and its last 50 events, newest first (the first one gone).
            let page = try await admin.request("GET", "/admin/devices/\(kiosk.id)", headers: ["Authorization": "Bearer \(admin.adminToken)"])
            #expect(page.status == 200)
            #expect(page.text.contains("mode 49") && page.text.contains("no frames for 2 s") && !page.text.contains("camera online"))
            let gates = try await admin.request("GET", "/admin/events/\(event)/gates", headers: ["Authorization": "Bearer \(admin.adminToken)"])
            #expect(gates.status == 200 && gates.text.contains("camera offline") && gates.text.contains("badge bad state"))

            // 31 s later without a word: silent, whatever it said before.
            clock.withLock { $0 += 31 }
            devices = try await fleet()
            #expect(devices[kiosk.id]?["state"] as? String == "silent" && devices[kiosk.id]?["problems"] as? [String] == ["silent"])
            #expect(devices[kiosk.id]?["heartbeat"] != nil, "the last figures stay readable")

            // What is refused: another device's token, none, a wrong gate, a path that is not the body's device, bad values.
            #expect(try await beat(healthy, other, path: kiosk.id) == 400)
            var stolen = healthy
            stolen["deviceId"] = kiosk.id
            stolen["gateId"] = kiosk.gate
            #expect(try await beat(stolen, other, path: kiosk.id) == 401)
            #expect(try await admin.json("POST", "/api/devices/\(kiosk.id)/heartbeat", ["deviceId": kiosk.id, "gateId": kiosk.gate]).status == 401)
            var moved = healthy
            moved["gateId"] = "south-1"
            #expect(try await beat(moved, kiosk) == 403)
            for (field, value) in [
                ("camera", "broken" as Any), ("lastDecision", "two\nlines"), ("diskFreePercent", 140.0), ("cpuTemperatureCelsius", 900.0),
                ("events", [["at": "2027-01-15T08:00:00.000Z", "kind": "Camera-Lost", "detail": "x"]]), ("uptimeSeconds", -1),
            ] {
                var bad = healthy
                bad[field] = value
                #expect(try await beat(bad, kiosk) == 400, "\(field)")
            }
            _ = try await admin.call("GET", "/api/events/ENOSUCHEV/devices", expect: 404)
            #expect(try await admin.json("GET", "/api/events/\(event)/devices").status == 401)
        }
    }
}
