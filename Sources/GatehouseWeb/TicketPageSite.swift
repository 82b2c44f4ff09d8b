import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseStorage
import HTTPTypes
import Hummingbird
import QRRendering

/// A holder's own ticket page, `/t/{code}`, reached from the link in their mail: the event, the
/// holder, the number and the code, large enough to scan from a phone held up to a gate. The link
/// carries the code (the service keeps only its hash), so the page is never cached by anyone but
/// the holder's browser (`private, no-store`), sends no referrer anywhere, and loads nothing else.
package struct TicketPageSite: Sendable {
    package let gatehouse: Gatehouse
    package let clock: OrganizerClock

    package init(gatehouse: Gatehouse, clock: OrganizerClock) {
        self.gatehouse = gatehouse
        self.clock = clock
    }

    struct Model: Sendable {
        var when: String?
        var place: String?
        var holder: String?
        var number: Int
        var ticketType: String?
        var statusNote: String?
        var image: String
        var code: String
    }

    package func add(to router: Router<GatehouseRequestContext>) {
        router.get("t/:code") { _, context in
            let code = context.parameters.get("code")?.removingPercentEncoding ?? ""
            let page: WebPage
            do {
                if let found = try await gatehouse.ticketForHolder(code: code) {
                    page = ticketPage(found.ticket, found.event, code: code)
                } else {
                    page = WebPage.message(
                        title: "Ticket not found",
                        [
                            "This link does not open a ticket. If the ticket was sent to you again, the link in the newer mail replaces this one."
                        ],
                        status: .notFound,
                        organizerMenu: false
                    )
                }
            } catch {
                page = WebPage.message(
                    title: "Please try again",
                    ["Your ticket cannot be shown just now. Please try again in a minute; the PDF in your mail works at the gate meanwhile."],
                    status: .serviceUnavailable,
                    organizerMenu: false
                )
            }
            var headers = HTTPFields()
            headers[.cacheControl] = "private, no-store"
            headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
            return WebPage.response(status: page.status, contentType: "text/html; charset=utf-8", body: page.html, headers: headers)
        }
    }

    func ticketPage(_ ticket: Ticket, _ event: Event, code: String) -> WebPage {
        let svg = (try? QRMatrix(encoding: code).svg(moduleSize: 8)) ?? ""
        var note: String?
        switch ticket.status {
        case .unused: note = nil
        case .used: note = "This ticket was used" + (ticket.usedAt.map { " at " + clock.writtenForPeople($0) } ?? "") + "."
        case .revoked: note = "This ticket was cancelled: it is not admitted."
        }
        return WebPage(
            title: event.name,
            template: "my-ticket",
            data: Model(
                when: event.startsAt.map(clock.writtenForPeople),
                place: event.place,
                holder: ticket.holderName,
                number: ticket.number,
                ticketType: ticket.ticketType,
                statusNote: note,
                image: "data:image/svg+xml;base64," + Data(svg.utf8).base64EncodedString(),
                code: code
            ),
            organizerMenu: false
        )
    }
}
