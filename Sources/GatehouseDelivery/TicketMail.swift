import Foundation
import GatehouseMail
import GatehouseStorage
import GatehouseWeb
import QRRendering
import TicketPDF

/// Writes the mail that delivers one ticket: a plain-text and an HTML part (templates
/// `ticket-mail-text` and `ticket-mail-html`), the QR code as an inline PNG, the ticket as a
/// one-page PDF, and the link to the holder's ticket page.
///
/// Only the recipient's bare address goes into a header (no name: the holder's name is personal
/// data a relay's log need not see); the subject names the event only.
public struct TicketMailComposer: Sendable {
    public let sender: MailAddress
    /// Where links in mails point (`--public-url`), without a trailing slash.
    public let publicURL: String
    let clock: OrganizerClock

    public init(sender: MailAddress, publicURL: String, timeZone: TimeZone) {
        self.sender = sender
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        clock = OrganizerClock(timeZone: timeZone)
    }

    /// Pixels a QR module in the inline PNG: about 300 px for an unsigned code, enough to scan
    /// from a phone's screen held up to a gate.
    static let moduleScale = 8

    struct Model {
        var holder: String
        var eventName: String
        var when: String?
        var place: String?
        var number: Int
        var ticketType: String?
        var pageURL: String
        var code: String
        var qrSize: Int
    }

    /// The message for `ticket` of `event` with its plain code, to `recipient`; its Message-ID is
    /// made from the outbox row's id, so a copy sent again after a lost answer is the same message.
    public func message(ticket: Ticket, event: Event, code: String, recipient: MailAddress, mailId: String) throws -> MailMessage {
        let matrix = try QRMatrix(encoding: code)
        let when = event.startsAt.map(clock.writtenForPeople)
        let model = Model(
            holder: ticket.holderName ?? "there",
            eventName: event.name,
            when: when,
            place: event.place,
            number: ticket.number,
            ticketType: ticket.ticketType,
            pageURL: TicketPageLink.url(publicURL: publicURL, code: code),
            code: code,
            qrSize: (matrix.size + 2 * QRMatrix.quietZone) * Self.moduleScale
        )
        let pdf = try TicketPDF.render(
            TicketDocument(
                eventName: event.name,
                when: when,
                place: event.place,
                holder: ticket.holderName,
                number: ticket.number,
                ticketType: ticket.ticketType,
                code: code
            )
        )
        return MailMessage(
            from: sender,
            to: recipient,
            subject: "Your ticket for \(event.name)",
            text: Views.render(model, template: "ticket-mail-text"),
            html: Views.render(model, template: "ticket-mail-html"),
            inlineImages: [MailMessage.InlineImage(contentID: "qr", mediaType: "image/png", bytes: matrix.png(scale: Self.moduleScale))],
            attachments: [MailMessage.Attachment(filename: "ticket-\(ticket.number).pdf", mediaType: "application/pdf", bytes: pdf)],
            messageID: "<\(mailId)@\(sender.domain)>"
        )
    }
}
