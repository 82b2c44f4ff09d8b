import Foundation
import GatehouseTestSupport
import QRRendering
import Testing

/// The organizer's web pages, through the router in-process, on each store: sign-in, the
/// same-origin rule, post/redirect/get, refused forms that keep what was typed, and each page's
/// job (events, tickets, sheets, import, export, check-ins, devices).
@Suite struct OrganizerPagesRouteTests {
    func basic(_ password: String) -> String { "Basic " + Data("organizer:\(password)".utf8).base64EncodedString() }
    func signedIn(_ web: RouteClient) -> [String: String] { ["Authorization": basic(web.adminToken)] }
    func form(_ web: RouteClient, type: String = "application/x-www-form-urlencoded") -> [String: String] {
        signedIn(web).merging(["Content-Type": type, "Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"]) { $1 }
    }
    func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
    func get(_ web: RouteClient, _ path: String) async throws -> RouteResponse { try await web.request("GET", path, headers: signedIn(web)) }

    /// Posts a form and follows its redirect, as a browser does.
    func submit(_ web: RouteClient, _ path: String, _ body: String) async throws -> (location: String, page: RouteResponse) {
        let posted = try await web.request("POST", path, body: Array(body.utf8), headers: form(web))
        #expect(posted.status == 303, "\(path): \(posted.status) \(posted.text.prefix(300))")
        let location = try #require(posted.headers["location"])
        return (location, try await get(web, location))
    }

    func issued(_ web: RouteClient, _ event: String) async throws -> Int? {
        try await web.call("GET", "/api/events/\(event)", expect: 200)["issued"] as? Int
    }

    static func codes(on sheet: String) -> [String] {
        sheet.components(separatedBy: "<span class=\"code one-line\">").dropFirst().map { String($0.prefix { $0 != "<" }) }
    }

    @Test(arguments: StoreKind.available)
    func pages_need_the_admin_token_and_carry_strict_headers(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            for headers in [[:], ["Authorization": basic("wrong-token")], ["Authorization": "Bearer wrong-token"]] {
                // No credential that works: off to the sign-in page, and back here after it.
                let response = try await web.request("GET", "/admin", headers: headers)
                #expect(response.status == 303 && response.headers["location"] == "/signin?next=/admin")
                var unsigned = form(web)
                unsigned["Authorization"] = nil
                let posted = try await web.request("POST", "/admin/events", headers: unsigned.merging(headers) { $1 })
                #expect(posted.status == 401 || posted.status == 403, "a form without a credential does nothing")
            }
            let event = try await web.createEvent()
            let pages = [
                "/admin", "/admin/events/\(event)", "/admin/events/\(event)/edit", "/admin/events/\(event)/tickets",
                "/admin/events/\(event)/checkins",
                "/admin/events/\(event)/devices", "/admin/events/\(event)/registration",
            ]
            for path in pages {
                let page = try await get(web, path)
                #expect(page.status == 200, "\(path)")
                #expect(page.headers["cache-control"] == "no-store", "\(path)")
                let policy = page.headers["content-security-policy"] ?? ""
                #expect(
                    policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe-inline"),
                    "\(path)"
                )
                #expect(page.text.contains("/static/gatehouse.") && page.text.contains("href=\"/scanner\""), "\(path): stylesheet, scanner link")
                #expect(
                    !page.text.contains("<script>") && !page.text.contains(" style=") && !page.text.contains(" onclick="),
                    "\(path): nothing inline"
                )
            }
            let missing = try await get(web, "/admin/events/ENOSUCH1")
            #expect(missing.status == 404 && missing.headers["content-type"]?.hasPrefix("text/html") == true, "an HTML page, not JSON")
            #expect(missing.text.contains("Back to events"))
            let typo = try await get(web, "/admin/events/\(event)/tikets")
            #expect(typo.status == 404 && typo.headers["content-type"]?.hasPrefix("text/html") == true && !typo.text.contains("{\"detail\""))
            let css = try await web.request("GET", "/static/gatehouse.css")
            #expect(css.status == 200 && css.headers["content-type"]?.hasPrefix("text/css") == true)
            #expect(try await web.request("GET", "/static/nothing.js").status == 404)
        }
    }

    @Test(arguments: StoreKind.available)
    func issuing_redirects_to_a_sheet_that_reloads_without_issuing_again(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let (location, overview) = try await submit(web, "/admin/events", "name=Winter+Gala+%26+Ball&startsAt=2026-12-31T20%3A00&endsAt=")
            let event = String(location.dropFirst("/admin/events/".count))
            #expect(overview.text.contains("Winter Gala &amp; Ball") && overview.text.contains("Thu 31 Dec 2026, 20:00 UTC"))
            #expect(try await web.call("GET", "/api/events/\(event)", expect: 200)["startsAt"] as? String == "2026-12-31T20:00:00.000Z")

            let hostile = "<script>alert(1)</script>"
            let (sheetPath, sheet) = try await submit(web, "/admin/events/\(event)/tickets", "count=3&holderName=\(encoded(hostile))&ticketType=VIP")
            #expect(sheet.status == 200 && sheet.headers["cache-control"] == "no-store")
            #expect(!sheet.text.contains(hostile) && sheet.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(sheet.text.contains("Thu 31 Dec 2026, 20:00 UTC"), "the event's date on each card")
            let codes = Self.codes(on: sheet.text)
            let images = sheet.text.components(separatedBy: "data:image/svg+xml;base64,").dropFirst().map { String($0.prefix { $0 != "\"" }) }
            #expect(codes.count == 3 && images.count == 3)
            for (code, image) in zip(codes, images) {
                #expect(String(decoding: Data(base64Encoded: image) ?? Data(), as: UTF8.self) == (try QRMatrix(encoding: code)).svg(moduleSize: 6))
            }
            // Reload: the same codes, nothing issued again.
            #expect(Self.codes(on: try await get(web, sheetPath).text) == codes)
            #expect(try await issued(web, event) == 3)
            // Another event's address does not show this batch.
            let other = try await web.createEvent("Other")
            #expect(try await get(web, sheetPath.replacingOccurrences(of: event, with: other)).status == 404)
            let device = try await web.addDevice(event: event)
            for code in codes { #expect(try await web.checkinResult(code, device: device) == "valid") }
        }
    }

    @Test(arguments: StoreKind.available)
    func refused_forms_keep_what_was_typed_and_use_the_forms_words(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            for (body, words) in [
                ("count=0&holderName=Ada+L", "How many must be a whole number from 1 to 500"),
                ("count=abc&holderName=Ada+L", "How many must be"),
                ("count=2&holderName=\(String(repeating: "x", count: 201))", "Holder name is longer than 200 characters"),
            ] {
                let response = try await web.request("POST", "/admin/events/\(event)/tickets", body: Array(body.utf8), headers: form(web))
                #expect(response.status == 422, "\(body)")
                #expect(response.text.contains(words), "\(body): \(response.text.prefix(2000))")
                #expect(!response.text.contains("holderName is") && !response.text.contains("count must"), "API words stay out")
                #expect(response.headers["content-type"]?.hasPrefix("text/html") == true)
            }
            let kept = try await web.request(
                "POST",
                "/admin/events/\(event)/tickets",
                body: Array("count=0&holderName=Ada+L".utf8),
                headers: form(web)
            )
            #expect(kept.text.contains("value=\"Ada L\""), "what was typed is still there")
            let badEvent = try await web.request("POST", "/admin/events", body: Array("name=Gala&startsAt=tomorrow".utf8), headers: form(web))
            #expect(
                badEvent.status == 422 && badEvent.text.contains("Starts tomorrow is not a date and time") && badEvent.text.contains("value=\"Gala\"")
            )
            let unnamed = try await web.request("POST", "/admin/events", body: Array("name=+&startsAt=".utf8), headers: form(web))
            #expect(unnamed.status == 422 && unnamed.text.contains("Name must not be empty"))
            #expect(try await issued(web, event) == 0)
        }
    }

    @Test(arguments: StoreKind.available)
    func forms_from_other_origins_are_refused(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            // Posted from another site, another scheme or port: the browser attaches the Basic
            // credential anyway. https against this plain-http service is another origin too.
            let origins: [[String: String]] = [
                ["Sec-Fetch-Site": "cross-site"], ["Sec-Fetch-Site": "same-site"], ["Origin": "https://evil.example"],
                ["Origin": "https://localhost"],
                ["Origin": "http://localhost:8443"], ["Origin": "http://localhost.evil.example"], ["Origin": "null"], [:],
                ["Sec-Fetch-Site": "same-origin", "Origin": "https://localhost"],
            ]
            for extra in origins {
                var headers = signedIn(web).merging(["Content-Type": "application/x-www-form-urlencoded"]) { $1 }
                headers.merge(extra) { $1 }
                let response = try await web.request("POST", "/admin/events/\(event)/tickets", body: Array("count=1".utf8), headers: headers)
                #expect(response.status == 403, "\(extra)")
            }
            // The same origin by its Origin header alone (browsers without Sec-Fetch-Site), the
            // default port written out or not.
            for origin in ["http://localhost", "http://LOCALHOST:80"] {
                let headers = signedIn(web).merging(["Content-Type": "application/x-www-form-urlencoded", "Origin": origin]) { $1 }
                #expect(try await web.request("POST", "/admin/events/\(event)/tickets", body: Array("count=1".utf8), headers: headers).status == 303)
            }
            #expect(try await issued(web, event) == 2, "refused forms issued nothing")
        }
    }

    @Test(arguments: StoreKind.available)
    func tickets_are_searched_revoked_and_reissued_behind_a_confirmation(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            _ = try await web.call(
                "POST",
                "/api/events/\(event)/tickets",
                ["quantity": 1, "holderName": "Ada Lovelace", "email": "ada@example.org", "ticketType": "VIP"],
                expect: 201
            )
            _ = try await web.issue(event: event, quantity: 2)
            let all = try await get(web, "/admin/events/\(event)/tickets")
            #expect(all.text.components(separatedBy: "href=\"/admin/tickets/").count - 1 == 3)
            let found = try await get(web, "/admin/events/\(event)/tickets?q=LOVELACE")
            #expect(found.text.components(separatedBy: "href=\"/admin/tickets/").count - 1 == 1 && found.text.contains("ada@example.org"))
            #expect(found.text.contains("value=\"LOVELACE\""), "the search stays in its box")
            let ticket = String(found.text.components(separatedBy: "href=\"/admin/tickets/")[1].prefix { $0 != "\"" })

            let detail = try await get(web, "/admin/tickets/\(ticket)")
            #expect(detail.text.contains("Ticket #1") && detail.text.contains("Never scanned"))
            // The buttons lead to a confirmation page; nothing happens on GET.
            let confirm = try await get(web, "/admin/tickets/\(ticket)/revoke")
            #expect(confirm.text.contains("Revoke ticket #1?") && confirm.text.contains("method=post"))
            #expect(try await web.call("GET", "/api/tickets/\(ticket)", expect: 200)["status"] as? String == "unused")
            let (_, revoked) = try await submit(web, "/admin/tickets/\(ticket)/revoke", "")
            #expect(revoked.text.contains("Ticket revoked"))
            #expect(try await web.call("GET", "/api/tickets/\(ticket)", expect: 200)["status"] as? String == "revoked")

            let (_, sheet) = try await submit(web, "/admin/tickets/\(ticket)/reissue", "")
            let codes = Self.codes(on: sheet.text)
            #expect(codes.count == 1 && sheet.text.contains("Ada Lovelace"))
            let device = try await web.addDevice(event: event)
            #expect(try await web.checkinResult(codes[0], device: device) == "valid", "re-issued after a revoke: the new code admits")
            let history = try await get(web, "/admin/tickets/\(ticket)")
            #expect(history.text.contains("Check-in history") && history.text.contains("north-1") && history.text.contains("badge ok"))

            let csv = try await get(web, "/admin/events/\(event)/tickets.csv")
            #expect(csv.headers["content-type"]?.hasPrefix("text/csv") == true && csv.headers["content-disposition"]?.contains("attachment") == true)
            let lines = csv.text.split(separator: "\r\n")
            #expect(lines.count == 4 && lines[0] == "number,ticketId,holderName,email,ticketType,status,usedAt,usedGate")
            #expect(lines[1].hasPrefix("1,\(ticket),Ada Lovelace,ada@example.org,VIP,used,"))
            #expect(!csv.text.contains(codes[0]), "no codes in the export: only hashes are stored")
        }
    }

    @Test(arguments: StoreKind.available)
    func a_csv_import_names_each_bad_row_or_issues_every_row(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            func upload(_ csv: String) async throws -> RouteResponse {
                let boundary = "----gatehouse-test-boundary"
                let body =
                    "--\(boundary)\r\nContent-Disposition: form-data; name=\"holders\"; filename=\"holders.csv\"\r\nContent-Type: text/csv\r\n\r\n\(csv)\r\n"
                    + "--\(boundary)\r\nContent-Disposition: form-data; name=\"ticketType\"\r\n\r\nStandard\r\n--\(boundary)--\r\n"
                return try await web.request(
                    "POST",
                    "/admin/events/\(event)/import",
                    body: Array(body.utf8),
                    headers: form(web, type: "multipart/form-data; boundary=\(boundary)")
                )
            }
            let refused = try await upload("Holder name,E-mail\nAda,ada@example.org\nBob,not-an-address\n")
            #expect(refused.status == 422 && refused.text.contains("1 row needs fixing; nothing was issued"))
            #expect(refused.text.contains("E-mail &#39;not-an-address&#39; is not an e-mail address") && refused.text.contains(">3<"))
            #expect(try await issued(web, event) == 0)
            let unknown = try await upload("name\nAda\n")
            #expect(unknown.status == 422 && unknown.text.contains("unknown column &#39;name&#39;"), "\(unknown.text)")

            let rows = (1...1200).map { "Holder \($0),h\($0)@example.org" }.joined(separator: "\n")
            let started = try await upload("holderName,email\n" + rows + "\n")
            #expect(started.status == 303)
            let progress = try #require(started.headers["location"])
            var done = false
            for _ in 0..<200 where !done {
                let state = try JSONSerialization.jsonObject(with: Data(try await get(web, progress + "/progress").text.utf8)) as? [String: Any]
                done = state?["done"] as? Bool == true
                if !done { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(done)
            let page = try await get(web, progress)
            #expect(page.text.contains("1200 of 1200 tickets issued") && page.text.contains("Print the codes"))
            let sheetPath = String(page.text.components(separatedBy: "href=\"/admin/events/\(event)/sheets/")[1].prefix { $0 != "\"" })
            let sheet = try await get(web, "/admin/events/\(event)/sheets/\(sheetPath)")
            #expect(Self.codes(on: sheet.text).count == 96 && sheet.text.contains("Sheet 1 of 13"), "several codes per page, in pages")
            #expect(try await issued(web, event) == 1200)
            let typed = try await get(web, "/admin/events/\(event)/tickets?q=h7%40example.org")
            #expect(typed.text.contains("Standard"), "the form's ticket type for rows without one")
        }
    }

    /// What failed an organizer at the door (issue #24): search with a space, #17 and other
    /// cases; paging past the end; the import's errors where the import is; semicolon files; a
    /// wrong-event row; a time the clocks skip; the live view's clock.
    @Test(arguments: StoreKind.available)
    func searches_pages_imports_and_times_say_what_they_found(_ kind: StoreKind) async throws {
        try await withService(kind, timeZone: "Europe/Berlin") { web in
            let event = try await web.createEvent()
            _ = try await web.issue(event: event, extra: ["holderName": "Ada Lovelace", "email": "ada@example.org"])
            _ = try await web.issue(event: event, extra: ["holderName": "Zoë Ångström"])
            let spaced = try await get(web, "/admin/events/\(event)/tickets?q=Ada+Lovelace")
            #expect(spaced.text.contains("Ada Lovelace</td>") && spaced.text.contains("value=\"Ada Lovelace\""), "a form's + is a space")
            #expect(try await get(web, "/admin/events/\(event)/tickets?q=%232").text.contains("Zoë Ångström"), "#2 finds ticket 2")
            #expect(try await get(web, "/admin/events/\(event)/tickets?q=ZO%C3%8B").text.contains("Zoë Ångström"), "ZOË is")
            let list = try await get(web, "/admin/events/\(event)/tickets")
            #expect(list.text.contains("Page 1 of 1") && list.text.contains("2 tickets"))
            let past = try await get(web, "/admin/events/\(event)/tickets?page=999")
            #expect(past.text.contains("There is no page 999") && !past.text.contains("No tickets yet"))

            // The import's refusals in the import's panel, the typed ticket type kept.
            let boundary = "----gatehouse-test-boundary"
            func upload(_ file: String?, type: String) async throws -> RouteResponse {
                var body = ""
                if let file {
                    body +=
                        "--\(boundary)\r\nContent-Disposition: form-data; name=\"holders\"; filename=\"h.csv\"\r\nContent-Type: text/csv\r\n\r\n\(file)\r\n"
                }
                body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"ticketType\"\r\n\r\n\(type)\r\n--\(boundary)--\r\n"
                return try await web.request(
                    "POST",
                    "/admin/events/\(event)/import",
                    body: Array(body.utf8),
                    headers: form(web, type: "multipart/form-data; boundary=\(boundary)")
                )
            }
            let noFile = try await upload(nil, type: "Standing")
            let importPanel = noFile.text.components(separatedBy: "<section class=panel id=import>").last ?? ""
            #expect(noFile.status == 422 && importPanel.contains("Choose a CSV file") && importPanel.contains("value=\"Standing\""))
            let unclosed = try await upload("holderName\n\"never closed\n", type: "Standing")
            #expect((unclosed.text.components(separatedBy: "<section class=panel id=import>").last ?? "").contains("is not closed"))
            let semicolons = try await upload("Holder name;E-mail\nGrace Hopper;grace@example.org\n", type: "Standing")
            #expect(semicolons.status == 303, "a semicolon-separated file is read: \(semicolons.text.prefix(300))")

            // Another event's ticket scanned here: not shown as one of ours.
            let other = try await web.createEvent("Other")
            let foreign = try await web.issue(event: other)[0]
            let gate = try await web.addDevice(event: event)
            #expect(try await web.checkinResult(foreign.qrData, device: gate) == "wrong_event")
            let log = try await get(web, "/admin/events/\(event)/checkins")
            #expect(log.text.contains("another event&#39;s") || log.text.contains("another event's"))
            #expect(!log.text.contains("/admin/tickets/\(foreign.id)"))
            let live = try await get(web, "/admin/events/\(event)/checkins/live?after=0")
            let updated = try JSONSerialization.jsonObject(with: Data(live.text.utf8)) as? [String: Any]
            let clock = updated?["updated"] as? String ?? ""
            #expect(
                clock.range(of: #"^\d\d:\d\d:\d\d (CET|CEST|GMT\+1|GMT\+2)$"#, options: .regularExpression) != nil,
                "the organizer's clock: \(clock)"
            )

            // 02:30 on the last Sunday of March does not exist in Berlin: said so.
            let gap = try await web.request(
                "POST",
                "/admin/events",
                body: Array("name=Spring&startsAt=2026-03-29T02%3A30".utf8),
                headers: form(web)
            )
            #expect(gap.status == 422 && gap.text.contains("does not exist in Europe/Berlin"), "\(gap.text.prefix(400))")
        }
    }

    @Test(arguments: StoreKind.available)
    func the_checkin_log_filters_counts_and_feeds_the_live_view(_ kind: StoreKind) async throws {
        // The service's clock stands still: "this minute" is the minute of the service's clock,
        // and a slow machine's scans must not fall into the minute before the count is read.
        try await withService(kind, now: stillClock()) { web in
            let event = try await web.createEvent()
            let tickets = try await web.issue(event: event, quantity: 2)
            let north = try await web.addDevice(event: event, gate: "north-1")
            let south = try await web.addDevice(event: event, gate: "south-2")
            #expect(try await web.checkinResult(tickets[0].qrData, device: north) == "valid")
            #expect(try await web.checkinResult(tickets[0].qrData, device: south) == "already_used")
            #expect(try await web.checkinResult("GH:\(event):AAAAAAAAAAAAAAAAAAAAAAAAAA", device: south) == "not_found")
            let log = try await get(web, "/admin/events/\(event)/checkins")
            #expect(log.text.components(separatedBy: "<tr data-id=").count - 1 == 3)
            #expect(log.text.contains("already used") && log.text.contains("unknown") && log.text.contains("per minute"))
            let refusals = try await get(web, "/admin/events/\(event)/checkins?gate=south-2&result=already_used")
            #expect(refusals.text.components(separatedBy: "<tr data-id=").count - 1 == 1)
            let nonsense = try await get(web, "/admin/events/\(event)/checkins?result=nonsense")
            #expect(nonsense.status == 400 && nonsense.text.contains("Result nonsense is not a check-in result"))
            let newest = String(log.text.components(separatedBy: "data-after=\"")[1].prefix { $0 != "\"" })
            let quiet = try JSONSerialization.jsonObject(
                with: Data(try await get(web, "/admin/events/\(event)/checkins/live?after=\(newest)").text.utf8)
            )
            #expect(((quiet as? [String: Any])?["rows"] as? [Any])?.isEmpty == true)
            #expect(try await web.checkinResult(tickets[1].qrData, device: north) == "valid")
            let live = try await get(web, "/admin/events/\(event)/checkins/live?after=\(newest)")
            let update = try #require(try JSONSerialization.jsonObject(with: Data(live.text.utf8)) as? [String: Any])
            let rows = try #require(update["rows"] as? [[String: Any]])
            // The live view sends data, never markup: checkins.js builds the row from text.
            #expect(rows.count == 1 && (rows[0]["result"] as? [String: Any])?["tone"] as? String == "ok")
            #expect(rows.first?["html"] == nil && rows.first?["gateId"] as? String == "north-1")
            let counts = try #require(update["counts"] as? [String: Any])
            #expect((counts["thisMinute"] as? Int ?? 0) >= 1, "\(counts)")
            #expect(String(decoding: try JSONSerialization.data(withJSONObject: counts), as: UTF8.self).contains("north-1"))
            // Which way each scan went: an exit reads "Out", on the page and in the live feed.
            #expect(rows.first?["direction"] as? String == "In")
            let exit = try await web.json(
                "POST",
                "/api/checkin",
                ["qrData": tickets[1].qrData, "deviceId": south.id, "gateId": south.gate, "direction": "exit"],
                bearer: south.token
            )
            #expect(exit.status == 200)
            let outward = try await get(web, "/admin/events/\(event)/checkins?result=exit")
            #expect(outward.text.contains("<th>Way</th>") && outward.text.contains("data-label=\"Way\">Out</td>"))
        }
    }

    @Test(arguments: StoreKind.available)
    func check_in_lists_are_made_edited_and_removed_with_their_counts(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            let hall = try await web.addDevice(event: event, gate: "hall-a")
            let vip = try await web.issue(event: event, quantity: 1, extra: ["ticketType": "VIP"])[0]
            let plain = try await web.issue(event: event, quantity: 1)[0]

            let made = try await submit(
                web,
                "/admin/events/\(event)/lists",
                "name=Main+hall&gates=\(encoded("hall-a, hall-b"))&ticketTypes=VIP&entry=reentry&capacity=1&opensAt=&closesAt="
            )
            #expect(made.location == "/admin/events/\(event)/lists?done=created")
            #expect(made.page.text.contains("List made.") && made.page.text.contains("Main hall") && made.page.text.contains("hall-a, hall-b"))
            #expect(made.page.text.contains("aria-current=page>Lists</a>"))
            let list = try #require((try await web.call("GET", "/api/events/\(event)/lists", expect: 200)["lists"] as? [[String: Any]])?.first)
            #expect(list["entry"] as? String == "reentry" && list["capacity"] as? Int == 1)
            let id = try #require(list["id"] as? String)

            // The rules hold at its gate, and the page's live feed counts who is inside.
            #expect(try await web.checkinResult(plain.qrData, device: hall) == "not_on_list")
            #expect(try await web.checkinResult(vip.qrData, device: hall) == "valid")
            let live = try JSONSerialization.jsonObject(with: Data(try await get(web, "/admin/events/\(event)/lists/live").text.utf8))
            let counts = try #require(live as? [String: Any])
            let listed = try #require((counts["lists"] as? [[String: Any]])?.first)
            #expect(counts["inside"] as? Int == 1 && listed["inside"] as? Int == 1 && listed["full"] as? Bool == true)

            // A gate another list holds is refused, and the form keeps what was typed.
            let clash = try await web.request(
                "POST",
                "/admin/events/\(event)/lists",
                body: Array("name=Side+door&gates=hall-b&entry=once".utf8),
                headers: form(web)
            )
            #expect(clash.status == 409 && clash.text.contains("hall-b") && clash.text.contains("value=\"Side door\""))
            let badCapacity = try await web.request(
                "POST",
                "/admin/events/\(event)/lists",
                body: Array("name=Side+door&capacity=many".utf8),
                headers: form(web)
            )
            #expect(badCapacity.status == 422 && badCapacity.text.contains("Capacity must be a whole number"))

            // Edited: the form shows the list as it is; saving replaces it.
            let edit = try await get(web, "/admin/lists/\(id)/edit")
            #expect(edit.text.contains("value=\"hall-a, hall-b\"") && edit.text.contains("<option value=\"reentry\" selected>"))
            let saved = try await submit(web, "/admin/lists/\(id)", "name=Main+hall&gates=hall-a&ticketTypes=&entry=once&capacity=")
            #expect(saved.location == "/admin/events/\(event)/lists?done=saved" && saved.page.text.contains("every type"))
            // Removed: its gate admits every type, once, again.
            let removed = try await web.request("POST", "/admin/lists/\(id)/delete", body: [], headers: form(web))
            #expect(removed.status == 303 && removed.headers["location"] == "/admin/events/\(event)/lists?done=deleted")
            #expect((try await web.call("GET", "/api/events/\(event)/lists", expect: 200)["lists"] as? [Any])?.isEmpty == true)
            #expect(try await web.checkinResult(plain.qrData, device: hall) == "valid")
        }
    }

    @Test(arguments: StoreKind.available)
    func devices_are_listed_paired_and_revoked(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            let kiosk = try await web.addDevice(event: event, gate: "north-1")
            let ticket = try await web.issue(event: event)[0]
            #expect(try await web.checkinResult(ticket.qrData, device: kiosk) == "valid")
            let list = try await get(web, "/admin/events/\(event)/devices")
            #expect(list.text.contains("north-1") && list.text.contains("badge ok") && list.text.contains("Revoke…"))

            let (pairingPath, pairing) = try await submit(web, "/admin/events/\(event)/pairings", "gateId=south-2&name=Door+phone&minutes=15")
            let code = String(pairing.text.components(separatedBy: "id=pairing-code>")[1].prefix { $0 != "<" })
            #expect(code.count == 19 && pairing.text.contains("gate <b>south-2</b>"))
            #expect(Self.codes(on: pairing.text).isEmpty && pairing.text.contains("data:image/svg+xml;base64,"))
            #expect(try await get(web, pairingPath).text.contains(code), "reload shows the same code")
            let enrolled = try await web.json("POST", "/api/enroll", ["code": code])
            #expect(enrolled.status == 201)

            let refused = try await web.request(
                "POST",
                "/admin/events/\(event)/pairings",
                body: Array("gateId=&name=x&minutes=15".utf8),
                headers: form(web)
            )
            #expect(refused.status == 422 && refused.text.contains("Gate must not be empty") && refused.text.contains("value=\"x\""))

            #expect(try await get(web, "/admin/devices/\(kiosk.id)/revoke?event=\(event)").text.contains("Revoke device"))
            let (_, revoked) = try await submit(web, "/admin/devices/\(kiosk.id)/revoke?event=\(event)", "")
            #expect(revoked.text.contains("Device revoked") && revoked.text.contains("badge bad\">revoked"))
            #expect(try await web.checkin(ticket.qrData, device: kiosk).status == 401)
        }
    }

    @Test(arguments: StoreKind.available)
    func an_event_is_edited_in_the_organizers_time_zone(_ kind: StoreKind) async throws {
        try await withService(kind, timeZone: "Europe/Berlin") { web in
            let event = try await web.createEvent("Gala")
            let (_, page) = try await submit(web, "/admin/events/\(event)", "name=Gala+night&startsAt=2026-07-01T20%3A00&endsAt=2026-07-01T23%3A30")
            #expect(page.text.contains("Gala night"))
            let stored = try await web.call("GET", "/api/events/\(event)", expect: 200)
            #expect(stored["name"] as? String == "Gala night")
            #expect(stored["startsAt"] as? String == "2026-07-01T18:00:00.000Z", "20:00 in Berlin in summer is 18:00 UTC")
            #expect(page.text.contains("Wed 1 Jul 2026, 20:00 ") && page.text.contains("(18:00 UTC)"), "the organizer's time, UTC beside")
            let edit = try await get(web, "/admin/events/\(event)/edit")
            #expect(edit.text.contains("value=\"2026-07-01T20:00\""), "the field shows the organizer's time")
            let backwards = try await web.request(
                "POST",
                "/admin/events/\(event)",
                body: Array("name=Gala&startsAt=2026-07-01T20%3A00&endsAt=2026-07-01T19%3A00".utf8),
                headers: form(web)
            )
            #expect(backwards.status == 422 && backwards.text.contains("Ends must not be before Starts"))
        }
    }

    @Test(arguments: StoreKind.available)
    func the_organizer_opens_registration_and_sends_a_ticket_again(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            let opened = try await submit(
                web,
                "/admin/events/\(event)/registration",
                "open=on&capacity=50&closesAt=&ticketType=Guest&onePerEmail=on"
            )
            #expect(opened.location == "/admin/events/\(event)/registration?done=saved")
            #expect(opened.page.text.contains("Open: people can register") && opened.page.text.contains("/register/\(event)"))
            #expect(opened.page.text.contains("No mail server is set"))
            let shown = try await web.call("GET", "/api/events/\(event)", expect: 200)["registration"] as? [String: Any]
            #expect(shown?["open"] as? Bool == true && shown?["capacity"] as? Int == 50 && shown?["ticketType"] as? String == "Guest")
            // A refused form keeps what was typed.
            let refused = try await web.request(
                "POST",
                "/admin/events/\(event)/registration",
                body: Array("open=on&capacity=lots".utf8),
                headers: form(web)
            )
            #expect(refused.status == 422 && refused.text.contains("whole number") && refused.text.contains("value=\"lots\""))
            let ticket = try await web.call("POST", "/api/events/\(event)/tickets", ["email": "zoe@example.org", "holderName": "Zoë"], expect: 201)
            let ticketId = try #require((ticket["tickets"] as? [[String: Any]])?.first?["id"] as? String)
            let confirm = try await get(web, "/admin/tickets/\(ticketId)/send")
            #expect(confirm.text.contains("Send ticket #1 again?") && confirm.text.contains("zoe@example.org"))
            let sent = try await submit(web, "/admin/tickets/\(ticketId)/send", "")
            #expect(sent.page.text.contains("A new code is on its way") && sent.page.text.contains("queued"))
            let page = try await get(web, "/admin/events/\(event)/registration")
            #expect(page.text.contains("#1") && page.text.contains("zoe@example.org"))
            // The old code was replaced: it no longer checks in.
            let oldCode = try #require((ticket["tickets"] as? [[String: Any]])?.first?["qrData"] as? String)
            let device = try await web.addDevice(event: event)
            let answer = try await web.json(
                "POST",
                "/api/checkin",
                ["qrData": oldCode, "deviceId": device.id, "gateId": device.gate, "scanId": "s1"],
                bearer: device.token
            )
            #expect(try answer.json()["result"] as? String == "not_found")
        }
    }

    @Test(arguments: StoreKind.available)
    func an_import_can_mail_each_holder_and_failures_are_sent_again_in_one_go(_ kind: StoreKind) async throws {
        try await withService(kind) { web in
            let event = try await web.createEvent()
            let boundary = "----gatehouse-test-boundary"
            let csv = "Holder name,E-mail\nAda,ada@example.org\nBob,\nCy,cy@example.org\n"
            let body =
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"holders\"; filename=\"holders.csv\"\r\nContent-Type: text/csv\r\n\r\n\(csv)\r\n"
                + "--\(boundary)\r\nContent-Disposition: form-data; name=\"mail\"\r\n\r\non\r\n--\(boundary)--\r\n"
            let started = try await web.request(
                "POST",
                "/admin/events/\(event)/import",
                body: Array(body.utf8),
                headers: form(web, type: "multipart/form-data; boundary=\(boundary)")
            )
            let progress = try #require(started.headers["location"])
            var page = try await get(web, progress)
            for _ in 0..<200 where !page.text.contains("Done.") {
                try await Task.sleep(for: .milliseconds(50))
                page = try await get(web, progress)
            }
            #expect(page.text.contains("2 ticket mails queued") && page.text.contains("1 without an e-mail address, not mailed: #2"), "\(page.text)")
            var mails = try await web.call("GET", "/api/events/\(event)/mails", expect: 200)["mails"] as! [[String: Any]]
            #expect(mails.count == 2 && mails.allSatisfy { $0["state"] as? String == "pending" })
            // Nothing failed for good yet: the page offers no retry.
            #expect(!(try await get(web, "/admin/events/\(event)/registration")).text.contains("every failed address"))
            let retried = try await submit(web, "/admin/events/\(event)/mails/retry", "")
            #expect(retried.page.text.contains("were sent again"))
            mails = try await web.call("GET", "/api/events/\(event)/mails", expect: 200)["mails"] as! [[String: Any]]
            #expect(mails.count == 2, "nothing failed, nothing sent again")
            // The issue form mails too, and says what it needs first.
            let noAddress = try await web.request("POST", "/admin/events/\(event)/tickets", body: Array("count=1&mail=on".utf8), headers: form(web))
            #expect(noAddress.status == 422 && noAddress.text.contains("E-mail is needed"))
            _ = try await submit(web, "/admin/events/\(event)/tickets", "count=1&holderName=Dee&email=dee%40example.org&mail=on")
            mails = try await web.call("GET", "/api/events/\(event)/mails", expect: 200)["mails"] as! [[String: Any]]
            #expect(mails.count == 3 && mails.contains { $0["recipient"] as? String == "dee@example.org" })
        }
    }
}
