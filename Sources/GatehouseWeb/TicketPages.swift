import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import Hummingbird

/// Tickets: the list with search, the CSV export, one ticket with its check-in history, and
/// revoke and re-issue behind a confirmation page.
extension OrganizerSite {
    package static let ticketsPerPage = 100

    package func addTicketPages(to router: RouterGroup<GatehouseRequestContext>) {
        router.get("events/:id/tickets") { request, context in
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
        router.get("events/:id/tickets.csv") { request, context in
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
        router.get("tickets/:id") { request, context in
            await handle(request, context) {
                let ticket = try await gatehouse.ticket(id: try context.parameters.require("id"))
                let event = try await gatehouse.event(id: ticket.eventId)
                let history = try await gatehouse.checkins(eventId: event.id, filter: CheckinFilter(limit: 200, ticketId: ticket.id))
                let mails = try await gatehouse.mailDeliveries(eventId: event.id, ticketId: ticket.id)
                return .page(ticketPage(event, ticket, history, mails: mails, done: Self.query(request, "done")))
            }
        }
        for action in ["revoke", "reissue", "send"] {
            router.get("tickets/:id/\(action)") { request, context in
                await handle(request, context) {
                    let ticket = try await gatehouse.ticket(id: try context.parameters.require("id"))
                    let event = try await gatehouse.event(id: ticket.eventId)
                    return .page(confirmPage(event, ticket, action: action))
                }
            }
        }
        router.post("tickets/:id/revoke") { request, context in
            await handle(request, context) {
                let ticket = try await gatehouse.revokeTicket(id: try context.parameters.require("id"))
                return .redirect("/admin/tickets/\(ticket.id)?done=revoked")
            }
        }
        // "Send again": a new code (the old one stops working) in a mail to the holder's address.
        router.post("tickets/:id/send") { request, context in
            await handle(request, context) {
                let ticket = try await gatehouse.mailTickets(ids: [try context.parameters.require("id")])[0]
                return .redirect("/admin/tickets/\(ticket.id)?done=sent")
            }
        }
        // By hand, at the box office: the same decision as a scan at a gate, said as it fell.
        router.post("tickets/:id/checkin") { request, context in
            await handle(request, context) {
                let id = try context.parameters.require("id")
                guard let principal = context.principal else { throw InvalidInputError("not signed in") }
                let fields = try await WebForm.fields(request)
                let answer = try await gatehouse.checkInByHand(ticketId: id, scanId: fields["scanId"], by: principal, logger: context.logger)
                let ticket = try await gatehouse.ticket(id: id)
                let event = try await gatehouse.event(id: ticket.eventId)
                return .page(
                    WebPage.message(
                        title: Self.handCheckinTitle(answer.result),
                        [
                            answer.result == .valid
                                ? "Ticket #\(ticket.number) (\(ticket.holderName ?? "no name")) is checked in at the box office." : answer.message
                        ],
                        tabs: EventTabs(event, current: "tickets"),
                        back: Link(href: "/admin/tickets/\(ticket.id)", label: "Back to the ticket"),
                        status: answer.result == .valid ? .ok : .conflict
                    )
                )
            }
        }
        router.post("tickets/:id/reissue") { request, context in
            await handle(request, context) {
                let issued = try await gatehouse.reissueTicket(id: try context.parameters.require("id"))
                return .redirect("/admin/events/\(issued.ticket.eventId)/sheets/\(vault.keep([issued], eventId: issued.ticket.eventId))")
            }
        }
    }

    /// A ticket used before this click was let in then: its holder is in, whoever's click it was.
    static func handCheckinTitle(_ result: CheckinResult) -> String {
        switch result {
        case .valid: "Checked in"
        case .alreadyUsed: "Already checked in"
        default: "Not checked in"
        }
    }

    package func ticketList(_ event: Event, _ found: [Ticket], search: String?, page: Int, total: Int) -> WebPage {
        struct Row: Sendable {
            var id: String
            var number: Int
            var holder: String
            var email: String
            var type: String
            var status: Badge
        }
        struct Model: Sendable {
            var tabs: EventTabs
            var eventId: String
            var search: String?
            var rows: [Row]
            var hasRows: Bool
            var emptyText: String
            var firstPageLink: String?
            var previousLink: String?
            var pageText: String?
            var nextLink: String?
        }
        let tickets = found.prefix(Self.ticketsPerPage)
        let query = search.map { "q=\(Self.urlQuery($0))&" } ?? ""
        let pages = max(1, (total + Self.ticketsPerPage - 1) / Self.ticketsPerPage)
        let plural = total == 1 ? "" : "s"
        var model = Model(
            tabs: EventTabs(event, current: "tickets"),
            eventId: event.id,
            search: search,
            rows: tickets.map {
                Row(
                    id: $0.id,
                    number: $0.number,
                    holder: $0.holderName ?? "—",
                    email: $0.email ?? "",
                    type: $0.ticketType ?? "",
                    status: Badge($0.status)
                )
            },
            hasRows: !tickets.isEmpty,
            emptyText: search == nil ? "No tickets yet." : "No ticket matches.",
            previousLink: page > 1 ? "?\(query)page=\(min(page - 1, pages))" : nil,
            pageText: total > 0 ? "Page \(min(page, pages)) of \(pages) · \(total) ticket\(plural)" : nil,
            nextLink: found.count > Self.ticketsPerPage ? "?\(query)page=\(page + 1)" : nil
        )
        if total > 0 && tickets.isEmpty {
            // A page past the end (an old link, a typed number) says where the tickets are.
            model.emptyText = "There is no page \(page): \(total) ticket\(plural) on \(pages) page\(pages == 1 ? "" : "s")."
            model.firstPageLink = "?\(query)page=1"
        }
        return WebPage(title: "Tickets · \(event.name)", template: "tickets", data: model, section: .events)
    }

    /// One line of a check-in history or log: what the result was, and how it came about.
    static func notes(_ entry: CheckinLogEntry) -> String? {
        let notes = [entry.mode == .validate ? "looked up" : nil, entry.offline ? "offline" : nil].compactMap { $0 }
        return notes.isEmpty ? nil : notes.joined(separator: ", ")
    }

    package func ticketPage(_ event: Event, _ ticket: Ticket, _ history: [CheckinLogEntry], mails: [MailDelivery], done: String?) -> WebPage {
        struct Entry: Sendable {
            var at: TimeText
            var gateId: String
            var result: Badge
            var notes: String?
            var deviceId: String
        }
        struct Model: Sendable {
            var tabs: EventTabs
            var revoked: Bool
            var status: Badge
            var holder: String
            var email: String
            var type: String
            var issuedAt: TimeText
            var usedAt: TimeText?
            var usedGate: String
            var expiresAt: TimeText
            var ticketId: String
            var isRevoked: Bool
            var history: [Entry]
            var hasHistory: Bool
            var sent: Bool
            var canMail: Bool
            var mails: [MailRow]
            var hasMails: Bool
            var canCheckIn: Bool
            var checkInScanId: String
        }
        let model = Model(
            tabs: EventTabs(event, current: "tickets"),
            revoked: done == "revoked",
            status: Badge(ticket.status),
            holder: ticket.holderName ?? "—",
            email: ticket.email ?? "—",
            type: ticket.ticketType ?? "—",
            issuedAt: clock.display(ticket.createdAt),
            usedAt: ticket.usedAt.map { clock.display($0) },
            usedGate: ticket.usedGate ?? "?",
            expiresAt: clock.display(ticket.expiresAt),
            ticketId: ticket.id,
            isRevoked: ticket.status == .revoked,
            history: history.map {
                Entry(at: clock.display($0.at), gateId: $0.gateId, result: Badge($0.result), notes: Self.notes($0), deviceId: $0.deviceId)
            },
            hasHistory: !history.isEmpty,
            sent: done == "sent",
            canMail: ticket.email != nil && ticket.status != .revoked,
            mails: mails.map { MailRow($0, clock) },
            hasMails: !mails.isEmpty,
            canCheckIn: ticket.status == .unused,
            checkInScanId: Gatehouse.newDeskScanId()
        )
        return WebPage(title: "Ticket #\(ticket.number)", template: "ticket", data: model, section: .events)
    }

    package func confirmPage(_ event: Event, _ ticket: Ticket, action: String) -> WebPage {
        struct Model: Sendable {
            var tabs: EventTabs
            var ticketId: String
            var action: String
            var question: String
            var holder: String
            var consequence: String
            var button: String
            var danger: Bool
        }
        let revoke = action == "revoke"
        let send = action == "send"
        let question =
            revoke ? "Revoke ticket #\(ticket.number)?" : send ? "Send ticket #\(ticket.number) again?" : "Re-issue ticket #\(ticket.number)?"
        let consequence =
            revoke
            ? "Its code will be refused at every gate from now on. This cannot be undone (re-issuing gives it a new code)."
            : send
                ? "It gets a new code, mailed to \(ticket.email ?? "its holder") with the PDF; the old code (and any copy of the earlier mail) stops working at once."
                : "It gets a new code, shown on the next page; the old code stops working at once."
        let model = Model(
            tabs: EventTabs(event, current: "tickets"),
            ticketId: ticket.id,
            action: revoke ? "revoke" : send ? "send" : "reissue",
            question: question,
            holder: ticket.holderName ?? "No holder name",
            consequence: consequence,
            button: revoke ? "Revoke ticket" : send ? "Send with a new code" : "Re-issue ticket",
            danger: revoke
        )
        return WebPage(title: question, template: "ticket-confirm", data: model, section: .events)
    }

    package static func urlQuery(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}

/// One ticket mail in a table (`mails`): its state in words, and the server's last words.
package struct MailRow: Sendable {
    var ticketId: String
    var ticketNumber: Int
    var recipient: String
    var state: Badge
    var attempts: Int
    var lastError: String?
    var when: TimeText

    init(_ mail: MailDelivery, _ clock: OrganizerClock) {
        ticketId = mail.ticketId
        ticketNumber = mail.ticketNumber
        recipient = mail.recipient
        attempts = mail.attempts
        lastError = mail.lastError
        switch mail.state {
        case .sent: state = Badge(tone: "ok", words: "sent")
        case .pending: state = Badge(tone: "warn", words: mail.attempts == 0 ? "queued" : "retrying")
        case .failed: state = Badge(tone: "bad", words: "failed")
        case .superseded: state = Badge(tone: "warn", words: "replaced")
        }
        when = clock.display(mail.sentAt ?? mail.nextAttemptAt ?? mail.createdAt)
    }
}
