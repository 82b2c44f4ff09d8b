import Foundation
import GatehouseTestSupport
import QRRendering
import Testing

/// The organizers' web pages, through the router in-process, on each store.
@Suite struct AdminPagesRouteTests {
    func basic(_ password: String) -> String { "Basic " + Data("organizer:\(password)".utf8).base64EncodedString() }
    func signedIn(_ admin: RouteClient) -> [String: String] { ["Authorization": basic(admin.adminToken)] }
    func form(_ admin: RouteClient) -> [String: String] {
        signedIn(admin).merging(["Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"]) { $1 }
    }

    @Test(arguments: StoreKind.available)
    func pages_need_the_admin_token_as_basic_password(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let web = admin
            for headers in [[:], ["Authorization": basic("wrong-token")], ["Authorization": "Bearer wrong-token"]] {
                let response = try await web.request("GET", "/admin", headers: headers)
                #expect(response.status == 401)
                #expect(response.headers["www-authenticate"]?.hasPrefix("Basic realm=") == true)
            }
            let page = try await web.request("GET", "/admin", headers: signedIn(admin))
            #expect(page.status == 200)
            #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
            #expect(page.headers["content-security-policy"]?.contains("frame-ancestors 'none'") == true)
            #expect(page.text.contains("New event"))
        }
    }

    @Test(arguments: StoreKind.available)
    func an_organizer_creates_an_event_and_issues_printable_codes_that_check_in(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let web = admin
            let created = try await web.request(
                "POST",
                "/admin/events",
                body: Array("name=Winter+Gala+%26+Ball&startsAt=2026-12-31T20%3A00&endsAt=".utf8),
                headers: form(admin)
            )
            #expect(created.status == 303)
            let location = try #require(created.headers["location"])
            let event = String(location.dropFirst("/admin/events/".count))
            #expect(try await admin.call("GET", "/api/events/\(event)", expect: 200)["name"] as? String == "Winter Gala & Ball")
            #expect(try await admin.call("GET", "/api/events/\(event)", expect: 200)["startsAt"] as? String == "2026-12-31T20:00:00.000Z")
            #expect(try await web.request("GET", "/admin", headers: signedIn(admin)).text.contains("Winter Gala &amp; Ball"))

            let hostile = "<script>alert(1)</script>"
            let sheet = try await web.request(
                "POST",
                "/admin/events/\(event)/tickets",
                body: Array("count=3&holderName=\(hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&ticketType=VIP".utf8),
                headers: form(admin)
            )
            #expect(sheet.status == 200)
            #expect(sheet.headers["cache-control"] == "no-store", "codes must not stay in caches")
            #expect(!sheet.text.contains(hostile))
            #expect(sheet.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            // Each code on the sheet is a real ticket's: its QR drawing holds it, and it checks in once.
            let codes = sheet.text.components(separatedBy: "<code>").dropFirst().map { String($0.prefix { $0 != "<" }) }
            #expect(codes.count == 3)
            let images = sheet.text.components(separatedBy: "data:image/svg+xml;base64,").dropFirst().map { String($0.prefix { $0 != "\"" }) }
            #expect(images.count == 3)
            for (code, image) in zip(codes, images) {
                let svg = String(decoding: Data(base64Encoded: image) ?? Data(), as: UTF8.self)
                #expect(svg == (try QRMatrix(encoding: code)).svg(moduleSize: 6))
            }
            let device = try await admin.addDevice(event: event)
            for code in codes {
                #expect(try await admin.checkinResult(code, device: device) == "valid")
                #expect(try await admin.checkinResult(code, device: device) == "already_used")
            }
            #expect(try await admin.call("GET", "/api/events/\(event)", expect: 200)["issued"] as? Int == 3)
        }
    }

    @Test(arguments: StoreKind.available)
    func forms_from_other_sites_and_bad_values_are_refused(_ kind: StoreKind) async throws {
        try await withService(kind) { admin in
            let web = admin
            let event = try await admin.createEvent()
            // A form posted from another site (the browser attaches the Basic credential anyway).
            for extra in [["Sec-Fetch-Site": "cross-site"], ["Sec-Fetch-Site": "same-site"], ["Origin": "https://evil.example"], [:]] {
                var headers = signedIn(admin).merging(["Content-Type": "application/x-www-form-urlencoded"]) { $1 }
                headers.merge(extra) { $1 }
                let response = try await web.request("POST", "/admin/events/\(event)/tickets", body: Array("count=1".utf8), headers: headers)
                #expect(response.status == 403, "\(extra)")
            }
            // The same origin by Origin header alone (browsers without Sec-Fetch-Site); the router test
            // framework's requests are for `localhost`.
            let byOrigin = try await web.request(
                "POST",
                "/admin/events/\(event)/tickets",
                body: Array("count=1".utf8),
                headers: signedIn(admin).merging(["Content-Type": "application/x-www-form-urlencoded", "Origin": "http://localhost"]) { $1 }
            )
            #expect(byOrigin.status == 200)
            #expect(try await admin.call("GET", "/api/events/\(event)", expect: 200)["issued"] as? Int == 1, "refused forms issued nothing")

            for (body, status) in [("count=0", 400), ("count=501", 400), ("count=abc", 400), ("count=%ZZ", 400), ("", 400)] {
                let response = try await web.request("POST", "/admin/events/\(event)/tickets", body: Array(body.utf8), headers: form(admin))
                #expect(response.status == status, "\(body)")
                #expect(response.headers["content-type"]?.hasPrefix("text/html") == true)
            }
            #expect(try await web.request("GET", "/admin/events/ENOSUCH1", headers: signedIn(admin)).status == 404)
            #expect(try await web.request("POST", "/admin/events", body: Array("name=&startsAt=tomorrow".utf8), headers: form(admin)).status == 400)
            #expect(try await admin.call("GET", "/api/events/\(event)", expect: 200)["issued"] as? Int == 1)
        }
    }
}
