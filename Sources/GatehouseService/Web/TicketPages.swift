import Foundation
import GatehouseCore
import GatehouseStore
import Hummingbird

/// Tickets: the list with search, the CSV export, one ticket with its check-in history, and
/// revoke and re-issue behind a confirmation page.
extension OrganizerSite {
    static let ticketsPerPage = 100

    func addTicketPages(to router: Router<GatehouseRequestContext>) {
        router.get("admin/events/:id/tickets") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                let search = Self.query(request, "q")
                let page = max(1, Int(Self.query(request, "page") ?? "") ?? 1)
                let tickets = try await gatehouse.tickets(
                    eventId: event.id,
                    query: TicketQuery(search: search, limit: Self.ticketsPerPage + 1, offset: (page - 1) * Self.ticketsPerPage)
                )
                let total = try await gatehouse.ticketCount(eventId: event.id, search: search)
                return .page(ticketList(event, tickets, search: search, page: page, total: total))
            }
        }
        router.get("admin/events/:id/tickets.csv") { request, context in
            await handle(request, context) {
                let event = try await gatehouse.event(id: try context.parameters.require("id"))
                var csv = CSVCell.row(["number", "ticketId", "holderName", "email", "ticketType", "status", "usedAt", "usedGate"])
                var offset = 0
                while true {
                    let page = try await gatehouse.tickets(eventId: event.id, query: TicketQuery(limit: 1000, offset: offset))
                    for ticket in page {
                        csv += CSVCell.row([
                            String(ticket.number), ticket.id, ticket.holderName ?? "", ticket.email ?? "", ticket.ticketType ?? "",
                            ticket.status.rawValue, ticket.usedAt.map(\.iso8601Millis) ?? "", ticket.usedGate ?? "",
                        ])
                    }
                    guard page.count == 1000 else { break }
                    offset += 1000
                }
                var response = WebPage.response(status: .ok, contentType: "text/csv; charset=utf-8", body: csv)
                response.headers[.contentDisposition] = "attachment; filename=\"tickets-\(event.id).csv\""
                return .response(response)
            }
        }
        router.get("admin/tickets/:id") { request, context in
            await handle(request, context) {
                let ticket = try await gatehouse.ticket(id: try context.parameters.require("id"))
                let event = try await gatehouse.event(id: ticket.eventId)
                let history = try await gatehouse.checkins(eventId: event.id, filter: CheckinFilter(limit: 200, ticketId: ticket.id))
                return .page(ticketPage(event, ticket, history, done: Self.query(request, "done")))
            }
        }
        for action in ["revoke", "reissue"] {
            router.get("admin/tickets/:id/\(action)") { request, context in
                await handle(request, context) {
                    let ticket = try await gatehouse.ticket(id: try context.parameters.require("id"))
                    let event = try await gatehouse.event(id: ticket.eventId)
                    return .page(confirmPage(event, ticket, action: action))
                }
            }
        }
        router.post("admin/tickets/:id/revoke") { request, context in
            await handle(request, context, isForm: true) {
                let ticket = try await gatehouse.revokeTicket(id: try context.parameters.require("id"))
                return .redirect("/admin/tickets/\(ticket.id)?done=revoked")
            }
        }
        router.post("admin/tickets/:id/reissue") { request, context in
            await handle(request, context, isForm: true) {
                let issued = try await gatehouse.reissueTicket(id: try context.parameters.require("id"))
                return .redirect("/admin/events/\(issued.ticket.eventId)/sheets/\(vault.keep([issued], eventId: issued.ticket.eventId))")
            }
        }
    }

    func ticketList(_ event: Event, _ found: [Ticket], search: String?, page: Int, total: Int) -> WebPage {
        let tickets = found.prefix(Self.ticketsPerPage)
        let rows = tickets.map { ticket in
            """
            <tr><td data-label="Number" class=n><a href="/admin/tickets/\(HTML.escape(ticket.id))">#\(ticket.number)</a></td>\
            <td data-label="Holder">\(HTML.escape(ticket.holderName ?? "—"))</td><td data-label="E-mail">\(HTML.escape(ticket.email ?? ""))</td>\
            <td data-label="Type">\(HTML.escape(ticket.ticketType ?? ""))</td><td data-label="Status">\(Self.statusBadge(ticket.status))</td></tr>
            """
        }
        let id = HTML.escape(event.id)
        let searchValue = search.map { " value=\"\(HTML.escape($0))\"" } ?? ""
        let query = search.map { "q=\(Self.urlQuery($0))&" } ?? ""
        let pages = max(1, (total + Self.ticketsPerPage - 1) / Self.ticketsPerPage)
        var pager = ""
        if page > 1 { pager += "<a href=\"?\(query)page=\(min(page - 1, pages))\">← Previous</a> " }
        if total > 0 { pager += "<span class=muted>Page \(min(page, pages)) of \(pages) · \(total) ticket\(total == 1 ? "" : "s")</span> " }
        if found.count > Self.ticketsPerPage { pager += "<a href=\"?\(query)page=\(page + 1)\">Next →</a>" }
        let empty: String
        if total == 0 {
            empty = search == nil ? "No tickets yet." : "No ticket matches."
        } else {
            // A page past the end (an old link, a typed number) says where the tickets are.
            empty =
                "There is no page \(page): \(total) ticket\(total == 1 ? "" : "s") on \(pages) page\(pages == 1 ? "" : "s"). <a href=\"?\(query)page=1\">First page</a>"
        }
        let body = """
            \(Self.eventTabs(event, current: "tickets"))
            <form class=inline method=get action="/admin/events/\(id)/tickets" role=search>
            <label>Search <input type=search name=q\(searchValue) placeholder="Number, name or e-mail" maxlength=200></label>
            <button>Search</button> <a class="button secondary" href="/admin/events/\(id)/tickets.csv">Export CSV</a></form>
            \(tickets.isEmpty ? "<p class=muted>\(empty)</p>" : "<table class=cards><thead><tr><th class=n>Number</th><th>Holder</th><th>E-mail</th><th>Type</th><th>Status</th></tr></thead><tbody>\(rows.joined())</tbody></table>")
            <p>\(pager)</p>
            """
        return WebPage(title: "Tickets · \(event.name)", body: body, section: .events)
    }

    func ticketPage(_ event: Event, _ ticket: Ticket, _ history: [CheckinLogEntry], done: String?) -> WebPage {
        let notice: String
        switch done {
        case "revoked": notice = "<p class=notice role=status>Ticket revoked: its code is refused at every gate from now on.</p>"
        default: notice = ""
        }
        let rows = history.map { entry in
            """
            <tr><td data-label="Time">\(clock.display(entry.at))</td><td data-label="Gate">\(HTML.escape(entry.gateId))</td>\
            <td data-label="Result">\(Self.resultBadge(entry.result))\(entry.mode == .validate ? " <span class=muted>(looked up)</span>" : "")\
            \(entry.offline ? " <span class=muted>(offline)</span>" : "")</td><td data-label="Device"><code>\(HTML.escape(entry.deviceId))</code></td></tr>
            """
        }
        let id = HTML.escape(ticket.id)
        let actions =
            ticket.status == .revoked
            ? "<a class=\"button secondary\" href=\"/admin/tickets/\(id)/reissue\">Re-issue…</a>"
            : "<a class=\"button secondary\" href=\"/admin/tickets/\(id)/reissue\">Re-issue…</a> <a class=\"button secondary\" href=\"/admin/tickets/\(id)/revoke\">Revoke…</a>"
        let body = """
            \(Self.eventTabs(event, current: "tickets"))\(notice)
            <section class=panel>
            <p>\(Self.statusBadge(ticket.status))</p>
            <p>Holder: \(HTML.escape(ticket.holderName ?? "—"))<br>E-mail: \(HTML.escape(ticket.email ?? "—"))<br>\
            Type: \(HTML.escape(ticket.ticketType ?? "—"))<br>Issued: \(clock.display(ticket.createdAt))<br>\
            Used: \(ticket.usedAt.map { clock.display($0) + " at " + HTML.escape(ticket.usedGate ?? "?") } ?? "not yet")<br>\
            Expires: \(clock.display(ticket.expiresAt))<br>Id <code>\(id)</code></p>
            <p>\(actions)</p></section>
            <h2>Check-in history</h2>
            \(history.isEmpty ? "<p class=muted>Never scanned.</p>" : "<table class=cards><thead><tr><th>Time</th><th>Gate</th><th>Result</th><th>Device</th></tr></thead><tbody>\(rows.joined())</tbody></table>")
            """
        return WebPage(title: "Ticket #\(ticket.number)", body: body, section: .events)
    }

    func confirmPage(_ event: Event, _ ticket: Ticket, action: String) -> WebPage {
        let id = HTML.escape(ticket.id)
        let (question, consequence, button) =
            action == "revoke"
            ? (
                "Revoke ticket #\(ticket.number)?",
                "Its code will be refused at every gate from now on. This cannot be undone (re-issuing gives it a new code).",
                "<button class=danger>Revoke ticket</button>"
            )
            : (
                "Re-issue ticket #\(ticket.number)?", "It gets a new code, shown on the next page; the old code stops working at once.",
                "<button>Re-issue ticket</button>"
            )
        let body = """
            \(Self.eventTabs(event, current: "tickets"))
            <section class=panel><h2>\(HTML.escape(question))</h2><p>\(HTML.escape(ticket.holderName ?? "No holder name")) · \(HTML.escape(consequence))</p>
            <form method=post action="/admin/tickets/\(id)/\(action)">\(button) <a class="button secondary" href="/admin/tickets/\(id)">Cancel</a></form></section>
            """
        return WebPage(title: question, body: body, section: .events)
    }

    static func urlQuery(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}
