#if canImport(Glibc)
import Glibc
#endif

/// An e-mail as Gatehouse sends it (RFC 5322 with MIME): a plain-text part, optionally an HTML
/// alternative with images it shows inline, and attachments. Every value from outside reaches the
/// headers only through `MailAddress` (checked) or as encoded words, so none can add a header.
public struct MailMessage: Sendable {
    /// A part the HTML shows through `cid:` (the ticket's QR code).
    public struct InlineImage: Sendable {
        public var contentID: String
        public var mediaType: String
        public var bytes: [UInt8]
        public init(contentID: String, mediaType: String, bytes: [UInt8]) {
            self.contentID = contentID
            self.mediaType = mediaType
            self.bytes = bytes
        }
    }

    public struct Attachment: Sendable {
        public var filename: String
        public var mediaType: String
        public var bytes: [UInt8]
        public init(filename: String, mediaType: String, bytes: [UInt8]) {
            self.filename = filename
            self.mediaType = mediaType
            self.bytes = bytes
        }
    }

    public var from: MailAddress
    public var to: MailAddress
    public var subject: String
    public var text: String
    public var html: String?
    public var inlineImages: [InlineImage]
    public var attachments: [Attachment]
    /// Unique per message, so a copy sent again after a lost answer is recognisable as the same.
    public var messageID: String
    /// Seconds since 1970.
    public var date: Int

    public init(
        from: MailAddress,
        to: MailAddress,
        subject: String,
        text: String,
        html: String? = nil,
        inlineImages: [InlineImage] = [],
        attachments: [Attachment] = [],
        messageID: String? = nil,
        date: Int? = nil
    ) {
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.inlineImages = inlineImages
        self.attachments = attachments
        self.messageID = messageID ?? Self.newMessageID(domain: from.domain)
        self.date = date ?? Int(time(nil))
    }

    public static func newMessageID(domain: String) -> String { "<\(randomToken())@\(domain)>" }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(generator.next() as UInt64, radix: 36) }.joined(separator: ".")
    }

    /// The message as it goes over SMTP: CRLF line ends, no line over 998 characters.
    public func rendered() -> [UInt8] {
        var out: [UInt8] = []
        func header(_ name: String, _ value: String) { out += Array("\(name): \(value)\r\n".utf8) }
        header("Date", Self.rfc5322Date(date))
        header("From", Self.mailbox(from))
        header("To", Self.mailbox(to))
        header("Subject", MIMEEncoding.headerText(Self.oneLine(subject)))
        // A long domain puts the id on a line of its own, within 78 characters where it can be.
        header("Message-ID", messageID.utf8.count > 66 ? "\r\n \(messageID)" : messageID)
        header("MIME-Version", "1.0")
        header("Auto-Submitted", "auto-generated")
        out += body()
        return out
    }

    /// The body with its Content-Type header first: the parts nested as mail readers expect —
    /// mixed (attachments) around related (inline images) around alternative (text and HTML).
    private func body() -> [UInt8] {
        var part = Self.textPart(text, subtype: "plain")
        if let html {
            part = Self.multipart("alternative", [part, Self.textPart(html, subtype: "html")])
            if !inlineImages.isEmpty {
                part = Self.multipart("related", [part] + inlineImages.map(Self.inlinePart))
            }
        }
        if !attachments.isEmpty { part = Self.multipart("mixed", [part] + attachments.map(Self.attachmentPart)) }
        return part
    }

    private static func textPart(_ text: String, subtype: String) -> [UInt8] {
        Array("Content-Type: text/\(subtype); charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n".utf8)
            + MIMEEncoding.quotedPrintable(text)
    }

    private static func inlinePart(_ image: InlineImage) -> [UInt8] {
        Array(
            """
            Content-Type: \(token(image.mediaType))\r
            Content-Transfer-Encoding: base64\r
            Content-ID: <\(token(image.contentID))>\r
            Content-Disposition: inline\r
            \r

            """.utf8
        ) + MIMEEncoding.base64Lines(image.bytes)
    }

    private static func attachmentPart(_ attachment: Attachment) -> [UInt8] {
        let name = MIMEEncoding.headerText(oneLine(attachment.filename))
        let quoted = name.contains("=?") ? name : "\"\(name.replacing("\"", with: "'").replacing("\\", with: "_"))\""
        return Array(
            """
            Content-Type: \(token(attachment.mediaType));\r
             name=\(quoted)\r
            Content-Transfer-Encoding: base64\r
            Content-Disposition: attachment;\r
             filename=\(quoted)\r
            \r

            """.utf8
        ) + MIMEEncoding.base64Lines(attachment.bytes)
    }

    /// A multipart part around `parts`, with a boundary that cannot occur in them: `=_` appears
    /// in neither quoted-printable nor base64 lines.
    private static func multipart(_ subtype: String, _ parts: [[UInt8]]) -> [UInt8] {
        let boundary = "=_gh_" + randomToken()
        var out = Array("Content-Type: multipart/\(subtype);\r\n boundary=\"\(boundary)\"\r\n\r\n".utf8)
        for part in parts {
            out += Array("--\(boundary)\r\n".utf8)
            out += part
        }
        out += Array("--\(boundary)--\r\n".utf8)
        return out
    }

    private static func mailbox(_ address: MailAddress) -> String {
        guard let name = address.displayName else { return address.address }
        // The address on a line of its own after a long name: lines stay within 78 characters.
        let shown = MIMEEncoding.displayName(name)
        let lastLine = shown.split(separator: "\r\n").last.map(String.init) ?? shown
        return lastLine.utf8.count + address.address.utf8.count > 66 ? "\(shown)\r\n <\(address.address)>" : "\(shown) <\(address.address)>"
    }

    /// Header text on one line: each run of control characters (a line break) becomes a space.
    static func oneLine(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var inBreak = false
        for scalar in text.unicodeScalars.prefix(500) {
            let control = scalar.properties.generalCategory == .control
            if control, !inBreak { scalars.append(" ") }
            if !control { scalars.append(scalar) }
            inBreak = control
        }
        return String(scalars)
    }

    /// A media type or content id made of our own constants; anything else in it is dropped.
    private static func token(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.isASCII && $0.value > 32 && $0 != "\"" && $0 != "<" && $0 != ">" && $0 != ";" }.map(Character.init))
    }

    /// "Fri, 04 Dec 2026 08:40:00 +0000".
    static func rfc5322Date(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }
}
