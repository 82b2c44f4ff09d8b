/// RFC 4180 records from bytes fed in chunks: the file is never held whole, and no field may
/// grow past a bound, so memory stays small whatever the file holds.
package struct CSVRecordParser {
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    package let maximumFieldBytes: Int
    /// The byte between fields: `,`, or `;` and tab as spreadsheets in much of Europe write them.
    package var separator = UInt8(ascii: ",")
    /// How the file's text is encoded, settled by its first field that is not ASCII: UTF-8 if
    /// that one is, else Windows-1252 (what Excel on Windows saves as "CSV").
    private(set) var encoding: TextEncoding = .ascii
    private var record: [String] = []
    private var field: [UInt8] = []
    private var quoted = false
    /// The byte before this one was a quote inside a quoted field (an escaped quote or the end).
    private var quoteSeen = false
    private var afterCR = false
    private var line = 1
    private var recordLine = 1

    package init(maximumFieldBytes: Int) { self.maximumFieldBytes = maximumFieldBytes }

    /// Hands each record completed by `bytes` to `take`, with the line it started on, as it
    /// completes: nothing is collected, so a file of a million empty lines costs no more memory
    /// than one.
    package mutating func feed(_ bytes: some Collection<UInt8>, _ take: ([String], Int) throws -> Void) throws {
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            if quoted {
                if quoteSeen {
                    quoteSeen = false
                    if byte == UInt8(ascii: "\"") {
                        try append(byte)
                        continue
                    }
                    quoted = false
                    // fall through: the byte after a closing quote is read as unquoted
                } else if byte == UInt8(ascii: "\"") {
                    quoteSeen = true
                    continue
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    try append(byte)
                    continue
                }
            }
            switch byte {
            case UInt8(ascii: "\"") where field.isEmpty: quoted = true
            case separator: try endField()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                afterCR = byte == UInt8(ascii: "\r")
                try endField()
                let done = record
                record = []
                line += 1
                let started = recordLine
                recordLine = line
                try take(done, started)
            default: try append(byte)
            }
        }
    }

    /// The last record, when the file does not end with a line break.
    package mutating func finish() throws(Failure) -> [([String], Int)] {
        if quoted && !quoteSeen { throw Failure(description: "a quoted field that starts on line \(recordLine) is not closed") }
        guard !field.isEmpty || !record.isEmpty || quoteSeen else { return [] }
        quoted = false
        quoteSeen = false
        try endField()
        defer { record = [] }
        return [(record, recordLine)]
    }

    private mutating func append(_ byte: UInt8) throws(Failure) {
        guard field.count < maximumFieldBytes else {
            throw Failure(description: "line \(recordLine): a field is longer than \(maximumFieldBytes) bytes")
        }
        field.append(byte)
    }

    private mutating func endField() throws(Failure) {
        if encoding == .ascii, !field.allSatisfy({ $0 < 0x80 }) {
            encoding = String(validating: field, as: UTF8.self) == nil ? .windows1252 : .utf8
        }
        let text: String?
        switch encoding {
        case .ascii, .utf8: text = String(validating: field, as: UTF8.self)
        case .windows1252: text = Self.windows1252(field)
        }
        guard let text else {
            throw Failure(
                description: encoding == .utf8
                    ? "line \(recordLine) is not UTF-8 text, though the lines before it are: save the file again as \"CSV UTF-8\""
                    : "line \(recordLine) has bytes that are neither UTF-8 nor Windows-1252 text: save the file again as \"CSV UTF-8\""
            )
        }
        record.append(text)
        field.removeAll(keepingCapacity: true)
    }

    package enum TextEncoding: Sendable {
        case ascii, utf8, windows1252
    }

    /// Windows-1252 bytes as text; nil for the five bytes it leaves undefined.
    package static func windows1252(_ bytes: [UInt8]) -> String? {
        var scalars = String.UnicodeScalarView()
        for byte in bytes {
            if byte < 0x80 || byte >= 0xA0 {
                scalars.append(Unicode.Scalar(byte))
            } else {
                let value = windows1252High[Int(byte) - 0x80]
                guard value != 0, let scalar = Unicode.Scalar(value) else { return nil }
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    /// 0x80–0x9F in Windows-1252 (0: undefined).
    private static let windows1252High: [UInt32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]
}
