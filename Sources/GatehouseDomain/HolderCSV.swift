import Foundation
import GatehouseStorage

/// Ticket holders from CSV with a header row (RFC 4180 quoting): `gatehouse tickets issue --csv`
/// and the organizer's import page read files through this. A fault in the file as a whole (an
/// unknown column, an unclosed quote, bytes that are not UTF-8) stops the read; a fault in a row
/// is collected with its line, so an organizer fixes every row in one go, and nothing is issued
/// from a file with any.
public struct HolderCSV {
    /// Longest field accepted: holder names and the like are at most 200 characters; this bound
    /// keeps a hostile file (one 50 MB line) from costing memory in proportion to its size.
    public static let maximumFieldBytes = 4096
    /// The columns a header may name, with the words the import page uses for them. A header
    /// may give either (any case), so a spreadsheet saved with the page's words works too.
    public static let columns: [(name: String, label: String)] = [
        ("holderName", "Holder name"), ("email", "E-mail"), ("ticketType", "Ticket type"), ("userId", "User id"),
    ]

    public struct RowError: Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public struct FileError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public private(set) var requests: [Gatehouse.TicketRequest] = []
    public private(set) var rowErrors: [RowError] = []
    /// Empty lines skipped (they count against `maximumRows`: a file of nothing but line breaks
    /// must not be read for ever).
    public private(set) var blankLines = 0
    public let maximumRows: Int
    private var parser = CSVRecordParser(maximumFieldBytes: maximumFieldBytes)
    private var header: [String]?

    public init(maximumRows: Int = 1_000_000) { self.maximumRows = maximumRows }

    public mutating func feed(_ bytes: some Collection<UInt8>) throws(FileError) {
        // The separator is read off the header line: held back until the first line break.
        guard let bytes = sniffSeparator(bytes) else { return }
        try feedParsed(bytes)
    }

    private mutating func feedParsed(_ bytes: [UInt8]) throws(FileError) {
        // Records are taken one by one as they complete: a chunk of empty lines is not a list of
        // empty records first.
        var parser = self.parser
        defer { self.parser = parser }
        do {
            try parser.feed(bytes) { record, line in try take(record, line: line) }
        } catch let error as FileError {
            throw error
        } catch let error as CSVRecordParser.Failure {
            throw FileError(description: error.description)
        } catch {
            throw FileError(description: "\(error)")
        }
    }

    /// The header line so far, until its line break shows which separator the file uses.
    private var headerBytes: [UInt8]? = []
    /// A header longer than this is not waited for: it is read as commas.
    package static let longestHeader = 64 * 1024

    /// Bytes to parse now: nil while the header line is still incomplete (held back); the header
    /// and all after it once its separator is known.
    private mutating func sniffSeparator(_ bytes: some Collection<UInt8>) -> [UInt8]? {
        guard var held = headerBytes else { return Array(bytes) }
        held.append(contentsOf: bytes)
        guard held.contains(UInt8(ascii: "\n")) || held.contains(UInt8(ascii: "\r")) || held.count > Self.longestHeader else {
            headerBytes = held
            return nil
        }
        let line = held.prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        // The header names columns (no quotes needed): the separator is whichever it uses.
        let counts = [UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "\t")].map { candidate in (candidate, line.count { $0 == candidate }) }
        if let best = counts.max(by: { $0.1 < $1.1 }), best.1 > 0 { parser.separator = best.0 }
        headerBytes = nil
        return held
    }

    /// Ends the file: its last record, and the checks that need the whole of it.
    public mutating func finish() throws(FileError) {
        if let held = headerBytes, !held.isEmpty {
            headerBytes = nil
            // A one-line file: its header decides all the same.
            headerBytes = []
            if let bytes = sniffSeparator(held + [UInt8(ascii: "\n")]) { try feedParsed(bytes) }
        }
        let records: [([String], Int)]
        do { records = try parser.finish() } catch { throw FileError(description: error.description) }
        for (record, line) in records { try take(record, line: line) }
        guard header != nil else { throw FileError(description: "the file is empty: it needs a header row, then one row per holder") }
        guard !requests.isEmpty || !rowErrors.isEmpty else { throw FileError(description: "the file has a header but no holders") }
    }

    private mutating func take(_ record: [String], line: Int) throws(FileError) {
        guard let header else {
            self.header = try Self.columnNames(record)
            return
        }
        guard requests.count + rowErrors.count + blankLines < maximumRows else {
            throw FileError(description: "the file has more than \(maximumRows) lines")
        }
        if record.count == 1 && record[0].trimmingCharacters(in: .whitespaces).isEmpty {
            blankLines += 1
            return
        }
        guard record.count == header.count else {
            rowErrors.append(RowError(line: line, message: "\(record.count) fields, but the header has \(header.count)"))
            return
        }
        var request = Gatehouse.TicketRequest()
        var problems: [String] = []
        for (column, value) in zip(header, record) {
            let label = Self.columns.first { $0.name == column }?.label ?? column
            do {
                let limit = column == "userId" ? Gatehouse.maximumIDLength : Gatehouse.maximumNameLength
                let text = try Gatehouse.optionalText(value, field: label, limit: limit)
                switch column {
                case "holderName": request.holderName = text
                case "email":
                    if let text, !Self.looksLikeEmail(text) { problems.append("\(label) '\(text)' is not an e-mail address") }
                    request.email = text
                case "ticketType": request.ticketType = text
                default: request.userId = text
                }
            } catch {
                problems.append("\(error)")
            }
        }
        if problems.isEmpty { requests.append(request) } else { rowErrors.append(RowError(line: line, message: problems.joined(separator: "; "))) }
    }

    private static func columnNames(_ record: [String]) throws(FileError) -> [String] {
        var names: [String] = []
        for (index, cell) in record.enumerated() {
            // Spreadsheets often start a UTF-8 file with a byte-order mark.
            var text = cell.trimmingCharacters(in: .whitespaces)
            if index == 0, text.hasPrefix("\u{FEFF}") { text.removeFirst() }
            guard let column = columns.first(where: { $0.name.lowercased() == text.lowercased() || $0.label.lowercased() == text.lowercased() })
            else {
                let allowed = columns.map { "\($0.name) (or \($0.label))" }.joined(separator: ", ")
                throw FileError(description: "unknown column '\(text)' in the header; allowed: \(allowed)")
            }
            guard !names.contains(column.name) else { throw FileError(description: "the column \(column.label) appears twice in the header") }
            names.append(column.name)
        }
        return names
    }

    /// One @, something either side, no spaces: typos get caught, no address is judged further.
    package static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && !text.contains(where: \.isWhitespace)
    }
}

/// CSV cells as Gatehouse writes them (the CLI's manifest, the organizer's export).
public enum CSVCell {
    /// A value a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or CR first, as
    /// OWASP's CSV-injection advice lists) gets a leading `'` and quotes, so it shows as text.
    /// Holder names come from outside, and these files are opened in spreadsheets.
    public static func escape(_ field: String) -> String {
        guard let first = field.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return quote(field) }
        return "\"'" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    package static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func row(_ fields: [String]) -> String { fields.map(escape).joined(separator: ",") + "\r\n" }
}
