import Foundation
import GatehouseCore

/// How people may register themselves for an event on its public page.
public struct RegistrationSettings: Codable, Sendable, Equatable {
    public var open: Bool
    /// Registrations accepted at most; nil = no limit.
    public var capacity: Int?
    /// Registrations are refused from this time on; nil = until the organizer closes them.
    public var closesAt: Date?
    /// The ticket type a registration gives.
    public var ticketType: String?
    /// One registration per e-mail address (compared as `MailAddress.comparisonKey`).
    public var onePerEmail: Bool

    public init(open: Bool = false, capacity: Int? = nil, closesAt: Date? = nil, ticketType: String? = nil, onePerEmail: Bool = true) {
        self.open = open
        self.capacity = capacity
        self.closesAt = closesAt
        self.ticketType = ticketType
        self.onePerEmail = onePerEmail
    }

    enum CodingKeys: String, CodingKey { case open, capacity, closesAt, ticketType, onePerEmail }

    // `onePerEmail` defaults to true when a request leaves it out.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        open = try container.decode(Bool.self, forKey: .open)
        capacity = try container.decodeIfPresent(Int.self, forKey: .capacity)
        closesAt = try container.decodeIfPresent(Date.self, forKey: .closesAt)
        ticketType = try container.decodeIfPresent(String.self, forKey: .ticketType)
        onePerEmail = try container.decodeIfPresent(Bool.self, forKey: .onePerEmail) ?? true
    }

    /// Why a registration would be refused now, or nil when it may go ahead: the one decision
    /// every store takes, holding the event's row locked so its count cannot move meanwhile.
    /// A person who already has a ticket hears that before "full": it is the more useful answer.
    public func refusal(registered: Int, addressTaken: Bool, at: Date) -> RegistrationRefusal? {
        if !open { return .closed }
        if let closesAt, at >= closesAt { return .closed }
        if onePerEmail && addressTaken { return .alreadyRegistered }
        if let capacity, registered >= capacity { return .full }
        return nil
    }
}

/// An event's registration settings and how many have registered.
public struct EventRegistration: Codable, Sendable, Equatable {
    public var settings: RegistrationSettings
    public var registered: Int

    public init(settings: RegistrationSettings = RegistrationSettings(), registered: Int = 0) {
        self.settings = settings
        self.registered = registered
    }

    enum CodingKeys: String, CodingKey { case registered }

    // On the wire the settings' fields and `registered` side by side.
    public func encode(to encoder: any Encoder) throws {
        try settings.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(registered, forKey: .registered)
    }

    public init(from decoder: any Decoder) throws {
        settings = try RegistrationSettings(from: decoder)
        registered = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Int.self, forKey: .registered) ?? 0
    }
}

extension Event {
    /// An event as a store returns it right after creating it: nothing issued or registered yet,
    /// times to the millisecond.
    public static func created(
        id: String,
        name: String,
        startsAt: Date?,
        endsAt: Date?,
        place: String?,
        registration: RegistrationSettings,
        at: Date
    ) -> Event {
        Event(
            id: id,
            name: name,
            startsAt: startsAt,
            endsAt: endsAt,
            createdAt: at.truncatedToMillis,
            issued: 0,
            used: 0,
            place: place,
            registration: EventRegistration(settings: registration)
        )
    }
}

public enum RegistrationRefusal: String, Sendable, Equatable {
    case closed
    case full
    case alreadyRegistered = "already_registered"
}

/// A registration to store: its ticket, the address key the one-per-e-mail rule compares, and
/// the mail that delivers the ticket, committed together.
public struct NewRegistration: Sendable {
    public var eventId: String
    public var ticket: NewTicket
    public var addressKey: String
    public var mail: NewMail

    public init(eventId: String, ticket: NewTicket, addressKey: String, mail: NewMail) {
        self.eventId = eventId
        self.ticket = ticket
        self.addressKey = addressKey
        self.mail = mail
    }
}

public enum RegistrationOutcome: Sendable, Equatable {
    case registered(Ticket)
    case refused(RegistrationRefusal)
    case unknownEvent
}

/// A message waiting in the outbox: one ticket's code for its holder, sealed with a key the
/// database never sees.
public struct NewMail: Sendable, Equatable {
    public var id: String
    public var ticketId: String
    public var recipient: String
    public var sealedCode: [UInt8]

    public init(id: String, ticketId: String, recipient: String, sealedCode: [UInt8]) {
        self.id = id
        self.ticketId = ticketId
        self.recipient = recipient
        self.sealedCode = sealedCode
    }
}

/// An outbox message a sender has claimed: no other sender takes it until `leaseUntil`.
public struct QueuedMail: Sendable, Equatable {
    public var id: String
    public var ticketId: String
    public var eventId: String
    public var recipient: String
    public var sealedCode: [UInt8]
    /// Attempts made before this one.
    public var attempts: Int
    public var createdAt: Date

    public init(id: String, ticketId: String, eventId: String, recipient: String, sealedCode: [UInt8], attempts: Int, createdAt: Date) {
        self.id = id
        self.ticketId = ticketId
        self.eventId = eventId
        self.recipient = recipient
        self.sealedCode = sealedCode
        self.attempts = attempts
        self.createdAt = createdAt
    }
}

public enum MailState: String, Codable, Sendable {
    /// Waiting for its first attempt or its next retry.
    case pending
    case sent
    /// Given up: the server refused it for good, or retries ran out.
    case failed
    /// Replaced by a newer message for the same ticket (a re-issue made its code useless).
    case superseded
}

/// What became of one ticket mail, for the organizer.
public struct MailDelivery: Codable, Sendable, Equatable {
    public var id: String
    public var ticketId: String
    public var ticketNumber: Int
    public var recipient: String
    public var state: MailState
    public var attempts: Int
    /// The server's words (or the connection's failure) at the last failed attempt.
    public var lastError: String?
    public var nextAttemptAt: Date?
    public var createdAt: Date
    public var sentAt: Date?

    public init(
        id: String,
        ticketId: String,
        ticketNumber: Int,
        recipient: String,
        state: MailState,
        attempts: Int,
        lastError: String?,
        nextAttemptAt: Date?,
        createdAt: Date,
        sentAt: Date?
    ) {
        self.id = id
        self.ticketId = ticketId
        self.ticketNumber = ticketNumber
        self.recipient = recipient
        self.state = state
        self.attempts = attempts
        self.lastError = lastError
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.sentAt = sentAt
    }
}

/// A failed attempt: when to try again, or nil to give up.
public struct MailFailure: Sendable, Equatable {
    public var reason: String
    public var retryAt: Date?

    public init(reason: String, retryAt: Date?) {
        self.reason = reason
        self.retryAt = retryAt
    }
}
