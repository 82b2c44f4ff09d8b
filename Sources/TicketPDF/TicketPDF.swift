import QRRendering

/// Tickets as a PDF document, one A4 page each: the event, when and where, the QR code 12 cm
/// wide (scannable from paper or from a phone's screen held up to a gate), the code's text, the
/// holder and the ticket's number. Text is laid out by Pango, so names in any script, right to
/// left included, come out as written; a name too long for its lines ends in an ellipsis.
public enum TicketPDF {
    /// A4 in points.
    static let pageWidth = 595.28
    static let pageHeight = 841.89
    static let margin = 56.0
    /// The code's side with its quiet zone: 12 cm.
    static let codeSide = 340.0

    public static func render(_ tickets: [TicketDocument]) throws -> [UInt8] {
        let title = tickets.count == 1 ? "Ticket — \(tickets[0].eventName)" : "Tickets — \(tickets.first?.eventName ?? "")"
        let canvas = try PDFCanvas(width: pageWidth, height: pageHeight, title: title)
        for (index, ticket) in tickets.enumerated() {
            if index > 0 { canvas.nextPage() }
            try draw(ticket, on: canvas)
        }
        return try canvas.finish()
    }

    public static func render(_ ticket: TicketDocument) throws -> [UInt8] { try render([ticket]) }

    static func draw(_ ticket: TicketDocument, on canvas: PDFCanvas) throws {
        let column = pageWidth - 2 * margin
        var y = margin
        y += canvas.text(ticket.eventName, font: "Sans Bold 24", x: margin, y: y, width: column, alignment: .center, lines: 2).height + 6
        for line in [ticket.when, ticket.place].compactMap({ $0 }) where !line.isEmpty {
            y += canvas.text(line, font: "Sans 14", x: margin, y: y, width: column, alignment: .center, lines: 2).height + 2
        }
        y += 12

        let matrix = try QRMatrix(encoding: ticket.code)
        let quiet = Double(QRMatrix.quietZone)
        let module = codeSide / (Double(matrix.size) + 2 * quiet)
        let left = (pageWidth - codeSide) / 2 + quiet * module
        let top = y + quiet * module
        var runs: [(x: Double, y: Double, width: Double, height: Double)] = []
        matrix.forEachDarkRun { x, y, length in
            runs.append((x: left + Double(x) * module, y: top + Double(y) * module, width: Double(length) * module, height: module))
        }
        canvas.fill(runs)
        y += codeSide
        y += canvas.text(ticket.code, font: "Monospace 9", x: margin, y: y, width: column, alignment: .center, lines: 3).height + 18

        if let holder = ticket.holder, !holder.isEmpty {
            y += canvas.text(holder, font: "Sans Bold 20", x: margin, y: y, width: column, alignment: .center, lines: 2).height + 4
        }
        let kind = ticket.ticketType.map { " · \($0)" } ?? ""
        canvas.text("Ticket #\(ticket.number)\(kind)", font: "Sans 14", x: margin, y: y, width: column, alignment: .center, lines: 1)

        canvas.text(
            "Show this code at the entrance, printed or on a screen. Anyone who has it can use the ticket once: do not share it.",
            font: "Sans 9",
            x: margin,
            y: pageHeight - margin - 24,
            width: column,
            alignment: .center,
            lines: 2
        )
    }
}
