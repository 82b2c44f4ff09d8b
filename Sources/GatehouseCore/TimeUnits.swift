import FoundationEssentials

extension Date {
    /// Milliseconds since 1970: how both stores keep times, so they answer to the millisecond alike.
    public var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
    public init(millis: Int64) { self.init(timeIntervalSince1970: Double(millis) / 1000) }
    /// The same instant as stored: what a store returns for a time it was just given.
    public var truncatedToMillis: Date { Date(millis: millis) }
}

extension Duration {
    /// Whole milliseconds, for logs and settings.
    public var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
