import Foundation
import GatehouseCore
import GatehouseHarness
import Testing

/// Lane modes over the API on every store: the organizer sets a kiosk's mode, the kiosk's sync
/// page carries it, the kiosk reports what it applied, and the lanes list shows both.
@Suite struct LaneModeRouteTests {
    @Test(arguments: StoreKind.available)
    func the_organizers_mode_reaches_the_kiosk_and_its_report_comes_back(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let kiosk = try await admin.addDevice(event: event, gate: "north-1")
            let phone = try await admin.call(
                "POST",
                "/api/devices",
                ["name": "Phone", "gateId": "north-1", "eventId": event, "kind": "scanner"],
                expect: 201
            )
            #expect(try await admin.call("GET", "/api/events/\(event)/lanes", expect: 200)["lanes"] as? [Any] != nil)

            let set = try await admin.call("PUT", "/api/devices/\(kiosk.id)/lane-mode", ["mode": "locked"], expect: 200)
            #expect(set["requested"] as? String == "locked" && set["reported"] == nil)
            let page = try await admin.json("GET", "/api/sync/tickets", bearer: kiosk.token).json()
            #expect(page["laneMode"] as? String == "locked")

            // The key switch outranks the organizer: the lane reports free, set by the switch.
            let report: [String: Any] = ["deviceId": kiosk.id, "gateId": "north-1", "mode": "free", "source": "key_switch"]
            #expect(try await admin.json("POST", "/api/devices/\(kiosk.id)/lane", report, bearer: kiosk.token).status == 204)
            let lanes = try await admin.call("GET", "/api/events/\(event)/lanes", expect: 200)["lanes"] as! [[String: Any]]
            #expect(lanes.count == 1 && lanes[0]["requested"] as? String == "locked" && lanes[0]["reported"] as? String == "free")
            #expect(lanes[0]["reportedSource"] as? String == "key_switch" && lanes[0]["reportedAt"] is String)
            #expect(lanes[0]["alarm"] == nil)

            // A fire alarm holding the lane open is reported with why, and its end clears it.
            var alarmed = report
            alarmed["alarm"] = "panel contact open"
            #expect(try await admin.json("POST", "/api/devices/\(kiosk.id)/lane", alarmed, bearer: kiosk.token).status == 204)
            func alarm() async throws -> String? {
                let lanes = try await admin.call("GET", "/api/events/\(event)/lanes", expect: 200)["lanes"] as! [[String: Any]]
                return lanes[0]["alarm"] as? String
            }
            #expect(try await alarm() == "panel contact open")
            alarmed["alarm"] = "two\nlines"
            #expect(try await admin.json("POST", "/api/devices/\(kiosk.id)/lane", alarmed, bearer: kiosk.token).status == 400)
            alarmed["alarm"] = String(repeating: "x", count: 129)
            #expect(try await admin.json("POST", "/api/devices/\(kiosk.id)/lane", alarmed, bearer: kiosk.token).status == 400)
            #expect(try await alarm() == "panel contact open", "a refused report changes nothing")
            #expect(try await admin.json("POST", "/api/devices/\(kiosk.id)/lane", report, bearer: kiosk.token).status == 204)
            #expect(try await alarm() == nil)

            // Cleared: no mode on the page.
            _ = try await admin.call("PUT", "/api/devices/\(kiosk.id)/lane-mode", ["mode": NSNull()], expect: 200)
            #expect(try await admin.json("GET", "/api/sync/tickets", bearer: kiosk.token).json()["laneMode"] == nil)

            // What is refused: a phone (no lane), an unknown device or mode, another device's report.
            _ = try await admin.call("PUT", "/api/devices/\(phone["deviceId"] as! String)/lane-mode", ["mode": "free"], expect: 400)
            _ = try await admin.call("PUT", "/api/devices/DNOSUCH1/lane-mode", ["mode": "free"], expect: 404)
            _ = try await admin.call("PUT", "/api/devices/\(kiosk.id)/lane-mode", ["mode": "open"], expect: 400)
            let other = try await admin.addDevice(event: event, gate: "south-1")
            #expect(try await admin.json("POST", "/api/devices/\(kiosk.id)/lane", report, bearer: other.token).status == 401)
            #expect(try await admin.json("POST", "/api/devices/\(kiosk.id)/lane", report).status == 401)
            var wrongGate = report
            wrongGate["gateId"] = "south-1"
            #expect(try await admin.json("POST", "/api/devices/\(kiosk.id)/lane", wrongGate, bearer: kiosk.token).status == 403)
        }
    }
}
