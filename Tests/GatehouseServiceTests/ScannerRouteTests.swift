import Foundation
import GatehouseImage
import GatehouseTestSupport
import QRRendering
import Testing

/// The staff scanner's routes in-process: the page itself, its session, ticket details and frame
/// decoding — each only for an enrolled, unrevoked device, and only within its own event.
@Suite struct ScannerRouteTests {
    @Test func the_page_is_an_installable_app_with_only_our_scripts() async throws {
        try await withService { web in
            let page = try await web.request("GET", "/scanner")
            #expect(page.status == 200 && page.headers["cache-control"] == "no-store")
            #expect(page.headers["content-security-policy"]?.contains("script-src 'self'") == true)
            #expect(page.text.contains("/static/scanner.") && page.text.contains("rel=\"manifest\""))
            #expect(!page.text.contains("<script>") && !page.text.contains(" style="))
            let manifest = try JSONSerialization.jsonObject(with: Data(try await web.request("GET", "/scanner/manifest.webmanifest").text.utf8))
            let app = try #require(manifest as? [String: Any])
            #expect(app["display"] as? String == "standalone" && app["start_url"] as? String == "/scanner")
            #expect((app["icons"] as? [[String: Any]])?.count == 2)
            let icon = try await web.request("GET", "/static/icon-192.png")
            #expect(icon.status == 200 && icon.headers["content-type"] == "image/png")
            #expect(try await web.request("GET", "/scanner/sw.js").headers["content-type"]?.hasPrefix("text/javascript") == true)
            #expect(try await web.request("GET", "/static/scanner.js").text.contains("mode: 'validate'"))
        }
    }

    @Test(arguments: StoreKind.available)
    func a_paired_phone_sees_its_session_and_its_events_details_only(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent("Gala")
            let phone = try await web.addDevice(event: event, gate: "door")
            #expect(try await web.json("GET", "/api/scanner/session").status == 401)
            #expect(try await web.json("GET", "/api/scanner/session", bearer: "ghd_wrong").status == 401)
            let session = try await web.json("GET", "/api/scanner/session", bearer: phone.token)
            #expect(session.status == 200)
            let who = try #require(try JSONSerialization.jsonObject(with: Data(session.text.utf8)) as? [String: Any])
            #expect(who["gateId"] as? String == "door" && who["eventName"] as? String == "Gala" && who["deviceId"] as? String == phone.id)

            let mine = try await web.call(
                "POST",
                "/api/events/\(event)/tickets",
                ["quantity": 1, "holderName": "Ada", "email": "ada@example.org", "ticketType": "VIP"],
                expect: 201
            )
            let ticket = try #require((mine["tickets"] as? [[String: Any]])?.first?["id"] as? String)
            let details = try await web.json("GET", "/api/scanner/tickets/\(ticket)", bearer: phone.token)
            let fields = try #require(try JSONSerialization.jsonObject(with: Data(details.text.utf8)) as? [String: Any])
            #expect(fields["email"] as? String == "ada@example.org" && fields["ticketType"] as? String == "VIP" && fields["number"] as? Int == 1)
            #expect(fields["qrData"] == nil && fields["tokenHash"] == nil)

            let other = try await web.createEvent("Other")
            let foreign = try await web.issue(event: other)[0]
            let foreignAnswer = try await web.json("GET", "/api/scanner/tickets/\(foreign.id)", bearer: phone.token)
            let noneAnswer = try await web.json("GET", "/api/scanner/tickets/TNOSUCHTICKET00000", bearer: phone.token)
            #expect(foreignAnswer.status == 404 && noneAnswer.status == 404, "another event's ticket")
            #expect(foreignAnswer.text == noneAnswer.text, "a phone cannot tell another event's ticket from no ticket")

            // Revoked: the phone is signed out everywhere.
            _ = try await web.call("POST", "/api/devices/\(phone.id)/revoke", expect: 200)
            #expect(try await web.json("GET", "/api/scanner/session", bearer: phone.token).status == 401)
            #expect(try await web.json("GET", "/api/scanner/tickets/\(ticket)", bearer: phone.token).status == 401)
        }
    }

    @Test func frames_from_a_phone_are_decoded_by_our_reader() async throws {
        try await withService { web in
            let event = try await web.createEvent()
            let phone = try await web.addDevice(event: event, gate: "door")
            let code = try await web.issue(event: event)[0].qrData
            let qr = try QRMatrix(encoding: code).greyImage(scale: 5)
            var pixels = [UInt8](repeating: 200, count: 640 * 480)
            for y in 0..<qr.height { for x in 0..<qr.width { pixels[(y + 40) * 640 + x + 120] = qr.pixels[y * qr.width + x] } }
            // As a phone does: a frame answered "busy" (503: decoders taken, or the frame took too
            // long on a loaded machine) or "too fast" (429) is sent again after the wait named.
            func decode(_ bytes: [UInt8], width: Int = 640, height: Int = 480, token: String? = phone.token) async throws -> RouteResponse {
                var headers = ["Content-Type": "application/octet-stream"]
                if let token { headers["Authorization"] = "Bearer \(token)" }
                var answer = try await web.request("POST", "/api/scanner/decode?width=\(width)&height=\(height)", body: bytes, headers: headers)
                for _ in 0..<10 where answer.status == 503 || answer.status == 429 {
                    try await Task.sleep(for: .seconds(Int(answer.headers["retry-after"] ?? "1") ?? 1))
                    answer = try await web.request("POST", "/api/scanner/decode?width=\(width)&height=\(height)", body: bytes, headers: headers)
                }
                return answer
            }
            let read = try await decode(pixels)
            #expect(read.status == 200)
            #expect((try JSONSerialization.jsonObject(with: Data(read.text.utf8)) as? [String: Any])?["codes"] as? [String] == [code])
            let empty = try await decode([UInt8](repeating: 128, count: 640 * 480))
            #expect((try JSONSerialization.jsonObject(with: Data(empty.text.utf8)) as? [String: Any])?["codes"] as? [String] == [])
            #expect(try await decode(pixels, token: nil).status == 401)
            #expect(try await decode(Array(pixels.prefix(1000))).status == 400, "fewer bytes than width × height")
            #expect(try await decode(pixels, width: 4000, height: 3000).status == 400, "too large a frame")
        }
    }

    /// A client past a phone's frame rate is told so only after the wait the answer names: it
    /// cannot make the service refuse frames at whatever rate it sends them.
    @Test func frames_past_a_phones_rate_are_refused_after_the_named_wait() async throws {
        // The service's clock stands still: however slowly a loaded machine answers, the frames
        // all fall in one instant, so the rate is passed by count, not by speed.
        try await withService(now: stillClock()) { web in
            let event = try await web.createEvent()
            let phone = try await web.addDevice(event: event, gate: "door")
            let blank = [UInt8](repeating: 128, count: 32 * 32)
            let headers = ["Content-Type": "application/octet-stream", "Authorization": "Bearer \(phone.token)"]
            var refused: (response: RouteResponse, took: Duration)?
            // Eight at once, ten times: past the burst of sixteen in one instant.
            for _ in 0..<10 where refused == nil {
                refused = try await withThrowingTaskGroup(of: (RouteResponse, Duration).self) { group in
                    for _ in 0..<8 {
                        group.addTask {
                            let started = ContinuousClock.now
                            let response = try await web.request("POST", "/api/scanner/decode?width=32&height=32", body: blank, headers: headers)
                            return (response, ContinuousClock.now - started)
                        }
                    }
                    var found: (response: RouteResponse, took: Duration)?
                    for try await (response, took) in group where response.status == 429 && found == nil { found = (response, took) }
                    return found
                }
            }
            let (response, took) = try #require(refused, "80 frames, eight at a time, none refused")
            let wait = try #require(response.headers["retry-after"].flatMap { Int($0) })
            #expect(wait >= 1)
            #expect(took >= .seconds(wait) - .milliseconds(50), "refused after \(took), telling the client to wait \(wait) s")
        }
    }
}
