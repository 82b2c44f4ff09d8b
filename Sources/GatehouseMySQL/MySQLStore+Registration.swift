import Foundation
import GatehouseCore
import GatehouseStorage

/// Registration and the mail outbox. A registration reads its event's row `FOR UPDATE`, so two
/// processes registering for one event take turns at the count and the capacity holds.
extension MySQLStore {
    public func ticket(tokenHash: [UInt8]) async throws -> Ticket? {
        try await read { db in try db.firstRow(StoreRecords.ticketColumns + " WHERE token_hash = ?", [.bytes(tokenHash)], StoreRecords.ticket) }
    }

    public func setRegistration(eventId: String, _ settings: RegistrationSettings) async throws -> Event? {
        let found = try await write { db in try db.run(OutboxStatements.setRegistration(eventId: eventId, settings)) }
        return found == 0 ? nil : try await event(id: eventId)
    }

    public func register(_ registration: NewRegistration, at: Date) async throws -> RegistrationOutcome {
        try await write(limit: limits.registration) { db in
            let eventId = registration.eventId
            guard
                let state = try db.firstRow(OutboxStatements.registrationState + " FOR UPDATE", [.text(eventId)], OutboxStatements.registrationState)
            else { return .unknownEvent }
            let taken = try !db.rows(OutboxStatements.addressTaken(eventId: eventId, addressKey: registration.addressKey), { $0.int(0) }).isEmpty
            if let refusal = state.settings.refusal(registered: state.registered, addressTaken: taken, at: at) { return .refused(refusal) }
            try db.run(OutboxStatements.countRegistration(eventId: eventId))
            var new = registration.ticket
            new.ticketType = state.settings.ticketType
            let ticket = try Self.insertTickets([new], eventId: eventId, at: at, in: db)[0]
            try db.run(OutboxStatements.recordRegistration(registration, at: at))
            try db.run(OutboxStatements.enqueueMail(registration.mail, at: at))
            return .registered(ticket)
        }
    }

    public func enqueueMail(_ mails: [NewMail], at: Date) async throws {
        try await write { db in
            for mail in mails {
                try db.run(OutboxStatements.supersedeMail(ticketId: mail.ticketId))
                try db.run(OutboxStatements.enqueueMail(mail, at: at))
            }
        }
    }

    public func claimMail(due: Date, leaseUntil: Date, limit: Int) async throws -> [QueuedMail] {
        try await write { db in
            let ids = try db.rows(OutboxStatements.dueMail(due: due, limit: limit)) { $0.text(0) }
            return try ids.compactMap { id in
                guard try db.run(OutboxStatements.leaseMail(id: id, due: due, leaseUntil: leaseUntil)) == 1 else { return nil }
                return try db.firstRow(OutboxStatements.queuedMailColumns + " WHERE id = ?", [.text(id)], OutboxStatements.queuedMail)
            }
        }
    }

    /// Several processes may share this database: a claim may be another's, live.
    public func releaseAbandonedMailClaims() async throws -> Int { 0 }

    public func mailSent(id: String, at: Date) async throws {
        try await write { db in _ = try db.run(OutboxStatements.mailSent(id: id, at: at)) }
    }

    public func mailFailed(id: String, _ failure: MailFailure, at: Date) async throws {
        try await write { db in _ = try db.run(OutboxStatements.mailFailed(id: id, failure)) }
    }

    public func mailDeliveries(eventId: String, ticketId: String?) async throws -> [MailDelivery] {
        try await read { db in try db.rows(OutboxStatements.deliveries(eventId: eventId, ticketId: ticketId), OutboxStatements.delivery) }
    }
}

extension MySQLConnection {
    func rows<T>(_ statement: StoreStatement, _ map: (MySQLRow) throws -> T) throws -> [T] {
        try rows(statement.sql, statement.parameters.map(MySQLValue.init), map)
    }
}
