import CZlib
import Foundation
import GatehouseCore
import GatehouseImage
import GatehouseTestSupport
import QRReading
import QRRendering
import Testing

/// The admin command line, run as a technician would run it.
@Suite struct CLITests {
    let folder: TemporaryDirectory
    init() throws { folder = try TemporaryDirectory() }

    func gatehouse(_ arguments: String...) throws -> CommandRun {
        try CommandRun.run(ServiceProcess.binary, arguments + ["--db", folder.file("cli.sqlite")], directory: folder.path)
    }

    func createEvent() throws -> String {
        let run = try gatehouse("event", "create", "--name", "CLI Gala")
        #expect(run.status == 0, "\(run.errors)")
        let json = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as! [String: Any]
        return json["id"] as! String
    }

    @Test func issue_from_csv_writes_images_and_manifest() throws {
        let event = try createEvent()
        let csv = folder.file("holders.csv")
        try "holderName,email,ticketType\n\"Lovelace, Ada\",ada@example.com,VIP\nGrace Hopper,,\n".write(
            toFile: csv,
            atomically: true,
            encoding: .utf8
        )
        let run = try gatehouse("tickets", "issue", "--event", event, "--csv", csv, "--out", folder.file("out"))
        #expect(run.status == 0, "\(run.errors)")
        let manifest = try String(contentsOfFile: folder.file("out/manifest.csv"), encoding: .utf8).split(separator: "\n")
        #expect(manifest.count == 3)
        #expect(manifest[0] == "number,ticketId,holderName,email,ticketType,qrData")
        #expect(manifest[1].hasPrefix("1,T") && manifest[1].contains("\"Lovelace, Ada\",ada@example.com,VIP,GH:\(event):"))
        let qrData = String(manifest[1].split(separator: ",").last!)
        #expect(TicketCode.parse(qrData) != nil)
        let mode = try FileManager.default.attributesOfItem(atPath: folder.file("out/manifest.csv"))[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // The PNG written for ticket 1 holds that ticket's code, as zbar reads it.
        let png = try Data(contentsOf: URL(fileURLWithPath: folder.file("out/ticket-000001.png")))
        let image = try PNGReader.grey(Array(png))
        #expect(ZbarReader().read(image) == [Array(qrData.utf8)])
        let svg = try String(contentsOfFile: folder.file("out/ticket-000002.svg"), encoding: .utf8)
        #expect(svg.contains("<svg") && svg.contains("<path"))

        let list = try gatehouse("event", "list")
        #expect(list.output.contains("\(event)  issued 2  used 0  CLI Gala"))
        // The same folder again would overwrite the only copy of the codes: refused.
        let again = try gatehouse("tickets", "issue", "--event", event, "--count", "1", "--out", folder.file("out"))
        #expect(again.status != 0 && again.errors.contains("manifest.csv exists already"))
    }

    @Test func devices_and_log() throws {
        let event = try createEvent()
        let added = try gatehouse("device", "add", "--event", event, "--gate", "north-1")
        #expect(added.status == 0)
        #expect(added.output.contains("deviceId: D") && added.output.contains("token: ghd_"))
        let count = try gatehouse("tickets", "issue", "--event", event, "--count", "5", "--out", folder.file("five"))
        #expect(count.status == 0 && count.output.contains("Issued 5 tickets"))
        let log = try gatehouse("checkins", "--event", event)
        #expect(log.status == 0 && log.output.isEmpty)
        // Only the images asked for.
        for (images, extensions) in [("none", Set<String>()), ("png", ["png"]), ("svg", ["svg"])] {
            let out = folder.file("only-\(images)")
            let run = try gatehouse("tickets", "issue", "--event", event, "--count", "3", "--images", images, "--out", out)
            #expect(run.status == 0, "\(run.errors)")
            let written = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0 != "manifest.csv" }
            let kinds = Set(written.map { ($0 as NSString).pathExtension })
            #expect(kinds == extensions && written.count == 3 * extensions.count, "--images \(images): \(written)")
            for file in written {
                let mode = try FileManager.default.attributesOfItem(atPath: "\(out)/\(file)")[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(file) is the ticket: its owner's only")
            }
        }
        let wrong = try gatehouse("tickets", "issue", "--event", event, "--count", "1", "--images", "jpeg", "--out", folder.file("jpeg"))
        #expect(wrong.status != 0 && wrong.errors.contains("--images"))
    }

    /// `--pdf` writes each ticket as a one-page PDF beside the images: private, and what poppler
    /// draws of it is that ticket's code (read by zbar), its holder and its number.
    @Test func pdf_tickets_carry_their_code_and_holder() throws {
        let event = try createEvent()
        let csv = folder.file("pdf-holders.csv")
        try "holderName\nمحمد العلي\nGrace Hopper\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let out = folder.file("pdf")
        let run = try gatehouse("tickets", "issue", "--event", event, "--csv", csv, "--images", "none", "--pdf", "--out", out)
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("manifest.csv and PDF tickets"))
        let written = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(written == ["manifest.csv", "ticket-000001.pdf", "ticket-000002.pdf"])
        let manifest = try String(contentsOfFile: "\(out)/manifest.csv", encoding: .utf8).split(separator: "\n")
        for (index, holder) in ["محمد العلي", "Grace Hopper"].enumerated() {
            let pdf = "\(out)/ticket-00000\(index + 1).pdf"
            #expect(try FileManager.default.attributesOfItem(atPath: pdf)[.posixPermissions] as? Int == 0o600)
            let page = try CommandRun.run(
                URL(fileURLWithPath: "/usr/bin/env"),
                ["pdftoppm", "-r", "100", "-gray", "-singlefile", pdf, folder.file("page-\(index)")]
            )
            #expect(page.status == 0, "\(page.errors)")
            let image = try GreyImage(pgm: Array(try Data(contentsOf: URL(fileURLWithPath: folder.file("page-\(index).pgm")))))
            let qrData = String(manifest[index + 1].split(separator: ",").last!)
            #expect(ZbarReader().read(image) == [Array(qrData.utf8)], "ticket \(index + 1)'s code")
            let text = try CommandRun.run(URL(fileURLWithPath: "/usr/bin/env"), ["pdftotext", "-enc", "UTF-8", pdf, "-"])
            #expect(text.output.contains(holder) && text.output.contains("Ticket #\(index + 1)") && text.output.contains("CLI Gala"))
        }
    }

    /// The ticket PNG (one bit a pixel, rows repeated with the Up filter) has exactly the pixels
    /// of the symbol drawn at the same scale.
    @Test func ticket_png_has_the_drawn_pixels() throws {
        for (text, scale) in [("GH:EABCDEFG:ABCDEFGHIJKLMNOPQRSTUVWXYZ", 8), ("x", 3), (String(repeating: "GH", count: 90), 1)] {
            let matrix = try QRMatrix(encoding: text)
            #expect(try PNGReader.grey(matrix.png(scale: scale)) == matrix.greyImage(scale: scale), "\(text.prefix(8))… at scale \(scale)")
            #expect(matrix.svg(moduleSize: scale) == Self.plainSVG(matrix, moduleSize: scale), "\(text.prefix(8))… at scale \(scale)")
        }
    }

    /// The SVG drawing written the plain way (one rectangle per run of dark modules): what
    /// `QRMatrix.svg`, written digit by digit for speed, must equal.
    static func plainSVG(_ matrix: QRMatrix, moduleSize: Int) -> String {
        let quiet = QRMatrix.quietZone
        let side = matrix.size + 2 * quiet
        var path = ""
        for y in 0..<matrix.size {
            var x = 0
            while x < matrix.size {
                guard matrix[x, y] else {
                    x += 1
                    continue
                }
                var run = 1
                while x + run < matrix.size && matrix[x + run, y] { run += 1 }
                path += "M\(x + quiet) \(y + quiet)h\(run)v1h-\(run)z"
                x += run
            }
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(side * moduleSize)" height="\(side * moduleSize)" viewBox="0 0 \(side) \(side)" shape-rendering="crispEdges">
            <rect width="\(side)" height="\(side)" fill="#fff"/>
            <path fill="#000" d="\(path)"/>
            </svg>

            """
    }

    @Test func registration_opens_and_changes_from_the_command_line() throws {
        let created = try gatehouse("event", "create", "--name", "Harbour Lights", "--place", "Pier 4")
        #expect(created.status == 0, "\(created.errors)")
        let event = try #require((try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any])?["id"] as? String)
        let opened = try gatehouse("event", "registration", "--event", event, "--open", "--capacity", "5", "--ticket-type", "guest")
        #expect(opened.status == 0, "\(opened.errors)")
        let shown = (try JSONSerialization.jsonObject(with: Data(opened.output.utf8)) as? [String: Any])?["registration"] as? [String: Any]
        #expect(shown?["open"] as? Bool == true && shown?["capacity"] as? Int == 5 && shown?["ticketType"] as? String == "guest")
        #expect(shown?["onePerEmail"] as? Bool == true && shown?["registered"] as? Int == 0)
        // Settings not named keep their value.
        let closed = try gatehouse("event", "registration", "--event", event, "--close", "--no-capacity")
        let after = (try JSONSerialization.jsonObject(with: Data(closed.output.utf8)) as? [String: Any])?["registration"] as? [String: Any]
        #expect(after?["open"] as? Bool == false && after?["capacity"] == nil && after?["ticketType"] as? String == "guest")
        let both = try gatehouse("event", "registration", "--event", event, "--open", "--close")
        #expect(both.status == 64 && both.errors.contains("not both"))
        let negative = try gatehouse("event", "registration", "--event", event, "--capacity=-3")
        #expect(negative.status != 0 && negative.errors.contains("capacity must be between 0"), "\(negative.errors)")
    }

    @Test func errors_name_the_bad_argument() throws {
        let event = try createEvent()
        let cases: [([String], String)] = [
            (["tickets", "issue", "--event", event], "--count"),
            (["tickets", "issue", "--event", event, "--count", "0"], "--count"),
            (["tickets", "issue", "--event", event, "--csv", folder.file("missing.csv")], "--csv"),
            (["tickets", "issue", "--event", event, "--count", "1", "--expires-at", "soon"], "--expires-at"),
            (["tickets", "issue", "--event", "ENOEVENT", "--count", "1", "--out", folder.file("x")], "no event ENOEVENT"),
            (["event", "create"], "--name"),
            (["event", "create", "--name", " "], "name must not be empty"),
            (["device", "add", "--event", "ENOEVENT", "--gate", "g"], "no event ENOEVENT"),
            (["serve", "--port", "70000"], "--port"),
            (["serve", "--event-loops", "0"], "--event-loops"),
            (["serve", "--event-loops", "257"], "--event-loops"),
            (["checkins", "--event", "ENOEVENT"], "no event ENOEVENT"),
        ]
        for (arguments, expected) in cases {
            let run = try CommandRun.run(ServiceProcess.binary, arguments + ["--db", folder.file("cli.sqlite")])
            #expect(run.status != 0, "\(arguments)")
            #expect(run.errors.contains(expected), "\(arguments): \(run.errors)")
        }
        // `--pool-size 0` is judged after the variable: a variable let through fails on it
        // instead of starting a service that never ends.
        for value in ["abc", "0", "-1", "257", "2x"] {
            let run = try CommandRun.run(
                ServiceProcess.binary,
                ["serve", "--port", "0", "--pool-size", "0", "--db", folder.file("cli.sqlite")],
                environment: ["GATEHOUSE_EVENT_LOOPS": value]
            )
            #expect(run.status == 64, "GATEHOUSE_EVENT_LOOPS=\(value)")
            #expect(run.errors.contains("GATEHOUSE_EVENT_LOOPS must be a whole number between 1 and 256, not '\(value)'"), "\(run.errors)")
        }
        // Empty is unset (an environment file's `GATEHOUSE_EVENT_LOOPS=`): the next bad value is named.
        let empty = try CommandRun.run(
            ServiceProcess.binary,
            ["serve", "--port", "0", "--pool-size", "0", "--db", folder.file("cli.sqlite")],
            environment: ["GATEHOUSE_EVENT_LOOPS": ""]
        )
        #expect(empty.status == 64 && empty.errors.contains("--pool-size") && !empty.errors.contains("GATEHOUSE_EVENT_LOOPS"), "\(empty.errors)")
    }
}

/// Reads the grey PNGs that `PNGWriter` makes (8-bit, or 1-bit; filters None and Up; one
/// zlib stream): enough to check what the CLI wrote without an image library.
enum PNGReader {
    struct Failure: Error {}

    static func grey(_ file: [UInt8]) throws -> GreyImage {
        var offset = 8
        var width = 0
        var height = 0
        var depth = 8
        var compressed: [UInt8] = []
        func u32(_ at: Int) -> Int { Int(file[at]) << 24 | Int(file[at + 1]) << 16 | Int(file[at + 2]) << 8 | Int(file[at + 3]) }
        while offset + 8 <= file.count {
            let length = u32(offset)
            let type = String(decoding: file[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let data = Array(file[(offset + 8)..<(offset + 8 + length)])
            if type == "IHDR" {
                width = Int(data[0]) << 24 | Int(data[1]) << 16 | Int(data[2]) << 8 | Int(data[3])
                height = Int(data[4]) << 24 | Int(data[5]) << 16 | Int(data[6]) << 8 | Int(data[7])
                depth = Int(data[8])
                guard depth == 8 || depth == 1, data[9] == 0 else { throw Failure() }
            } else if type == "IDAT" {
                compressed += data
            }
            offset += 12 + length
        }
        let rowBytes = (width * depth + 7) / 8
        var rawLength = uLong((rowBytes + 1) * height)
        var raw = [UInt8](repeating: 0, count: Int(rawLength))
        guard uncompress(&raw, &rawLength, compressed, uLong(compressed.count)) == Z_OK, Int(rawLength) == raw.count else { throw Failure() }
        var pixels: [UInt8] = []
        var above = [UInt8](repeating: 0, count: rowBytes)
        for row in 0..<height {
            let start = row * (rowBytes + 1)
            var line = Array(raw[(start + 1)...(start + rowBytes)])
            switch raw[start] {
            case 0: break
            case 2: for index in line.indices { line[index] &+= above[index] }
            default: throw Failure()
            }
            above = line
            if depth == 8 {
                pixels += line
            } else {
                pixels += (0..<width).map { line[$0 / 8] & (0x80 >> UInt8($0 % 8)) != 0 ? 255 : 0 }
            }
        }
        return GreyImage(width: width, height: height, pixels: pixels)
    }
}
