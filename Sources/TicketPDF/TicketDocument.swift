/// What one ticket's PDF page shows: the event, the holder, and the code large enough to scan.
public struct TicketDocument: Sendable, Equatable {
    public var eventName: String
    /// When the event takes place, already written for people (the page does not format dates).
    public var when: String?
    public var place: String?
    public var holder: String?
    public var number: Int
    public var ticketType: String?
    /// The text the QR code holds, printed under it too for entry by hand.
    public var code: String

    public init(
        eventName: String,
        when: String? = nil,
        place: String? = nil,
        holder: String? = nil,
        number: Int,
        ticketType: String? = nil,
        code: String
    ) {
        self.eventName = eventName
        self.when = when
        self.place = place
        self.holder = holder
        self.number = number
        self.ticketType = ticketType
        self.code = code
    }
}
