import Foundation
import GatehouseCore
import GatehouseStorage
import SQLiteSupport

/// Registration and the mail outbox. The one writer holds the file for each transaction, so a
/// registration's read of the count and its increment cannot interleave with another's.
extension SQLiteStore {
    public func ticket(tokenHash: [UInt8]) async throws -> Ticket? {
        try await readers.read { db in try db.firstRow(StoreRecords.ticketColumns + " WHERE token_hash = ?", [.blob(tokenHash)], StoreRecords.ticket)
        }
    }

    public func setRegistration(eventId: String, _ settings: RegistrationSettings) async throws -> Event? {
        let found = try await writer.perform { db in try db.run(OutboxStatements.setRegistration(eventId: eventId, settings)) }
        return found == 0 ? nil : try await event(id: eventId)
    }

    public func register(_ registration: NewRegistration, at: Date) async throws -> RegistrationOutcome {
        try await writer.perform { db in
            let eventId = registration.eventId
            guard let state = try db.firstRow(OutboxStatements.registrationState, [.text(eventId)], OutboxStatements.registrationState) else {
                return .unknownEvent
            }
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
        try await writer.perform { db in
            for mail in mails {
                try db.run(OutboxStatements.supersedeMail(ticketId: mail.ticketId))
                try db.run(OutboxStatements.enqueueMail(mail, at: at))
            }
        }
    }

    public func claimMail(due: Date, leaseUntil: Date, limit: Int) async throws -> [QueuedMail] {
        try await writer.perform { db in
            let ids = try db.rows(OutboxStatements.dueMail(due: due, limit: limit)) { $0.text(0) }
            return try ids.compactMap { id in
                guard try db.run(OutboxStatements.leaseMail(id: id, due: due, leaseUntil: leaseUntil)) == 1 else { return nil }
                return try db.firstRow(OutboxStatements.queuedMailColumns + " WHERE id = ?", [.text(id)], OutboxStatements.queuedMail)
            }
        }
    }

    public func releaseAbandonedMailClaims() async throws -> Int {
        try await writer.perform { db in
            try db.run("UPDATE mail_outbox SET lease_until = NULL WHERE state = 'pending' AND lease_until IS NOT NULL")
        }
    }

    public func mailSent(id: String, at: Date) async throws {
        try await writer.perform { db in _ = try db.run(OutboxStatements.mailSent(id: id, at: at)) }
    }

    public func mailFailed(id: String, _ failure: MailFailure, at: Date) async throws {
        try await writer.perform { db in _ = try db.run(OutboxStatements.mailFailed(id: id, failure)) }
    }

    public func mailDeliveries(eventId: String, ticketId: String?) async throws -> [MailDelivery] {
        try await readers.read { db in try db.rows(OutboxStatements.deliveries(eventId: eventId, ticketId: ticketId), OutboxStatements.delivery) }
    }
}
