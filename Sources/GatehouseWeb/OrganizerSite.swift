import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird
import NIOCore

/// The organizer's web pages under `/admin`: events, tickets, printable sheets, CSV import and
/// export, the check-in log with its numbers, devices and pairing codes.
///
/// People sign in with their account (`SignInSite`: a session cookie); the admin token still works
/// as an owner's, in HTTP Basic (any user name) or as a Bearer token. Because a browser sends the
/// cookie with any request to this origin, every form must come from our own pages
/// (`WebForm.isSameOrigin`, checked by `OrganizerGate`), and what each role may open is decided
/// by `AccessGate` from `AccessRules.pages`: both are the middleware of every route here.
/// Every form answers with a redirect (post/redirect/get), so reload and back repeat nothing;
/// a refused form comes back with what was typed and the message in the form's own words.
package struct OrganizerSite: Sendable {
    package let gatehouse: Gatehouse
    package let authenticator: Authenticator
    package let clientAddress: ClientAddress
    package let form: WebForm
    package let clock: OrganizerClock
    package let vault: CodeVault
    package let imports: ImportJobs
    /// Whether the service has a mail server, so the pages can say when mail only waits.
    package var mailConfigured = false

    /// Tickets one form may issue (the CSV import takes more, in the background).
    package static let maximumPerForm = 500
    /// The largest CSV file the import takes.
    package static let maximumImportBytes = 8 * 1024 * 1024

    package func add(to router: Router<GatehouseRequestContext>) {
        let admin = router.group("admin")
            .add(middleware: OrganizerGate(form: form))
            .add(
                middleware: AccessGate(
                    authenticator: authenticator,
                    rules: AccessRules.pages,
                    gatehouse: gatehouse,
                    clientAddress: clientAddress,
                    refusals: OrganizerGate.refusals
                )
            )
        addEventPages(to: admin)
        addTicketPages(to: admin)
        addCheckinPages(to: admin)
        addDevicePages(to: admin)
        addListPages(to: admin)
        addFleetPages(to: admin)
        addRegistrationPages(to: admin)
        addAuditPages(to: admin)
        addAccountPages(to: admin)
        // Any other address under /admin: a page that says so, not the API's JSON.
        admin.get("**") { request, context in
            await handle(request, context) { throw NotFoundError("page \(request.uri.path)") }
        }
    }

    // MARK: Request handling

    /// What a page handler gives back: a page, a redirect, or another response (CSV, JSON).
    package enum Outcome {
        case page(WebPage)
        case redirect(String)
        case response(Response)
    }

    /// Runs `body` and turns errors into friendly pages with the status the API would give.
    /// `refused` re-renders a form with the message when the body throws an input error.
    package func handle(
        _ request: Request,
        _ context: GatehouseRequestContext,
        refused: ((String) async throws -> WebPage)? = nil,
        _ body: () async throws -> Outcome
    ) async -> Response {
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
            // A form the organizer can put right (a wrong value, a gate another list holds) comes
            // back with what was typed and the reason.
            if let refused, problem.status == .badRequest || problem.status == .conflict {
                if var page = try? await refused(message) {
                    page.status = problem.status == .conflict ? .conflict : .unprocessableContent
                    return page.response
                }
            }
            return WebPage.message(
                title: problem.status == .notFound ? "Not found" : problem.status.reasonPhrase,
                [],
                error: message,
                back: Link(href: "/admin", label: "Back to events"),
                status: problem.status
            ).response
        }
    }

    package static func optional(_ value: String?) -> String? {
        let trimmed = value?.trimmingCharacters(in: .whitespaces) ?? ""
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A query parameter as a form sent it: `+` is a space (a GET form is URL-encoded, and
    /// "Ada Lovelace" arrives as `Ada+Lovelace`), `%2B` a plus.
    package static func query(_ request: Request, _ name: String) -> String? {
        let fields = (try? WebForm.decodeURLEncoded(request.uri.query ?? "")) ?? [:]
        return fields[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// For anything but a read, a form from our own pages: checked once for every route under /admin,
/// so no handler can forget it. (Who may, `AccessGate` decides after it.)
package struct OrganizerGate: RouterMiddleware {
    package typealias Context = GatehouseRequestContext
    let form: WebForm

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method != .get && request.method != .head && !form.isSameOrigin(request, peer: context.remoteHost) {
            return WebPage.message(
                title: "Refused",
                ["This form was not sent from Gatehouse's own pages, so nothing was done."],
                back: Link(href: "/admin", label: "Back to events"),
                status: .forbidden
            ).response
        }
        return try await next(request, context)
    }

    /// Without a credential a page asks to sign in (a read is sent to the sign-in page, and back
    /// after it); with one that may not, it says why.
    static let refusals = AccessGate.Refusals(
        unauthenticated: { request in
            if request.method == .get || request.method == .head {
                var target = request.uri.path
                if let query = request.uri.query, !query.isEmpty { target += "?" + query }
                let next = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "/-_.~"))) ?? "/admin"
                return WebPage.redirect(to: "/signin?next=\(next)")
            }
            return WebPage.message(
                title: "Sign in",
                ["Your sign-in has ended, so nothing was done. Sign in and send the form again."],
                back: Link(href: "/signin", label: "Sign in"),
                status: .unauthorized,
                organizerMenu: false
            ).response
        },
        forbidden: { _, words in
            WebPage.message(
                title: "Not allowed",
                ["Your account may not open this: \(words). Ask an owner if you need it."],
                back: Link(href: "/admin", label: "Back to events"),
                status: .forbidden
            ).response
        }
    )
}

/// Times on the organizer's pages: in the organizer's time zone (`--time-zone`), UTC beside it;
/// a `datetime-local` field is read in that zone.
package struct OrganizerClock: Sendable {
    package let timeZone: TimeZone

    package init(timeZone: TimeZone) { self.timeZone = timeZone }

    package func display(_ date: Date?) -> TimeText {
        guard let date else { return TimeText(local: "—") }
        let local = format(date, "EEE d MMM yyyy, HH:mm", timeZone)
        if ["UTC", "GMT", "Etc/UTC"].contains(timeZone.identifier) { return TimeText(local: local + " UTC") }
        let zone = timeZone.abbreviation(for: date) ?? timeZone.identifier
        return TimeText(local: "\(local) \(zone)", utcTime: format(date, "HH:mm", TimeZone(identifier: "UTC")!))
    }

    /// An event's time for the people who come: "Saturday 12 June 2027, 19:00 CEST", on the
    /// organizer's clock (the venue's), its zone named so it is never mistaken.
    package func writtenForPeople(_ date: Date) -> String {
        let zone = ["UTC", "GMT", "Etc/UTC"].contains(timeZone.identifier) ? "UTC" : timeZone.abbreviation(for: date) ?? timeZone.identifier
        return format(date, "EEEE d MMMM yyyy, HH:mm", timeZone) + " " + zone
    }

    /// A time of day on the organizer's clock, 24-hour, with its zone: "20:14:03 CET".
    package func timeOfDay(_ date: Date) -> String {
        format(date, "HH:mm:ss", timeZone) + " " + (timeZone.abbreviation(for: date) ?? timeZone.identifier)
    }

    /// The value a `datetime-local` field shows for `date`.
    package func fieldValue(_ date: Date?) -> String? { date.map { format($0, "yyyy-MM-dd'T'HH:mm", timeZone) } }

    /// A `datetime-local` value (no zone: the organizer's), or a full ISO 8601 time.
    package func parse(_ text: String?, field: String) throws -> Date? {
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

    package func format(_ date: Date, _ pattern: String, _ zone: TimeZone) -> String {
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
