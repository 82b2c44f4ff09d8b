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
            (["checkins", "--event", "ENOEVENT"], "no event ENOEVENT"),
        ]
        for (arguments, expected) in cases {
            let run = try CommandRun.run(ServiceProcess.binary, arguments + ["--db", folder.file("cli.sqlite")])
            #expect(run.status != 0, "\(arguments)")
            #expect(run.errors.contains(expected), "\(arguments): \(run.errors)")
        }
    }
}

/// Reads the 8-bit grey PNGs that `PNGWriter` makes (no filters, one IDAT): enough to check
/// what the CLI wrote without an image library.
enum PNGReader {
    struct Failure: Error {}

    static func grey(_ file: [UInt8]) throws -> GreyImage {
        var offset = 8
        var width = 0
        var height = 0
        var compressed: [UInt8] = []
        func u32(_ at: Int) -> Int { Int(file[at]) << 24 | Int(file[at + 1]) << 16 | Int(file[at + 2]) << 8 | Int(file[at + 3]) }
        while offset + 8 <= file.count {
            let length = u32(offset)
            let type = String(decoding: file[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let data = Array(file[(offset + 8)..<(offset + 8 + length)])
            if type == "IHDR" {
                width = Int(data[0]) << 24 | Int(data[1]) << 16 | Int(data[2]) << 8 | Int(data[3])
                height = Int(data[4]) << 24 | Int(data[5]) << 16 | Int(data[6]) << 8 | Int(data[7])
                guard data[8] == 8, data[9] == 0 else { throw Failure() }
            } else if type == "IDAT" {
                compressed += data
            }
            offset += 12 + length
        }
        var rawLength = uLong((width + 1) * height)
        var raw = [UInt8](repeating: 0, count: Int(rawLength))
        guard uncompress(&raw, &rawLength, compressed, uLong(compressed.count)) == Z_OK else { throw Failure() }
        var pixels: [UInt8] = []
        for row in 0..<height {
            guard raw[row * (width + 1)] == 0 else { throw Failure() }
            pixels += raw[(row * (width + 1) + 1)..<((row + 1) * (width + 1))]
        }
        return GreyImage(width: width, height: height, pixels: pixels)
    }
}
