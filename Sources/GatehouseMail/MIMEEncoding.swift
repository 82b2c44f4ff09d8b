/// The encodings a MIME message is written in: lines of base64 for binary parts, quoted-printable
/// for text, encoded words for header text that is not plain ASCII. Every line they produce ends
/// in CRLF and is at most 76 characters, and none of them can put a bare CR or LF into a header.
enum MIMEEncoding {
    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func base64(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let value = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(base64Alphabet[Int(value >> 18 & 63)])
            out.append(base64Alphabet[Int(value >> 12 & 63)])
            out.append(second == nil ? UInt8(ascii: "=") : base64Alphabet[Int(value >> 6 & 63)])
            out.append(third == nil ? UInt8(ascii: "=") : base64Alphabet[Int(value & 63)])
        }
        return out
    }

    /// Base64 in lines of 76 characters, each ending in CRLF.
    static func base64Lines(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let encoded = base64(bytes)
        var out: [UInt8] = []
        out.reserveCapacity(encoded.count + encoded.count / 76 * 2 + 2)
        var start = 0
        while start < encoded.count {
            let end = min(start + 76, encoded.count)
            out += encoded[start..<end]
            out += [13, 10]
            start = end
        }
        return out
    }

    /// Quoted-printable (RFC 2045) of UTF-8 text: its line breaks (LF or CRLF) become CRLF, lines
    /// longer than 76 characters are broken with soft breaks, and a dot at the start of a line is
    /// encoded, so no line of the body can read as SMTP's end of data.
    static func quotedPrintable(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        let lines = text.replacingCRLF.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            var column = 0
            let bytes = Array(line.utf8)
            for (position, byte) in bytes.enumerated() {
                let last = position == bytes.count - 1
                func literal(at column: Int) -> Bool {
                    (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=") && !(byte == UInt8(ascii: ".") && column == 0))
                        || ((byte == 32 || byte == 9) && !last)
                }
                // Room for this character and a soft break's `=` within 76.
                if column + (literal(at: column) ? 1 : 3) > 75 {
                    out += Array("=\r\n".utf8)
                    column = 0
                }
                if literal(at: column) {
                    out.append(byte)
                    column += 1
                } else {
                    out += hex(byte)
                    column += 3
                }
            }
            if index < lines.count - 1 { out += [13, 10] }
        }
        out += [13, 10]
        return out
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)
    private static func hex(_ byte: UInt8) -> [UInt8] { [UInt8(ascii: "="), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]] }

    /// Header text as it may stand in a header: plain when it is printable ASCII, else RFC 2047
    /// encoded words (UTF-8, base64) of 39 bytes each, folded onto continuation lines, so that a
    /// line with its header's name ("Subject: ") stays within 78 characters.
    /// A character (a Unicode scalar) is never split across two words.
    static func headerText(_ text: String) -> String {
        if isPlain(text) { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        // 39 bytes are 52 base64 characters, a 64-character word.
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if chunk.count + bytes.count > 39 {
                words.append(encodedWord(chunk))
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append(encodedWord(chunk)) }
        return words.joined(separator: "\r\n ")
    }

    /// Printable ASCII that no reader could take for an encoded word: it may stand as it is.
    private static func isPlain(_ text: String) -> Bool { text.utf8.allSatisfy { $0 >= 32 && $0 < 127 } && !text.contains("=?") }

    private static func encodedWord(_ bytes: [UInt8]) -> String { "=?UTF-8?B?" + String(decoding: base64(bytes), as: UTF8.self) + "?=" }

    /// A display name in a From or To header: a quoted string when it is plain ASCII, encoded
    /// words otherwise.
    static func displayName(_ name: String) -> String {
        if isPlain(name) {
            let escaped = name.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
            return "\"\(escaped)\""
        }
        return headerText(name)
    }
}

extension String {
    var replacingCRLF: String { replacing("\r\n", with: "\n").replacing("\r", with: "\n") }
}
