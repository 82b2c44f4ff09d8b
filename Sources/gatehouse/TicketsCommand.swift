import ArgumentParser
import Foundation
import GatehouseAPI
import GatehouseCore
import GatehouseDomain
import GatehouseImage
import GatehouseService
import GatehouseStorage
import QRRendering
import Synchronization
import TicketPDF

struct TicketsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tickets",
        abstract: "Issue, show, revoke and re-issue tickets.",
        subcommands: [Issue.self, Show.self, Revoke.self, Reissue.self]
    )

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue tickets and write one QR image per ticket (SVG and PNG, and a PDF with --pdf) plus manifest.csv.",
            discussion: """
                The output folder holds the only copies of the ticket codes: keep it private. \
                holders.csv needs a header row naming any of: holderName, email, ticketType, userId.
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Event id.") var event: String
        @Option(help: "How many anonymous tickets to issue (1–1000000).") var count: Int?
        @Option(help: "A CSV file with one ticket holder per row.") var csv: String?
        @Option(help: "Ticket type for every ticket (a CSV column overrides it).") var ticketType: String?
        @Option(help: "Expiry time for every ticket, ISO 8601.") var expiresAt: String?
        @Option(help: "Folder for the QR images and manifest.csv (made if missing; must not hold a manifest).") var out: String = "tickets"
        @OptionGroup var imageChoice: ImageChoice

        func validate() throws {
            switch (count, csv) {
            case (nil, nil): throw ValidationError("give --count N or --csv FILE")
            case (.some, .some): throw ValidationError("give either --count or --csv, not both")
            case (let n?, nil) where !(1...1_000_000).contains(n): throw ValidationError("--count must be between 1 and 1000000, not \(n)")
            default: break
            }
        }

        func run() async throws {
            let expires = try parseTime(expiresAt, option: "--expires-at")
            var requests: [Gatehouse.TicketRequest]
            if let csv {
                requests = try HolderFile.read(path: csv)
                for index in requests.indices {
                    requests[index].ticketType = requests[index].ticketType ?? ticketType
                    requests[index].expiresAt = expires
                }
            } else {
                requests = Array(repeating: Gatehouse.TicketRequest(ticketType: ticketType, expiresAt: expires), count: count ?? 0)
            }
            var output = try TicketOutput(folder: out, images: imageChoice.images, pdf: imageChoice.pdf)
            let progress = ProgressBar(total: requests.count)
            var issued = 0
            try await withGatehouse(database) { gatehouse in
                if output.pdf { output.event = try await gatehouse.event(id: event) }
                // Batches: each is one transaction, and its codes are on disk before the next starts,
                // so a failure half-way loses no issued ticket's code.
                var start = requests.startIndex
                while start < requests.endIndex {
                    let end = min(start + 1000, requests.endIndex)
                    let tickets = try await gatehouse.issueTickets(eventId: event, Array(requests[start..<end]))
                    try output.write(tickets)
                    issued += tickets.count
                    progress.update(issued)
                    start = end
                }
                try await auditCommandLine(gatehouse, "tickets issued", eventId: event, detail: "\(issued) tickets")
            }
            progress.finish()
            print("Issued \(issued) tickets for \(event); \(imageChoice.written) in \(out)/")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a ticket's details and status (never its code).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Ticket id.") var id: String
        func run() async throws { try printJSON(try await withGatehouse(database) { try await $0.ticket(id: id) }) }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a ticket: its code is refused from now on.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Ticket id.") var id: String
        func run() async throws {
            try printJSON(
                try await withGatehouse(database) { gatehouse in
                    let ticket = try await gatehouse.revokeTicket(id: id)
                    try await auditCommandLine(gatehouse, "ticket revoked", eventId: ticket.eventId, subject: ticket.id)
                    return ticket
                }
            )
        }
    }

    struct Reissue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a ticket a new code (the old one stops working) and write its QR.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Ticket id.") var id: String
        @Option(help: "Folder for the new QR images and manifest.csv.") var out: String = "tickets-reissued"
        @OptionGroup var imageChoice: ImageChoice
        func run() async throws {
            var output = try TicketOutput(folder: out, images: imageChoice.images, pdf: imageChoice.pdf)
            let ticket = try await withGatehouse(database) { gatehouse in
                let ticket = try await gatehouse.reissueTicket(id: id)
                try await auditCommandLine(gatehouse, "ticket re-issued", eventId: ticket.ticket.eventId, subject: ticket.ticket.id)
                if output.pdf { output.event = try await gatehouse.event(id: ticket.ticket.eventId) }
                return ticket
            }
            try output.write([ticket])
            print("Re-issued \(ticket.ticket.id) (#\(ticket.ticket.number)); \(imageChoice.written) in \(out)/")
        }
    }
}

/// `--images` and `--pdf`, for the commands that write tickets.
struct ImageChoice: ParsableArguments {
    @Option(help: "Which QR images to write for each ticket: \(TicketImages.allValueStrings.joined(separator: ", ")).")
    var images: TicketImages = .both
    @Flag(help: "Also write each ticket as a one-page PDF (event, holder, number, the code) to print or send.")
    var pdf = false

    /// What the output folder holds, for the command's last line.
    var written: String { pdf ? images.written + " and PDF tickets" : images.written }
}

/// The QR images written beside the manifest: what the organizer's mail merge or print shop needs.
enum TicketImages: String, CaseIterable, ExpressibleByArgument {
    case none, png, svg, both

    var png: Bool { self == .png || self == .both }
    var svg: Bool { self == .svg || self == .both }

    /// What the output folder holds, for the command's last line.
    var written: String {
        switch self {
        case .none: return "manifest.csv"
        case .png: return "PNG images and manifest.csv"
        case .svg: return "SVG images and manifest.csv"
        case .both: return "QR images (SVG and PNG) and manifest.csv"
        }
    }
}

/// Writes QR images, PDF tickets and the manifest for issued tickets.
struct TicketOutput {
    let folder: String
    let manifestPath: String
    let images: TicketImages
    let pdf: Bool
    /// The tickets' event, for their PDFs, and its start written for people once for all of them.
    var event: Event? { didSet { eventStart = event?.startsAt.map(Self.writtenForPeople) } }
    private var eventStart: String?

    /// Checks the folder before anything is issued; the manifest is made with the first batch,
    /// so a command that fails before issuing leaves nothing that blocks its retry.
    init(folder: String, images: TicketImages, pdf: Bool) throws {
        self.folder = folder
        self.images = images
        self.pdf = pdf
        manifestPath = (folder as NSString).appendingPathComponent("manifest.csv")
        guard !FileManager.default.fileExists(atPath: manifestPath) else {
            throw ValidationError("\(manifestPath) exists already; choose another --out folder")
        }
        // Private: these files are the tickets themselves.
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard access(folder, W_OK) == 0 else { throw ValidationError("cannot write in \(folder)") }
    }

    /// Writes the batch's images (on every core: drawing and compressing is most of issuing's
    /// time) and then its manifest rows, in ticket order, synced before returning.
    func write(_ tickets: [IssuedTicket]) throws {
        if images != .none || pdf { try writeImages(tickets) }
        var rows = ""
        for issued in tickets {
            let ticket = issued.ticket
            rows +=
                [String(ticket.number), ticket.id, ticket.holderName ?? "", ticket.email ?? "", ticket.ticketType ?? "", issued.qrData]
                .map(CSVCell.escape).joined(separator: ",") + "\n"
        }
        if !FileManager.default.fileExists(atPath: manifestPath) {
            try AdminToken.writeSecretFile(path: manifestPath, contents: "number,ticketId,holderName,email,ticketType,qrData\n")
        }
        guard let manifest = FileHandle(forWritingAtPath: manifestPath) else { throw ValidationError("cannot open \(manifestPath)") }
        defer { try? manifest.close() }
        manifest.seekToEndOfFile()
        manifest.write(Data(rows.utf8))
        try manifest.synchronize()
    }

    private func writeImages(_ tickets: [IssuedTicket]) throws {
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, tickets.count))
        let firstError = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: tickets.count, by: workers) {
                guard firstError.withLock({ $0 == nil }) else { return }
                do {
                    try writeImages(of: tickets[index])
                } catch {
                    firstError.withLock { $0 = $0 ?? error }
                }
            }
        }
        if let error = firstError.withLock({ $0 }) { throw error }
    }

    private func writeImages(of issued: IssuedTicket) throws {
        let matrix = try QRMatrix(encoding: issued.qrData)
        let base = (folder as NSString).appendingPathComponent(String(format: "ticket-%06d", issued.ticket.number))
        // Readable by their owner only, like the manifest: each image is the ticket. Not synced
        // one by one: the synced manifest is the record of the codes, an image can be redrawn.
        if images.svg { try AdminToken.writeSecretFile(path: base + ".svg", bytes: matrix.svgBytes(), replacing: true, durable: false) }
        if images.png { try AdminToken.writeSecretFile(path: base + ".png", bytes: matrix.png(scale: 8), replacing: true, durable: false) }
        if pdf {
            let ticket = issued.ticket
            let document = TicketDocument(
                eventName: event?.name ?? ticket.eventId,
                when: eventStart,
                holder: ticket.holderName,
                number: ticket.number,
                ticketType: ticket.ticketType,
                code: issued.qrData
            )
            try AdminToken.writeSecretFile(path: base + ".pdf", bytes: try TicketPDF.render(document), replacing: true, durable: false)
        }
    }

    /// "Saturday 12 June 2027, 19:00 CEST": in this machine's time zone, which the organizer
    /// running the command shares with the event more often than not, and named so it is never
    /// mistaken.
    static func writtenForPeople(_ time: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_GB")
        formatter.timeZone = .current
        formatter.dateFormat = "EEEE d MMMM yyyy, HH:mm zzz"
        return formatter.string(from: time)
    }
}

/// Reads ticket holders from a CSV file (see `HolderCSV`), in chunks: the file is never held whole.
enum HolderFile {
    static func read(path: String) throws -> [Gatehouse.TicketRequest] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationError("--csv: cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var reader = HolderCSV()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        do {
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw ValidationError("--csv: cannot read \(path): \(String(cString: strerror(errno)))")
                }
                if count == 0 { break }
                try reader.feed(chunk[..<count])
            }
            try reader.finish()
        } catch let error as HolderCSV.FileError {
            throw ValidationError("--csv: \(path): \(error.description)")
        }
        guard reader.rowErrors.isEmpty else {
            let shown = reader.rowErrors.prefix(10).map { "  \($0)" }.joined(separator: "\n")
            let more = reader.rowErrors.count > 10 ? "\n  … and \(reader.rowErrors.count - 10) more" : ""
            throw ValidationError("--csv: \(path) has \(reader.rowErrors.count) rows to fix; nothing was issued:\n\(shown)\(more)")
        }
        return reader.requests
    }
}

/// A one-line progress bar on stderr for batches large enough to wait for.
final class ProgressBar {
    let total: Int
    let visible: Bool

    init(total: Int) {
        self.total = total
        // Only for a person watching: not when the output goes to a file or another program.
        visible = total >= 1000 && isatty(STDOUT_FILENO) == 1 && isatty(STDERR_FILENO) == 1
    }

    func update(_ done: Int) {
        guard visible else { return }
        let width = 40
        let filled = total == 0 ? width : done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)".utf8))
    }

    func finish() {
        if visible { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
