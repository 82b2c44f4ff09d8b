import Foundation
import GatehouseTestSupport
import Testing

/// Random bytes, huge strings, unicode and SQL fragments: refused or `invalid`, never a 500,
/// and the service keeps answering — through the router in-process, on each store.
@Suite struct HostileInputRouteTests {
    @Test(arguments: StoreKind.available)
    func hostile_bodies_never_break_the_service(_ kind: StoreKind) async throws {
        let logs = LogCapture()
        try await withService(kind, logs: logs) { admin in
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event)
            let ticket = try await admin.issue(event: event)[0]
            var generator = SystemRandomNumberGenerator()

            // Random bytes as the body.
            for size in [0, 1, 17, 512, 4096, 65_536] {
                let connection = admin
                let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let response = try await connection.request(
                    "POST",
                    "/api/checkin",
                    body: bytes,
                    headers: ["Authorization": "Bearer \(device.token)"]
                )
                // A check-in is under 1 KiB: a body past its 4 KiB limit is refused unread.
                #expect(response.status == (size > 4096 ? 413 : 400), "random body of \(size) bytes")
                #expect(response.headers["content-type"] == "application/problem+json")
            }

            // Strange payloads in qrData: answered, as a decision, never as an error.
            let payloads: [String] = [
                "", " ", "\u{0}", "💥🎟️", "GH:", "' OR 1=1 --", "GH:\(event):' OR status='unused", "\"); DROP TABLE tickets; --",
                String(repeating: "Ā", count: 1_000), ticket.qrData + "\u{0}", ticket.qrData.lowercased(),
                String(ticket.qrData.reversed()), ticket.qrData.replacingOccurrences(of: ":", with: "|"),
                String(decoding: (0..<300).map { _ in UInt8.random(in: 1...127, using: &generator) }, as: UTF8.self),
            ]
            let gate = admin
            for payload in payloads {
                let response = try await gate.checkin(payload, device: device)
                #expect(response.status == 200, "payload \(payload.prefix(40))")
                let result = try response.json()["result"] as? String
                #expect(result == "invalid" || result == "not_found", "payload \(payload.prefix(40)): \(result ?? "-")")
            }

            // A 1 MB qrData, or just 5 KB, is over the check-in's body limit: 413, not read whole.
            let huge = try await admin.checkin(String(repeating: "A", count: 1_100_000), device: device)
            #expect(huge.status == 413)
            #expect(try await admin.checkin(String(repeating: "A", count: 5_000), device: device).status == 413)
            let declared = try await admin.request(
                "POST",
                "/api/checkin",
                body: Array("{}".utf8),
                headers: ["Authorization": "Bearer \(device.token)", "Content-Length": "50000000"]
            )
            #expect(declared.status == 413 || declared.status == 400)

            // A gate id past 128 bytes (128 emoji are 512) is refused where it is made, not
            // accepted for a device that then could never check in.
            let emoji = try await admin.json(
                "POST",
                "/api/devices",
                ["name": "x", "gateId": String(repeating: "🚪", count: 128), "eventId": event],
                bearer: admin.adminToken
            )
            #expect(emoji.status == 400 && emoji.text.contains("gateId"))

            // SQL fragments and unicode in names are stored as they are.
            let name = "Robert'); DROP TABLE tickets;-- 🎉 Zoë"
            let odd = try await admin.call("POST", "/api/events", ["name": name], expect: 201)
            #expect(try await admin.call("GET", "/api/events/\(odd["id"] as! String)", expect: 200)["name"] as? String == name)
            let oddTicket = try await admin.call("POST", "/api/events/\(event)/tickets", ["holderName": name, "email": "x'@y"], expect: 201)
            #expect(((oddTicket["tickets"] as! [[String: Any]])[0]["holderName"] as? String) == name)
            _ = try await admin.call("POST", "/api/events", ["name": "tab\tinside"], expect: 400)
            _ = try await admin.call("GET", "/api/events/%27%20OR%201=1", expect: 404)

            // Wrong types and nesting everywhere.
            for body: Any in [[1, 2, 3], ["qrData": ["nested": true]], ["qrData": NSNull()], "just a string"] {
                let data = try JSONSerialization.data(withJSONObject: body, options: [.fragmentsAllowed])
                let response = try await gate.request("POST", "/api/checkin", body: Array(data), headers: ["Authorization": "Bearer \(device.token)"])
                #expect(response.status == 400)
            }

            // Still alive, and the real ticket still works exactly once.
            #expect(try await admin.request("GET", "/healthz").status == 200)
            #expect(try await gate.checkinResult(ticket.qrData, device: device) == "valid")
            #expect(try await gate.checkinResult(ticket.qrData, device: device) == "already_used")
            // A 500 is logged as "Request failed" (the words "internal error" only go to clients).
            #expect(!logs.text.contains("Request failed"), "no request failed inside the service")
        }
    }

    @Test(arguments: StoreKind.available)
    func control_characters_in_ids_are_refused_at_the_edge(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let event = try await admin.createEvent()
            let device = try await admin.addDevice(event: event)
            let gate = admin
            let ticket = try await admin.issue(event: event)[0]
            for (field, body) in [
                ("scanId", try AdminClient.checkinBody(ticket.qrData, device: device, scanId: "a\u{0}A")),
                ("gateId", try AdminClient.checkinBody(ticket.qrData, device: device, gate: "north-1\u{0}")),
                ("deviceId", try AdminClient.checkinBody(ticket.qrData, device: device, deviceId: device.id + "\u{0}")),
                ("scanId", try AdminClient.checkinBody(ticket.qrData, device: device, scanId: "line\nbreak")),
            ] {
                let response = try await gate.request(
                    "POST",
                    "/api/checkin",
                    body: body,
                    headers: ["Authorization": "Bearer \(device.token)", "Content-Type": "application/json"]
                )
                #expect(response.status == 400, "\(field): \(response.status) \(response.text)")
                #expect(response.text.contains(field), "the 400 names \(field): \(response.text)")
            }
            // Nothing of those reached the store: the ticket is still unused, and two scanIds that
            // differ after a NUL do not collide.
            #expect(try await gate.checkinResult(ticket.qrData, device: device, scanId: "plain-1") == "valid")
        }
    }
}
