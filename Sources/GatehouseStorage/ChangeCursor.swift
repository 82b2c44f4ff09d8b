/// Where a gate's pull of ticket changes left off.
///
/// SQLite and MySQL number changes in commit order, so a position is enough. PostgreSQL orders
/// them by the transaction that made them (`transaction`, its id) and then by a sequence
/// (`position`): see `PostgresSchema`, schema 10. A gate keeps the cursor as text of digits only
/// (it puts it in a URL unescaped), so the transaction's id goes first and the position after it
/// in 19 digits; a cursor without a transaction is the position alone, as every store wrote it
/// before PostgreSQL stamped transactions (its rows from then count as transaction 0).
public struct ChangeCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var transaction: Int64
    public var position: Int64

    public init(transaction: Int64 = 0, position: Int64) {
        self.transaction = transaction
        self.position = position
    }

    static let positionDigits = 19

    /// The text a gate sends back; nil for anything this type did not write.
    public init?(text: String) {
        let digits = text.utf8
        guard (1...2 * Self.positionDigits).contains(digits.count), digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        if digits.count <= Self.positionDigits {
            guard let position = Int64(text) else { return nil }
            self.init(position: position)
        } else {
            let split = text.index(text.endIndex, offsetBy: -Self.positionDigits)
            guard let transaction = Int64(text[..<split]), let position = Int64(text[split...]) else { return nil }
            self.init(transaction: transaction, position: position)
        }
    }

    public var description: String {
        guard transaction != 0 else { return String(position) }
        let position = String(position)
        return String(transaction) + String(repeating: "0", count: Self.positionDigits - position.count) + position
    }

    public static func < (lhs: ChangeCursor, rhs: ChangeCursor) -> Bool {
        (lhs.transaction, lhs.position) < (rhs.transaction, rhs.position)
    }
}
