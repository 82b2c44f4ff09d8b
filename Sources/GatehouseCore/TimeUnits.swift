import FoundationEssentials

extension Date {
    /// Milliseconds since 1970: how every store keeps times, so all answer to the millisecond alike.
    ///
    /// Truncated, except within 0.1 ms of a whole millisecond, which is taken as that millisecond:
    /// `Date(millis: m)` holds the Double nearest m/1000 s, which can lie just below it, and
    /// flooring that gave m - 1 (a time given as `…00.000Z` came back a millisecond early).
    public var millis: Int64 {
        let exact = timeIntervalSince1970 * 1000
        let nearest = exact.rounded()
        return Int64(abs(exact - nearest) < 0.1 ? nearest : exact.rounded(.down))
    }
    public init(millis: Int64) { self.init(timeIntervalSince1970: Double(millis) / 1000) }
    /// The same instant as stored: what a store returns for a time it was just given.
    public var truncatedToMillis: Date { Date(millis: millis) }
}

extension Duration {
    /// Whole milliseconds, for logs and settings.
    public var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
