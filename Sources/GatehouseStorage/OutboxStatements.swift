import Foundation
import GatehouseCore

/// Registration and outbox statements SQLite and MySQL run alike (PostgreSQL has its own, with
/// the same meaning).
public enum OutboxStatements {
    public static func createEvent(
        id: String,
        name: String,
        startsAt: Date?,
        endsAt: Date?,
        place: String?,
        registration: RegistrationSettings,
        at: Date
    ) -> StoreStatement {
        StoreStatement(
            sql: """
                INSERT INTO events (id, name, starts_at, ends_at, created_at, place,
                                    reg_open, reg_capacity, reg_closes_at, reg_ticket_type, reg_one_per_email)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            parameters: [.text(id), .text(name), .optional(startsAt?.millis), .optional(endsAt?.millis), .integer(at.millis), .optional(place)]
                + registrationValues(registration)
        )
    }

    public static func setRegistration(eventId: String, _ settings: RegistrationSettings) -> StoreStatement {
        StoreStatement(
            sql: "UPDATE events SET reg_open = ?, reg_capacity = ?, reg_closes_at = ?, reg_ticket_type = ?, reg_one_per_email = ? WHERE id = ?",
            parameters: registrationValues(settings) + [.text(eventId)]
        )
    }

    static func registrationValues(_ settings: RegistrationSettings) -> [StoreRecords.Parameter] {
        [
            .integer(settings.open ? 1 : 0), .optional(settings.capacity.map(Int64.init)), .optional(settings.closesAt?.millis),
            .optional(settings.ticketType), .integer(settings.onePerEmail ? 1 : 0),
        ]
    }

    /// The event's registration settings and count (MySQL appends `FOR UPDATE`; SQLite's one
    /// writer holds the whole file).
    public static let registrationState =
        "SELECT reg_open, reg_capacity, reg_closes_at, reg_ticket_type, reg_one_per_email, registered FROM events WHERE id = ?"

    public static func registrationState(_ row: some StoreRow) -> EventRegistration {
        EventRegistration(
            settings: RegistrationSettings(
                open: row.int(0) != 0,
                capacity: row.optionalInt(1).map { Int($0) },
                closesAt: row.optionalInt(2).map(Date.init(millis:)),
                ticketType: row.optionalText(3),
                onePerEmail: row.int(4) != 0
            ),
            registered: Int(row.int(5))
        )
    }

    public static func addressTaken(eventId: String, addressKey: String) -> StoreStatement {
        StoreStatement(
            sql: "SELECT 1 FROM registrations WHERE event_id = ? AND address_key = ? LIMIT 1",
            parameters: [.text(eventId), .text(addressKey)]
        )
    }

    public static func countRegistration(eventId: String) -> StoreStatement {
        StoreStatement(sql: "UPDATE events SET registered = registered + 1 WHERE id = ?", parameters: [.text(eventId)])
    }

    public static func recordRegistration(_ registration: NewRegistration, at: Date) -> StoreStatement {
        StoreStatement(
            sql: "INSERT INTO registrations (ticket_id, event_id, address_key, created_at) VALUES (?, ?, ?, ?)",
            parameters: [.text(registration.ticket.id), .text(registration.eventId), .text(registration.addressKey), .integer(at.millis)]
        )
    }

    /// A re-issue makes a pending mail's code useless: it is never sent.
    public static func supersedeMail(ticketId: String) -> StoreStatement {
        StoreStatement(
            sql: "UPDATE mail_outbox SET state = 'superseded', sealed_code = NULL, lease_until = NULL WHERE ticket_id = ? AND state = 'pending'",
            parameters: [.text(ticketId)]
        )
    }

    public static func enqueueMail(_ mail: NewMail, at: Date) -> StoreStatement {
        StoreStatement(
            sql: """
                INSERT INTO mail_outbox (id, event_id, ticket_id, recipient, sealed_code, state, attempts, next_attempt_at, created_at)
                SELECT ?, event_id, id, ?, ?, 'pending', 0, ?, ? FROM tickets WHERE id = ?
                """,
            parameters: [
                .text(mail.id), .text(mail.recipient), .bytes(mail.sealedCode), .integer(at.millis), .integer(at.millis), .text(mail.ticketId),
            ]
        )
    }

    /// Pending mails: how many, and the oldest one's creation (NULL when none).
    public static let depth = StoreStatement(sql: "SELECT count(*), min(created_at) FROM mail_outbox WHERE state = 'pending'", parameters: [])

    public static func depth(_ row: some StoreRow) -> MailOutboxDepth {
        MailOutboxDepth(pending: Int(row.int(0)), oldestPendingAt: row.optionalInt(1).map(Date.init(millis:)))
    }

    public static func dueMail(due: Date, limit: Int) -> StoreStatement {
        StoreStatement(
            sql: """
                SELECT id FROM mail_outbox
                WHERE state = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
                ORDER BY next_attempt_at, id LIMIT ?
                """,
            parameters: [.integer(due.millis), .integer(due.millis), .integer(Int64(limit))]
        )
    }

    /// Takes one due mail unless another sender took it meanwhile (one row changed, or none).
    public static func leaseMail(id: String, due: Date, leaseUntil: Date) -> StoreStatement {
        StoreStatement(
            sql: "UPDATE mail_outbox SET lease_until = ? WHERE id = ? AND state = 'pending' AND (lease_until IS NULL OR lease_until <= ?)",
            parameters: [.integer(leaseUntil.millis), .text(id), .integer(due.millis)]
        )
    }

    public static let queuedMailColumns = "SELECT id, ticket_id, event_id, recipient, sealed_code, attempts, created_at FROM mail_outbox"

    public static func queuedMail(_ row: some StoreRow) -> QueuedMail {
        QueuedMail(
            id: row.text(0),
            ticketId: row.text(1),
            eventId: row.text(2),
            recipient: row.text(3),
            sealedCode: row.bytes(4),
            attempts: Int(row.int(5)),
            createdAt: Date(millis: row.int(6))
        )
    }

    public static func mailSent(id: String, at: Date) -> StoreStatement {
        StoreStatement(
            sql: """
                UPDATE mail_outbox SET state = 'sent', sealed_code = NULL, lease_until = NULL, sent_at = ?, attempts = attempts + 1, last_error = NULL
                WHERE id = ? AND state = 'pending'
                """,
            parameters: [.integer(at.millis), .text(id)]
        )
    }

    public static func mailFailed(id: String, _ failure: MailFailure) -> StoreStatement {
        let reason = String(failure.reason.prefix(1000))
        if let retryAt = failure.retryAt {
            return StoreStatement(
                sql: """
                    UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, lease_until = NULL
                    WHERE id = ? AND state = 'pending'
                    """,
                parameters: [.text(reason), .integer(retryAt.millis), .text(id)]
            )
        }
        return StoreStatement(
            sql: """
                UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?, state = 'failed', sealed_code = NULL, lease_until = NULL
                WHERE id = ? AND state = 'pending'
                """,
            parameters: [.text(reason), .text(id)]
        )
    }

    public static func deliveries(eventId: String, ticketId: String?) -> StoreStatement {
        StoreStatement(
            sql: """
                SELECT m.id, m.ticket_id, t.number, m.recipient, m.state, m.attempts, m.last_error, m.next_attempt_at, m.created_at, m.sent_at
                FROM mail_outbox m JOIN tickets t ON t.id = m.ticket_id
                WHERE m.event_id = ? AND (? IS NULL OR m.ticket_id = ?)
                ORDER BY m.created_at DESC, m.id DESC LIMIT 1000
                """,
            parameters: [.text(eventId), .optional(ticketId), .optional(ticketId)]
        )
    }

    public static func delivery(_ row: some StoreRow) -> MailDelivery {
        let state = MailState(rawValue: row.text(4)) ?? .failed
        return MailDelivery(
            id: row.text(0),
            ticketId: row.text(1),
            ticketNumber: Int(row.int(2)),
            recipient: row.text(3),
            state: state,
            attempts: Int(row.int(5)),
            lastError: row.optionalText(6),
            nextAttemptAt: state == .pending ? Date(millis: row.int(7)) : nil,
            createdAt: Date(millis: row.int(8)),
            sentAt: row.optionalInt(9).map(Date.init(millis:))
        )
    }
}

/// How full the mail outbox is: for the service's metrics.
public struct MailOutboxDepth: Sendable, Equatable {
    public var pending: Int
    public var oldestPendingAt: Date?

    public init(pending: Int, oldestPendingAt: Date?) {
        self.pending = pending
        self.oldestPendingAt = oldestPendingAt
    }
}
