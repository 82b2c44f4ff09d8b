import Foundation
import GatehouseCore
import GatehouseStore
import HTTPTypes
import Hummingbird
import NIOCore

/// The organizer's web pages under `/admin`: events, tickets, printable sheets, CSV import and
/// export, the check-in log with its numbers, devices and pairing codes.
///
/// Sign-in is the browser's own HTTP Basic prompt with the admin token as the password (any user
/// name): no cookies, no sessions to steal. Because a browser then sends the credential with any
/// request to this origin, every form must come from our own pages (`WebForm.isSameOrigin`).
/// Every form answers with a redirect (post/redirect/get), so reload and back repeat nothing;
/// a refused form comes back with what was typed and the message in the form's own words.
struct OrganizerSite: Sendable {
    let gatehouse: Gatehouse
    let auth: AdminAuthMiddleware
    let form: WebForm
    let clock: OrganizerClock
    let vault: CodeVault
    let imports: ImportJobs

    /// Tickets one form may issue (the CSV import takes more, in the background).
    static let maximumPerForm = 500
    /// The largest CSV file the import takes.
    static let maximumImportBytes = 8 * 1024 * 1024

    func add(to router: Router<GatehouseRequestContext>) {
        addEventPages(to: router)
        addTicketPages(to: router)
        addCheckinPages(to: router)
        addDevicePages(to: router)
        // Any other address under /admin: a page that says so, not the API's JSON.
        router.get("admin/**") { request, context in
            await handle(request, context) { throw NotFoundError("page \(request.uri.path)") }
        }
    }

    // MARK: Request handling

    /// What a page handler gives back: a page, a redirect, or another response (CSV, JSON).
    enum Outcome {
        case page(WebPage)
        case redirect(String)
        case response(Response)
    }

    /// Checks the credential (and, for forms, the origin), runs `body`, and turns errors into
    /// friendly pages with the status the API would give. `refused` re-renders a form with the
    /// message when the body throws an input error.
    func handle(
        _ request: Request,
        _ context: GatehouseRequestContext,
        isForm: Bool = false,
        refused: ((String) async throws -> WebPage)? = nil,
        _ body: () async throws -> Outcome
    ) async -> Response {
        guard let token = Self.adminToken(request), auth.admits(token) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Basic realm=\"Gatehouse admin\", charset=\"UTF-8\""
            let page = WebPage(
                title: "Sign in",
                body: "<p>Sign in with the admin token as the password (any user name).</p>",
                status: .unauthorized,
                organizerMenu: false
            )
            return WebPage.response(status: .unauthorized, contentType: "text/html; charset=utf-8", body: page.html, headers: headers)
        }
        if isForm && !form.isSameOrigin(request, peer: context.remoteHost) {
            return WebPage(
                title: "Refused",
                body: "<p>This form was not sent from Gatehouse's own pages, so nothing was done.</p><p><a href=\"/admin\">Back to events</a></p>",
                status: .forbidden
            ).response
        }
        do {
            switch try await body() {
            case .page(let page): return page.response
            case .redirect(let location): return WebPage.redirect(to: location)
            case .response(let response): return response
            }
        } catch {
            // A form that cannot be read is the sender's fault (400), said in the page's words.
            let problem =
                error is WebFormError
                ? Problem(.badRequest, "\(error)")
                : ProblemMiddleware<GatehouseRequestContext>.problem(for: error, context: context, outages: gatehouse.outages)
            let message = error is WebFormError ? problem.detail : WebForm.inFormWords(problem.detail)
            if let refused, problem.status == .badRequest {
                if var page = try? await refused(message) {
                    page.status = .unprocessableContent
                    return page.response
                }
            }
            return WebPage(
                title: problem.status == .notFound ? "Not found" : problem.status.reasonPhrase,
                body: "\(HTML.errorBox(message))<p><a href=\"/admin\">Back to events</a></p>",
                status: problem.status
            ).response
        }
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

    static func optional(_ value: String?) -> String? {
        let trimmed = value?.trimmingCharacters(in: .whitespaces) ?? ""
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A query parameter as a form sent it: `+` is a space (a GET form is URL-encoded, and
    /// "Ada Lovelace" arrives as `Ada+Lovelace`), `%2B` a plus.
    static func query(_ request: Request, _ name: String) -> String? {
        let fields = (try? WebForm.decodeURLEncoded(request.uri.query ?? "")) ?? [:]
        return fields[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The tabs of one event's pages.
    static func eventTabs(_ event: Event, current: String) -> String {
        let id = HTML.escape(event.id)
        let tabs = [
            ("overview", "Overview", "/admin/events/\(id)"), ("tickets", "Tickets", "/admin/events/\(id)/tickets"),
            ("checkins", "Check-ins", "/admin/events/\(id)/checkins"), ("devices", "Devices", "/admin/events/\(id)/devices"),
        ]
        let links = tabs.map { key, label, href in "<li><a href=\"\(href)\"\(key == current ? " aria-current=page" : "")>\(label)</a></li>" }
        return "<p class=crumbs><a href=\"/admin\">Events</a> › \(HTML.escape(event.name))</p><ul class=tabs>\(links.joined())</ul>"
    }

    static func resultBadge(_ result: CheckinResult) -> String {
        let tone = result == .valid ? "ok" : result == .alreadyUsed ? "warn" : "bad"
        return "<span class=\"badge \(tone)\">\(resultWords(result))</span>"
    }

    static func statusBadge(_ status: TicketStatus) -> String {
        let tone = status == .unused ? "ok" : status == .used ? "warn" : "bad"
        return "<span class=\"badge \(tone)\">\(HTML.escape(status.rawValue))</span>"
    }
}

/// Times on the organizer's pages: in the organizer's time zone (`--time-zone`), UTC beside it;
/// a `datetime-local` field is read in that zone.
struct OrganizerClock: Sendable {
    let timeZone: TimeZone

    func display(_ date: Date?) -> String {
        guard let date else { return "—" }
        let local = format(date, "EEE d MMM yyyy, HH:mm", timeZone)
        if ["UTC", "GMT", "Etc/UTC"].contains(timeZone.identifier) { return local + " UTC" }
        let zone = timeZone.abbreviation(for: date) ?? timeZone.identifier
        return "\(local) \(zone) <span class=muted>(\(format(date, "HH:mm", TimeZone(identifier: "UTC")!)) UTC)</span>"
    }

    /// A time of day on the organizer's clock, 24-hour, with its zone: "20:14:03 CET".
    func timeOfDay(_ date: Date) -> String {
        format(date, "HH:mm:ss", timeZone) + " " + (timeZone.abbreviation(for: date) ?? timeZone.identifier)
    }

    /// The value a `datetime-local` field shows for `date`.
    func fieldValue(_ date: Date?) -> String? { date.map { format($0, "yyyy-MM-dd'T'HH:mm", timeZone) } }

    /// A `datetime-local` value (no zone: the organizer's), or a full ISO 8601 time.
    func parse(_ text: String?, field: String) throws -> Date? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if text.hasSuffix("Z") || text.contains("+"), let date = ISO8601Time.parse(text) { return date }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        for pattern in ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm"] {
            formatter.dateFormat = pattern
            if let date = formatter.date(from: text) { return date }
            // A well-formed time that this zone's clocks skip (the hour daylight saving time
            // begins) is said so, not called "not a date".
            formatter.timeZone = TimeZone(identifier: "UTC")
            if formatter.date(from: text) != nil {
                throw InvalidInputError(
                    "\(field) \(text) does not exist in \(timeZone.identifier): the clocks skip that hour there (daylight saving time begins); pick a time an hour later"
                )
            }
            formatter.timeZone = timeZone
        }
        throw InvalidInputError("\(field) \(text) is not a date and time such as 2026-12-31T20:00")
    }

    private func format(_ date: Date, _ pattern: String, _ zone: TimeZone) -> String {
        Self.formatters.format(date, pattern, zone)
    }

    /// A log page shows a hundred times and the live view renders again every two seconds: the
    /// formatters are made once per pattern and zone, and used under a lock (they are not Sendable).
    private static let formatters = FormatterCache()
}

private final class FormatterCache: @unchecked Sendable {
    private let lock = NSLock()
    private var formatters: [String: DateFormatter] = [:]

    func format(_ date: Date, _ pattern: String, _ zone: TimeZone) -> String {
        lock.withLock {
            let key = pattern + "|" + zone.identifier
            let formatter =
                formatters[key]
                ?? {
                    let made = DateFormatter()
                    made.locale = Locale(identifier: "en_US_POSIX")
                    made.timeZone = zone
                    made.dateFormat = pattern
                    formatters[key] = made
                    return made
                }()
            return formatter.string(from: date)
        }
    }
}
