import Foundation
import GatehouseCore

/// An event tickets are issued for. `issued` and `used` are counts at the time of reading.
public struct Event: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var startsAt: Date?
    public var endsAt: Date?
    public var createdAt: Date
    public var issued: Int
    public var used: Int
}

public enum TicketStatus: String, Codable, Sendable {
    case unused, used, revoked
}

/// A ticket as the service shows it: never its token, which only its hash stands for.
public struct Ticket: Codable, Sendable, Equatable {
    public var id: String
    public var eventId: String
    public var number: Int
    public var userId: String?
    public var holderName: String?
    public var email: String?
    public var ticketType: String?
    public var status: TicketStatus
    public var expiresAt: Date?
    public var createdAt: Date
    public var usedAt: Date?
    public var usedGate: String?
    public var usedDevice: String?

    public var summary: TicketSummary {
        TicketSummary(id: id, number: number, holderName: holderName, ticketType: ticketType)
    }
}

/// A ticket together with the plain text of its QR code: exists only in the answer that created
/// (or re-issued) it.
public struct IssuedTicket: Codable, Sendable, Equatable {
    public var ticket: Ticket
    public var qrData: String

    enum CodingKeys: String, CodingKey { case qrData }

    public init(ticket: Ticket, qrData: String) {
        self.ticket = ticket
        self.qrData = qrData
    }

    // Flattened on the wire: the ticket's fields plus `qrData`.
    public func encode(to encoder: any Encoder) throws {
        try ticket.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(qrData, forKey: .qrData)
    }

    public init(from decoder: any Decoder) throws {
        ticket = try Ticket(from: decoder)
        qrData = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .qrData)
    }
}

/// A scanner allowed to check tickets in for one event at one gate.
public struct Device: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var gateId: String
    public var eventId: String
    public var revoked: Bool
    public var createdAt: Date
}

/// One row of the check-in log: every attempt, refused ones too.
public struct CheckinLogEntry: Codable, Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var eventId: String
    public var ticketId: String?
    public var ticketNumber: Int?
    public var gateId: String
    public var deviceId: String
    public var result: CheckinResult
    public var mode: CheckinMode
    public var scanId: String?
}

/// Filters for reading the check-in log.
public struct CheckinFilter: Sendable, Equatable {
    public var gateId: String?
    public var since: Date?
    public var until: Date?
    /// Only rows with an id above this (for `--follow`).
    public var afterId: Int64?
    public var limit: Int

    public init(gateId: String? = nil, since: Date? = nil, until: Date? = nil, afterId: Int64? = nil, limit: Int = 100) {
        self.gateId = gateId
        self.since = since
        self.until = until
        self.afterId = afterId
        self.limit = limit
    }
}
