/// What a ticket's QR code holds: a format tag, the event id and the ticket's secret token.
///
/// Text form: `GH:<event id>:<token>`, e.g. `GH:EK3J5Q2X:MZXW6YTBOI3DEMRSGQ4TCNRXHA`
/// (38 characters). Every character is in QR alphanumeric mode, and 38 is the most that fits
/// QR version 2 at level M: the smallest code a camera can read for a 128-bit secret. No personal data, ever: the
/// code is shown on phones and printed on paper, so it must say nothing about its holder.
public struct TicketCode: Hashable, Sendable {
    public static let prefix = "GH:"
    /// Longest text `parse` will look at; anything longer is not ours and is refused before work.
    public static let maximumLength = 64

    public let eventID: String
    public let token: String

    public init(eventID: String, token: String) {
        self.eventID = eventID
        self.token = token
    }

    public var text: String { Self.prefix + eventID + ":" + token }

    /// Parses a scanned payload. Returns nil for anything that is not exactly our format:
    /// scanners hand us arbitrary text (other QR codes, URLs, garbage), which is `invalid`.
    /// One trailing CR/LF is tolerated because some scanners append it.
    public static func parse(_ payload: String) -> TicketCode? {
        var text = Substring(payload)
        while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text = text.dropLast() }
        guard text.utf8.count <= maximumLength, text.hasPrefix(prefix) else { return nil }
        let fields = text.dropFirst(prefix.count).split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 2 else { return nil }
        let event = fields[0]
        let token = fields[1]
        guard Identifier.isEventID(event),
            token.utf8.count == Secret.ticketTokenLength, Base32.isBase32(token)
        else { return nil }
        return TicketCode(eventID: String(event), token: String(token))
    }

    /// Parses raw payload bytes (what zbar hands over in binary mode).
    public static func parse(bytes: [UInt8]) -> TicketCode? {
        guard bytes.count <= maximumLength + 2 else { return nil }
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        return parse(text)
    }
}
