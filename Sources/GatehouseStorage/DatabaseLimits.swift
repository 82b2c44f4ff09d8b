/// How long a networked store (PostgreSQL, MySQL/MariaDB) waits for its database before the
/// request gets a 503: the request was fine, the database is away or overloaded. A check-in cut
/// off this way may still have committed; the gate's retry with the same scanId then gets that
/// first answer.
public struct DatabaseLimits: Sendable, Equatable {
    /// A check-in, a read, an organizer's single change: a gate queue cannot wait longer.
    public var operation: Duration
    /// A registration: in a rush they take turns for the event's places, and a person at a form
    /// can wait ten seconds where a gate queue cannot wait three.
    public var registration: Duration
    /// An organizer's issue of up to `Gatehouse.maximumTicketsPerRequest` tickets is one
    /// transaction; on a busy database that takes longer than a gate's scan may wait.
    public var issuance: Duration

    public init(operation: Duration, registration: Duration, issuance: Duration) {
        self.operation = operation
        self.registration = registration
        self.issuance = issuance
    }

    /// What `gatehouse serve` and the admin commands use.
    public static let standard = DatabaseLimits(operation: .seconds(3), registration: .seconds(10), issuance: .seconds(30))
}
