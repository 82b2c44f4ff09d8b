import Foundation
import GatehouseCore
import GatehouseMail
import GatehouseStorage

/// Registration settings, public registration and ticket mail: the rules the API, the pages and
/// the CLI share.
extension Gatehouse {
    /// Registrations an event may take at most (a stadium's, with room).
    public static let maximumCapacity = 1_000_000

    public func createEvent(
        name: String,
        startsAt: Date?,
        endsAt: Date?,
        place: String?,
        registration: RegistrationSettings
    ) async throws -> Event {
        let name = try Self.requiredText(name, field: "name")
        if let startsAt, let endsAt, endsAt < startsAt {
            throw InvalidInputError("endsAt must not be before startsAt")
        }
        return try await store.createEvent(
            id: Identifier.newEventID(),
            name: name,
            startsAt: startsAt,
            endsAt: endsAt,
            place: try Self.optionalText(place, field: "place"),
            registration: try Self.checked(registration),
            at: now()
        )
    }

    public func setRegistration(eventId: String, _ settings: RegistrationSettings) async throws -> Event {
        guard let event = try await store.setRegistration(eventId: eventId, try Self.checked(settings)) else {
            throw NotFoundError("event \(eventId)")
        }
        return event
    }

    static func checked(_ settings: RegistrationSettings) throws -> RegistrationSettings {
        var settings = settings
        if let capacity = settings.capacity, !(0...maximumCapacity).contains(capacity) {
            throw InvalidInputError("registration.capacity must be between 0 and \(maximumCapacity)")
        }
        settings.ticketType = try optionalText(settings.ticketType, field: "registration.ticketType")
        settings.closesAt = settings.closesAt?.truncatedToMillis
        return settings
    }

    /// What a person typed into the public form, checked: the name as text a page, a PDF and a
    /// mail can show (no control or direction-changing characters), the address by shape.
    public struct Registrant: Sendable, Equatable {
        public var name: String
        public var address: MailAddress

        public init(name: String, email: String) throws {
            self.name = try Gatehouse.requiredText(name, field: "name")
            // Direction overrides and isolates make a name read differently from what it holds
            // (and can turn text around it); other format characters (joiners) are kept.
            let directionControls: ClosedRange<UInt32> = 0x202A...0x202E
            let isolates: ClosedRange<UInt32> = 0x2066...0x2069
            if self.name.unicodeScalars.contains(where: { directionControls.contains($0.value) || isolates.contains($0.value) }) {
                throw InvalidInputError("name must not contain text-direction control characters")
            }
            do {
                address = try MailAddress(address: email)
            } catch {
                throw InvalidInputError("\(error)")
            }
        }
    }

    public enum RegistrationAnswer: Sendable, Equatable {
        case registered(Ticket)
        case refused(RegistrationRefusal)
    }

    /// Registers one person: a ticket and the mail that delivers it (its code sealed) commit
    /// together, or the event says no. The code is not returned: only the mail carries it, so a
    /// registration proves the person can read that mailbox.
    public func register(eventId: String, _ registrant: Registrant) async throws -> RegistrationAnswer {
        let minter = try await codeMinter(eventId: eventId)
        let code = try minter.mint(expiresAt: nil)
        let ticketId = Identifier.newTicketID()
        let mailId = Identifier.newMailID()
        let ticket = NewTicket(
            id: ticketId,
            tokenHash: code.tokenHash,
            holderName: registrant.name,
            email: registrant.address.address,
            // The store gives the event's registration ticket type.
            ticketType: nil
        )
        let mail = NewMail(
            id: mailId,
            ticketId: ticketId,
            recipient: registrant.address.address,
            sealedCode: try codeSeal.seal(code.qrData, mailId: mailId)
        )
        let outcome = try await store.register(
            NewRegistration(eventId: eventId, ticket: ticket, addressKey: registrant.address.comparisonKey, mail: mail),
            at: now()
        )
        switch outcome {
        case .registered(let ticket):
            outboxBell.ring()
            return .registered(ticket)
        case .refused(let refusal): return .refused(refusal)
        case .unknownEvent: throw NotFoundError("event \(eventId)")
        }
    }

    /// Mails each ticket to its holder's address with a new code ("send again"): the old code
    /// stops working in the same commit, and a mail still waiting for the old one is dropped.
    /// Tickets without an e-mail address are refused before anything changes.
    public func mailTickets(ids: [String]) async throws -> [Ticket] {
        guard (1...Self.maximumTicketsPerRequest).contains(ids.count) else {
            throw InvalidInputError("between 1 and \(Self.maximumTicketsPerRequest) tickets at a time")
        }
        var tickets: [(Ticket, MailAddress)] = []
        for id in ids {
            let ticket = try await ticket(id: id)
            guard let email = ticket.email else { throw InvalidInputError("ticket \(ticket.number) has no e-mail address") }
            guard let address = try? MailAddress(address: email) else {
                throw InvalidInputError("ticket \(ticket.number) has an e-mail address mail cannot go to: \(email)")
            }
            tickets.append((ticket, address))
        }
        var mailed: [Ticket] = []
        // One signing-key read per event, not per ticket.
        var minters: [String: CodeMinter] = [:]
        for (ticket, address) in tickets {
            if minters[ticket.eventId] == nil { minters[ticket.eventId] = try await codeMinter(eventId: ticket.eventId) }
            let minter = minters[ticket.eventId]!
            let code = try minter.mint(expiresAt: ticket.expiresAt)
            let mailId = Identifier.newMailID()
            let mail = NewMail(
                id: mailId,
                ticketId: ticket.id,
                recipient: address.address,
                sealedCode: try codeSeal.seal(code.qrData, mailId: mailId)
            )
            guard let reissued = try await store.replaceTicketToken(id: ticket.id, tokenHash: code.tokenHash, at: now(), mail: mail) else {
                throw NotFoundError("ticket \(ticket.id)")
            }
            mailed.append(reissued)
        }
        outboxBell.ring()
        return mailed
    }

    /// The ticket a holder's code names, with its event: for the holder's own page, reached from
    /// the link in their mail. Nil for anything that is not a current code of ours (a re-issued
    /// ticket's old code included).
    public func ticketForHolder(code: String) async throws -> (ticket: Ticket, event: Event)? {
        guard code.utf8.count <= 512, let scanned = try await scannedCode(code),
            let ticket = try await store.ticket(tokenHash: scanned.tokenHash), ticket.eventId == scanned.eventId
        else { return nil }
        return (ticket, try await event(id: ticket.eventId))
    }

    /// Queues a mail with each just-issued ticket's code to its holder's address, in one commit;
    /// returns the tickets left out for want of an address mail can go to.
    public func mailIssued(_ issued: [IssuedTicket]) async throws -> [Ticket] {
        var mails: [NewMail] = []
        var skipped: [Ticket] = []
        for ticket in issued {
            guard let email = ticket.ticket.email, let address = try? MailAddress(address: email) else {
                skipped.append(ticket.ticket)
                continue
            }
            let mailId = Identifier.newMailID()
            mails.append(
                NewMail(
                    id: mailId,
                    ticketId: ticket.ticket.id,
                    recipient: address.address,
                    sealedCode: try codeSeal.seal(ticket.qrData, mailId: mailId)
                )
            )
        }
        if !mails.isEmpty {
            try await store.enqueueMail(mails, at: now())
            outboxBell.ring()
        }
        return skipped
    }

    /// An event's ticket mails, newest first (one ticket's with `ticketId`).
    public func mailDeliveries(eventId: String, ticketId: String? = nil) async throws -> [MailDelivery] {
        _ = try await event(id: eventId)
        return try await store.mailDeliveries(eventId: eventId, ticketId: ticketId)
    }
}
