import Foundation
import GatehouseCore
import GatehouseStorage
import Logging
import NIOCore
import PostgresNIO

/// Registration and the mail outbox. A registration reads its event's row `FOR UPDATE`, so
/// registrations for one event take turns at the count (in every process) and the capacity
/// holds; other events' registrations never wait for them.
extension PostgresStore {
    public func ticket(tokenHash: [UInt8]) async throws -> Ticket? {
        try await guarded { [self] in
            try await client.query(
                "SELECT \(unescaped: Self.ticketColumns) FROM tickets WHERE token_hash = \(ByteBuffer(bytes: tokenHash))",
                logger: logger
            ).collect().first.map(Self.ticket)
        }
    }

    public func setRegistration(eventId: String, _ settings: RegistrationSettings) async throws -> Event? {
        let found = try await guarded { [self] in
            try await client.query(
                """
                UPDATE events SET reg_open = \(settings.open), reg_capacity = \(settings.capacity.map(Int64.init)),
                    reg_closes_at = \(settings.closesAt?.millis), reg_ticket_type = \(settings.ticketType),
                    reg_one_per_email = \(settings.onePerEmail)
                WHERE id = \(eventId) RETURNING id
                """,
                logger: logger
            ).collect().count
        }
        return found == 0 ? nil : try await event(id: eventId)
    }

    public func register(_ registration: NewRegistration, at: Date) async throws -> RegistrationOutcome {
        try await guarded(limit: limits.registration) { [self] in
            try await registrationTurns.run {
                if let early = try await refusedWithoutLock(registration, at: at) { return early }
                return try await registerInTransaction(registration, at: at)
            }
        }
    }

    /// A refusal that committed rows already decide — the event full, closed or unknown, the
    /// address registered — in one read that takes no lock. Places and addresses are only ever
    /// taken, so what was full or taken when read stays so; in a rush, those that come after
    /// the last place do not each wait for the event's row only to be refused.
    private func refusedWithoutLock(_ registration: NewRegistration, at: Date) async throws -> RegistrationOutcome? {
        let eventId = registration.eventId
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.registrationColumns),
                EXISTS (SELECT 1 FROM registrations WHERE event_id = \(eventId) AND address_key = \(registration.addressKey))
            FROM events WHERE id = \(eventId)
            """,
            logger: logger
        ).collect()
        guard let row = rows.first?.makeRandomAccess() else { return .unknownEvent }
        let (settings, registered) = try Self.registration(row)
        let taken = try row[6].decode(Bool.self)
        return settings.refusal(registered: registered, addressTaken: taken, at: at).map { .refused($0) }
    }

    /// An event's registration settings and count, the first columns of a row.
    private static let registrationColumns = "reg_open, reg_capacity, reg_closes_at, reg_ticket_type, reg_one_per_email, registered"

    private static func registration(_ row: PostgresRandomAccessRow) throws -> (settings: RegistrationSettings, registered: Int) {
        let settings = RegistrationSettings(
            open: try row[0].decode(Bool.self),
            capacity: try row[1].decode(Int64?.self).map { Int($0) },
            closesAt: try row[2].decode(Int64?.self).map(Date.init(millis:)),
            ticketType: try row[3].decode(String?.self),
            onePerEmail: try row[4].decode(Bool.self)
        )
        return (settings, Int(try row[5].decode(Int64.self)))
    }

    private func registerInTransaction(_ registration: NewRegistration, at: Date) async throws -> RegistrationOutcome {
        try await client.withTransaction(logger: logger) { connection in
            let eventId = registration.eventId
            let rows = try await connection.query(
                "SELECT \(unescaped: Self.registrationColumns) FROM events WHERE id = \(eventId) FOR UPDATE",
                logger: logger
            ).collect()
            guard let row = rows.first?.makeRandomAccess() else { return .unknownEvent }
            let (settings, registered) = try Self.registration(row)
            // A statement of its own, after the lock: its snapshot sees an address that the
            // registration this one waited for committed (one in the locking read would not).
            let taken = try await !connection.query(
                "SELECT 1 FROM registrations WHERE event_id = \(eventId) AND address_key = \(registration.addressKey) LIMIT 1",
                logger: logger
            ).collect().isEmpty
            if let refusal = settings.refusal(registered: registered, addressTaken: taken, at: at) { return .refused(refusal) }
            try await connection.query("UPDATE events SET registered = registered + 1 WHERE id = \(eventId)", logger: logger)
            var new = registration.ticket
            new.ticketType = settings.ticketType
            let ticket = try await Self.insertTickets([new], eventId: eventId, at: at, on: connection, logger: logger)[0]
            try await connection.query(
                """
                INSERT INTO registrations (ticket_id, event_id, address_key, created_at)
                VALUES (\(registration.ticket.id), \(eventId), \(registration.addressKey), \(at.millis))
                """,
                logger: logger
            )
            try await Self.enqueue(registration.mail, at: at, on: connection, logger: logger)
            return .registered(ticket)
        }
    }

    static func enqueue(_ mail: NewMail, at: Date, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            WITH superseded AS (
                UPDATE mail_outbox SET state = 'superseded', sealed_code = NULL, lease_until = NULL
                WHERE ticket_id = \(mail.ticketId) AND state = 'pending'
            )
            INSERT INTO mail_outbox (id, event_id, ticket_id, recipient, sealed_code, state, attempts, next_attempt_at, created_at)
            SELECT \(mail.id), event_id, id, \(mail.recipient), \(ByteBuffer(bytes: mail.sealedCode)), 'pending', 0, \(at.millis), \(at.millis)
            FROM tickets WHERE id = \(mail.ticketId)
            """,
            logger: logger
        )
    }

    public func enqueueMail(_ mails: [NewMail], at: Date) async throws {
        try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                for mail in mails { try await Self.enqueue(mail, at: at, on: connection, logger: logger) }
            }
        }
    }

    /// `SKIP LOCKED`: two processes claiming at once take different mails instead of waiting.
    public func claimMail(due: Date, leaseUntil: Date, limit: Int) async throws -> [QueuedMail] {
        try await guarded { [self] in
            try await client.query(
                """
                UPDATE mail_outbox SET lease_until = \(leaseUntil.millis)
                WHERE id IN (
                    SELECT id FROM mail_outbox
                    WHERE state = 'pending' AND next_attempt_at <= \(due.millis) AND (lease_until IS NULL OR lease_until <= \(due.millis))
                    ORDER BY next_attempt_at, id LIMIT \(Int64(limit))
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING id, ticket_id, event_id, recipient, sealed_code, attempts, created_at
                """,
                logger: logger
            ).collect().map { row in
                let (id, ticketId, eventId, recipient, sealed, attempts, createdAt) = try row.decode(
                    (String, String, String, String, ByteBuffer, Int32, Int64).self
                )
                return QueuedMail(
                    id: id,
                    ticketId: ticketId,
                    eventId: eventId,
                    recipient: recipient,
                    sealedCode: Array(buffer: sealed),
                    attempts: Int(attempts),
                    createdAt: Date(millis: createdAt)
                )
            }.sorted { $0.id < $1.id }
        }
    }

    /// Several processes may share this database: a claim may be another's, live.
    public func releaseAbandonedMailClaims() async throws -> Int { 0 }

    public func mailSent(id: String, at: Date) async throws {
        _ = try await guarded { [self] in
            try await client.query(
                """
                UPDATE mail_outbox SET state = 'sent', sealed_code = NULL, lease_until = NULL, sent_at = \(at.millis),
                    attempts = attempts + 1, last_error = NULL
                WHERE id = \(id) AND state = 'pending'
                """,
                logger: logger
            )
        }
    }

    public func mailFailed(id: String, _ failure: MailFailure, at: Date) async throws {
        let reason = String(failure.reason.prefix(1000))
        _ = try await guarded { [self] in
            if let retryAt = failure.retryAt {
                try await client.query(
                    """
                    UPDATE mail_outbox SET attempts = attempts + 1, last_error = \(reason), next_attempt_at = \(retryAt.millis), lease_until = NULL
                    WHERE id = \(id) AND state = 'pending'
                    """,
                    logger: logger
                )
            } else {
                try await client.query(
                    """
                    UPDATE mail_outbox SET attempts = attempts + 1, last_error = \(reason), state = 'failed', sealed_code = NULL, lease_until = NULL
                    WHERE id = \(id) AND state = 'pending'
                    """,
                    logger: logger
                )
            }
        }
    }

    public func mailDeliveries(eventId: String, ticketId: String?) async throws -> [MailDelivery] {
        try await guarded { [self] in
            try await client.query(
                """
                SELECT m.id, m.ticket_id, t.number, m.recipient, m.state, m.attempts, m.last_error, m.next_attempt_at, m.created_at, m.sent_at
                FROM mail_outbox m JOIN tickets t ON t.id = m.ticket_id
                WHERE m.event_id = \(eventId) AND (\(ticketId)::TEXT IS NULL OR m.ticket_id = \(ticketId))
                ORDER BY m.created_at DESC, m.id DESC LIMIT 1000
                """,
                logger: logger
            ).collect().map { row in
                let (id, ticketId, number, recipient, stateName, attempts, lastError, nextAttemptAt, createdAt, sentAt) = try row.decode(
                    (String, String, Int64, String, String, Int32, String?, Int64, Int64, Int64?).self
                )
                let state = MailState(rawValue: stateName) ?? .failed
                return MailDelivery(
                    id: id,
                    ticketId: ticketId,
                    ticketNumber: Int(number),
                    recipient: recipient,
                    state: state,
                    attempts: Int(attempts),
                    lastError: lastError,
                    nextAttemptAt: state == .pending ? Date(millis: nextAttemptAt) : nil,
                    createdAt: Date(millis: createdAt),
                    sentAt: sentAt.map(Date.init(millis:))
                )
            }
        }
    }
}
