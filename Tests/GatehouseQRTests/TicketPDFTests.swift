import Foundation
import GatehouseImage
import QRReading
import Testing

@testable import TicketPDF

/// The PDF as a person and a gate see it: rendered by poppler (another program than the one that
/// wrote it), its code read back by zbar, its text extracted.
@Suite(.computeBound) struct TicketPDFTests {
    static let code = "GH1.kR3vY8pQ2xW7nB4mT6zL9sD1fH5jC0aE"

    static func ticket(holder: String? = "Zoë Ødegård", eventName: String = "Harbour Lights Festival") -> TicketDocument {
        TicketDocument(
            eventName: eventName,
            when: "Saturday 12 June 2027, 19:00",
            place: "Pier 4, Hamburg",
            holder: holder,
            number: 1_234,
            ticketType: "VIP",
            code: code
        )
    }

    /// Runs a poppler tool on the PDF and gives its output file's bytes.
    static func poppler(_ tool: String, _ pdf: [UInt8], arguments: [String], output: String) throws -> [UInt8] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ticket-pdf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("ticket.pdf")
        try Data(pdf).write(to: input)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments + [input.path, folder.appendingPathComponent(output).path]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(tool) failed")
        let produced = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(output) }.sorted()
        return try produced.flatMap { Array(try Data(contentsOf: folder.appendingPathComponent($0))) }
    }

    static func text(of pdf: [UInt8]) throws -> String {
        String(decoding: try poppler("pdftotext", pdf, arguments: ["-enc", "UTF-8"], output: "text.txt"), as: UTF8.self)
    }

    @Test func the_printed_code_reads_back_with_zbar_at_print_and_screen_resolutions() throws {
        let pdf = try TicketPDF.render(Self.ticket())
        #expect(pdf.starts(with: Array("%PDF-".utf8)))
        for dpi in [72, 150] {
            let page = try GreyImage(pgm: try Self.poppler("pdftoppm", pdf, arguments: ["-r", "\(dpi)", "-gray", "-singlefile"], output: "page"))
            let read = QRScanner(effort: .thorough, engines: .zbar).scan(page)
            #expect(read.payloads.map { String(decoding: $0, as: UTF8.self) } == [Self.code], "at \(dpi) dpi")
        }
    }

    @Test func the_page_says_what_a_person_needs_to_know() throws {
        let text = try Self.text(of: try TicketPDF.render(Self.ticket()))
        for expected in [
            "Harbour Lights Festival", "Saturday 12 June 2027, 19:00", "Pier 4, Hamburg", "Zoë Ødegård", "Ticket #1234 · VIP", Self.code,
        ] {
            #expect(text.contains(expected), "missing \(expected)")
        }
    }

    @Test func names_in_other_scripts_come_out_as_written() throws {
        for name in ["דנה לוי", "محمد العلي", "Jürgen Groß"] {
            let text = try Self.text(of: try TicketPDF.render(Self.ticket(holder: name)))
            #expect(text.contains(name), "\(name) was not drawn as written: \(text)")
        }
    }

    @Test func a_hostile_name_is_cut_to_its_lines_and_the_ticket_still_reads() throws {
        let long = String(repeating: "Bartholomew ", count: 900) + "\r\nBcc: victim@example.org\u{0}"
        let started = ContinuousClock.now
        let pdf = try TicketPDF.render(Self.ticket(holder: long))
        #expect(ContinuousClock.now - started < .seconds(20))
        let text = try Self.text(of: pdf)
        #expect(text.components(separatedBy: "\u{0C}").filter { !$0.isEmpty }.count == 1, "one page")
        // The text layer keeps what an ellipsis stands for, but no more than the drawn text's cap.
        #expect(text.count < 3_000)
        let page = try GreyImage(pgm: try Self.poppler("pdftoppm", pdf, arguments: ["-r", "100", "-gray", "-singlefile"], output: "page"))
        #expect(QRScanner(effort: .thorough, engines: .zbar).scan(page).payloads.count == 1)

        let canvas = try PDFCanvas(width: 595, height: 842, title: "test")
        let short = canvas.text("Zoë", font: "Sans Bold 20", x: 56, y: 56, width: 483, lines: 2)
        let cut = canvas.text(long, font: "Sans Bold 20", x: 56, y: 56, width: 483, lines: 2)
        #expect(!short.cut && cut.cut)
        #expect(cut.height < short.height * 2.5, "two lines at most")
    }

    @Test func control_characters_are_drawn_as_spaces() {
        #expect(PDFCanvas.printable("Ann\r\nBcc: x\u{0}\u{7F}") == "Ann  Bcc: x  ")
        #expect(PDFCanvas.printable(String(repeating: "é", count: 5_000)).unicodeScalars.count == 2_000)
    }

    @Test func several_tickets_make_one_page_each() throws {
        let tickets = (1...3).map { number in
            var ticket = Self.ticket()
            ticket.number = number
            return ticket
        }
        let text = try Self.text(of: try TicketPDF.render(tickets))
        #expect(text.components(separatedBy: "\u{0C}").filter { $0.contains("Ticket #") }.count == 3)
    }
}
