import Foundation
import GatehouseCore
import GatehouseStore
import HTTPTypes
import Hummingbird
import NIOCore
import QRRendering

/// Web pages for organizers under `/admin`: list and create events, issue tickets and show their
/// QR codes (once: only hashes are stored, so a code is shown at issue time or after a re-issue).
///
/// Sign-in is the browser's own HTTP Basic prompt with the admin token as the password (any user
/// name): no cookies, no sessions to steal. Because a browser then sends the credential with any
/// request to this origin, every form POST must come from our own pages — `Sec-Fetch-Site:
/// same-origin`, or an `Origin` whose host is this request's host — which stops cross-site forms.
struct AdminPages {
    let gatehouse: Gatehouse
    let auth: AdminAuthMiddleware
    /// Tickets one form may issue: one page shows them all.
    static let maximumPerPage = 500

    func add(to router: Router<GatehouseRequestContext>) {
        let pages = router.group("admin")
        pages.get { request, context in
            try await page(request, context) {
                let events = try await gatehouse.events()
                return HTML.document(title: "Events", body: Self.eventList(events) + Self.newEventForm)
            }
        }
        pages.post("events") { request, context in
            try await page(request, context, isForm: true) {
                let form = try await Self.form(request, context)
                let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
                let event = try await gatehouse.createEvent(
                    name: name,
                    startsAt: try Self.time(form["startsAt"], "start"),
                    endsAt: try Self.time(form["endsAt"], "end")
                )
                throw Redirect(to: "/admin/events/\(event.id)")
            }
        }
        pages.get("events/:id") { request, context in
            try await page(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                return HTML.document(title: event.name, body: Self.eventPage(event))
            }
        }
        pages.post("events/:id/tickets") { request, context in
            try await page(request, context, isForm: true, noStore: true) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                let form = try await Self.form(request, context)
                guard let count = Int(form["count"] ?? ""), (1...Self.maximumPerPage).contains(count) else {
                    throw InvalidInputError("count must be a whole number from 1 to \(Self.maximumPerPage)")
                }
                let one = Gatehouse.TicketRequest(holderName: Self.optional(form["holderName"]), ticketType: Self.optional(form["ticketType"]))
                let issued = try await gatehouse.issueTickets(eventId: event.id, Array(repeating: one, count: count))
                return HTML.document(title: "\(count) tickets for \(event.name)", body: try Self.ticketSheet(event, issued))
            }
        }
    }

    // MARK: Request handling

    /// Checks the credential (and, for forms, the origin), runs `body`, and turns errors into
    /// HTML pages with the status the API would give.
    private func page(
        _ request: Request,
        _ context: GatehouseRequestContext,
        isForm: Bool = false,
        noStore: Bool = false,
        _ body: () async throws -> String
    ) async throws -> Response {
        guard let token = Self.adminToken(request), auth.admits(token) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Basic realm=\"Gatehouse admin\", charset=\"UTF-8\""
            return Self.response(
                .unauthorized,
                HTML.document(title: "Sign in", body: "<p>Sign in with the admin token as the password (any user name).</p>"),
                headers: headers
            )
        }
        if isForm && !Self.isSameOrigin(request) {
            return Self.response(.forbidden, HTML.document(title: "Refused", body: "<p>This form was not sent from Gatehouse's own pages.</p>"))
        }
        do {
            var headers = HTTPFields()
            if noStore { headers[.cacheControl] = "no-store" }
            return Self.response(.ok, try await body(), headers: headers)
        } catch let redirect as Redirect {
            return Response(status: .seeOther, headers: [.location: redirect.location])
        } catch {
            let problem = ProblemMiddleware<GatehouseRequestContext>.problem(for: error, context: context, outages: gatehouse.outages)
            return Self.response(
                problem.status,
                HTML.document(
                    title: problem.status.reasonPhrase,
                    body: "<p>\(HTML.escape(problem.detail))</p><p><a href=\"/admin\">Back to events</a></p>"
                )
            )
        }
    }

    private struct Redirect: Error {
        var location: String
        init(to location: String) { self.location = location }
    }

    private static func response(_ status: HTTPResponse.Status, _ html: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        // Pages show codes and names: never framed by another site, never sniffed as something else.
        fields[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"
        fields[.xContentTypeOptions] = "nosniff"
        fields[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The admin token from `Authorization: Basic base64(user:token)`, or from a Bearer header.
    static func adminToken(_ request: Request) -> String? {
        if let bearer = request.bearerToken { return bearer }
        guard let value = request.headers[.authorization], value.count > 6, value.prefix(6).lowercased() == "basic " else { return nil }
        guard let decoded = Data(base64Encoded: String(value.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return String(text[text.index(after: colon)...])
    }

    /// A form from our own pages: the browser says so (`Sec-Fetch-Site`), or its `Origin` names
    /// this host. A request with neither (not a browser form) is refused too.
    static func isSameOrigin(_ request: Request) -> Bool {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!] { return site == "same-origin" }
        guard let origin = request.headers[HTTPField.Name("Origin")!], let host = request.head.authority ?? request.headers[HTTPField.Name("Host")!]
        else {
            return false
        }
        return URL(string: origin).flatMap { url in url.host.map { $0 + (url.port.map { ":\($0)" } ?? "") } } == host
    }

    /// An `application/x-www-form-urlencoded` body (at most 64 KiB).
    static func form(_ request: Request, _ context: GatehouseRequestContext) async throws -> [String: String] {
        var buffer = try await request.body.collect(upTo: 64 * 1024)
        let text = buffer.readString(length: buffer.readableBytes) ?? ""
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) -> String? { part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let key = parts.first.flatMap(decoded) else { throw InvalidInputError("the form is not URL-encoded") }
            guard let value = parts.count > 1 ? decoded(parts[1]) : "" else { throw InvalidInputError("the form field \(key) is not URL-encoded") }
            fields[key] = value
        }
        return fields
    }

    static func optional(_ value: String?) -> String? {
        let trimmed = value?.trimmingCharacters(in: .whitespaces) ?? ""
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A `datetime-local` field (the browser's local time, sent without a zone) taken as UTC, or an ISO 8601 time.
    static func time(_ value: String?, _ what: String) throws -> Date? {
        guard let text = optional(value) else { return nil }
        if let date = APIJSON.parseDate(text) ?? APIJSON.parseDate(text + ":00Z") ?? APIJSON.parseDate(text + "Z") { return date }
        throw InvalidInputError("the \(what) time \(text) is not a date and time such as 2026-12-31T20:00")
    }

    // MARK: Pages

    static func eventList(_ events: [Event]) -> String {
        guard !events.isEmpty else { return "<p>No events yet.</p>" }
        let rows = events.map { event in
            "<tr><td><a href=\"/admin/events/\(HTML.escape(event.id))\">\(HTML.escape(event.name))</a></td><td><code>\(HTML.escape(event.id))</code></td>"
                + "<td>\(event.startsAt.map { HTML.escape($0.iso8601Millis) } ?? "")</td><td class=n>\(event.issued)</td><td class=n>\(event.used)</td></tr>"
        }
        return "<table><tr><th>Event</th><th>Id</th><th>Starts (UTC)</th><th>Issued</th><th>Used</th></tr>\(rows.joined())</table>"
    }

    static let newEventForm = """
        <h2>New event</h2>
        <form method="post" action="/admin/events">
        <label>Name <input name="name" required maxlength="200"></label>
        <label>Starts (UTC) <input name="startsAt" type="datetime-local"></label>
        <label>Ends (UTC) <input name="endsAt" type="datetime-local"></label>
        <button>Create event</button>
        </form>
        """

    static func eventPage(_ event: Event) -> String {
        """
        <p><a href="/admin">All events</a></p>
        <p>Id <code>\(HTML.escape(event.id))</code> · \(event.issued) tickets issued · \(event.used) used</p>
        <h2>Issue tickets</h2>
        <p>The codes are shown once, on the next page: print it or save it as PDF. Gatehouse keeps
        only a hash of each code; to show a code again, re-issue the ticket (the old code stops working).</p>
        <form method="post" action="/admin/events/\(HTML.escape(event.id))/tickets">
        <label>How many <input name="count" type="number" min="1" max="\(maximumPerPage)" value="1" required></label>
        <label>Holder name <input name="holderName" maxlength="200"></label>
        <label>Ticket type <input name="ticketType" maxlength="100"></label>
        <button>Issue</button>
        </form>
        """
    }

    static func ticketSheet(_ event: Event, _ issued: [IssuedTicket]) throws -> String {
        var cards = ""
        for item in issued {
            let svg = try QRMatrix(encoding: item.qrData).svg(moduleSize: 6)
            // Inline as an image: the SVG text is our own drawing, but an <img> cannot run anything.
            let image = "data:image/svg+xml;base64," + Data(svg.utf8).base64EncodedString()
            cards += """
                <div class=card><img alt="QR code of ticket \(item.ticket.number)" src="\(image)">
                <p><b>\(HTML.escape(event.name))</b> · #\(item.ticket.number)\(item.ticket.holderName.map { " · " + HTML.escape($0) } ?? "")\(item.ticket.ticketType.map { " · " + HTML.escape($0) } ?? "")</p>
                <p><code>\(HTML.escape(item.qrData))</code></p></div>
                """
        }
        return "<p class=noprint><a href=\"/admin/events/\(HTML.escape(event.id))\">Back to the event</a> · These codes are not shown again.</p>"
            + cards
    }
}

/// Minimal HTML writing: every text from a user goes through `escape`.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func document(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title)) · Gatehouse</title>
        <style>
        body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}
        table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ccc;text-align:left}.n{text-align:right}
        label{display:block;margin:.5em 0}button{margin-top:.5em}
        .card{display:inline-block;width:16em;margin:.5em;padding:.5em;border:1px solid #999;page-break-inside:avoid;vertical-align:top}
        .card img{width:100%}code{word-break:break-all}
        @media print{.noprint,h1{display:none}body{margin:0}}
        </style></head>
        <body><h1>\(escape(title))</h1>
        \(body)
        </body></html>
        """
    }
}
