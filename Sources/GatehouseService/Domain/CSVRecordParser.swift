/// RFC 4180 records from bytes fed in chunks: the file is never held whole, and no field may
/// grow past a bound, so memory stays small whatever the file holds.
struct CSVRecordParser {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let maximumFieldBytes: Int
    private var record: [String] = []
    private var field: [UInt8] = []
    private var quoted = false
    /// The byte before this one was a quote inside a quoted field (an escaped quote or the end).
    private var quoteSeen = false
    private var afterCR = false
    private var line = 1
    private var recordLine = 1

    init(maximumFieldBytes: Int) { self.maximumFieldBytes = maximumFieldBytes }

    /// Hands each record completed by `bytes` to `take`, with the line it started on, as it
    /// completes: nothing is collected, so a file of a million empty lines costs no more memory
    /// than one.
    mutating func feed(_ bytes: some Collection<UInt8>, _ take: ([String], Int) throws -> Void) throws {
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
            case UInt8(ascii: ","): try endField()
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
    mutating func finish() throws(Failure) -> [([String], Int)] {
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
        guard let text = String(validating: field, as: UTF8.self) else {
            throw Failure(description: "line \(recordLine) is not UTF-8 text")
        }
        record.append(text)
        field.removeAll(keepingCapacity: true)
    }
}
