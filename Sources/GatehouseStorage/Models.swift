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
    /// Offline admissions that collided with another (see `Conflict`).
    public var conflicts: Int
    /// New tickets get signed codes (the event has a signing key).
    public var signedCodes: Bool
    /// Where it takes place, as the organizer wrote it (shown on the public page, mail and PDF).
    public var place: String?
    public var registration: EventRegistration

    public init(
        id: String,
        name: String,
        startsAt: Date? = nil,
        endsAt: Date? = nil,
        createdAt: Date,
        issued: Int,
        used: Int,
        conflicts: Int = 0,
        signedCodes: Bool = false,
        place: String? = nil,
        registration: EventRegistration = EventRegistration()
    ) {
        self.signedCodes = signedCodes
        self.place = place
        self.registration = registration
        self.id = id
        self.name = name
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.createdAt = createdAt
        self.issued = issued
        self.used = used
        self.conflicts = conflicts
    }
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
    /// Entered and not exited since (exit scans end it).
    public var inside: Bool

    public init(
        id: String,
        eventId: String,
        number: Int,
        userId: String? = nil,
        holderName: String? = nil,
        email: String? = nil,
        ticketType: String? = nil,
        status: TicketStatus,
        expiresAt: Date? = nil,
        createdAt: Date,
        usedAt: Date? = nil,
        usedGate: String? = nil,
        usedDevice: String? = nil,
        inside: Bool = false
    ) {
        self.inside = inside
        self.id = id
        self.eventId = eventId
        self.number = number
        self.userId = userId
        self.holderName = holderName
        self.email = email
        self.ticketType = ticketType
        self.status = status
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.usedAt = usedAt
        self.usedGate = usedGate
        self.usedDevice = usedDevice
    }

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

/// What a device is, which decides what it may do besides checking tickets in.
public enum DeviceKind: String, Codable, Sendable, CaseIterable {
    /// A gate box: keeps a snapshot of the event's tickets and decides offline when the service
    /// is away, so it syncs and uploads its offline admissions.
    case kiosk
    /// A staff member's phone running the scanner page: decides online only; it has no business
    /// with the snapshot or offline uploads, so a phone's token cannot be used for them.
    case scanner
}

/// A scanner allowed to check tickets in for one event at one gate.
public struct Device: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var gateId: String
    public var eventId: String
    public var revoked: Bool
    public var createdAt: Date
    public var kind: DeviceKind

    public init(id: String, name: String, gateId: String, eventId: String, revoked: Bool, createdAt: Date, kind: DeviceKind = .kiosk) {
        self.id = id
        self.name = name
        self.gateId = gateId
        self.eventId = eventId
        self.revoked = revoked
        self.createdAt = createdAt
        self.kind = kind
    }
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
    /// Decided by the gate without the service, and uploaded later.
    public var offline: Bool
    /// For an offline admission that collided: the ticket's state when it arrived.
    public var conflict: CheckinResult?

    public init(
        id: Int64,
        at: Date,
        eventId: String,
        ticketId: String? = nil,
        ticketNumber: Int? = nil,
        gateId: String,
        deviceId: String,
        result: CheckinResult,
        mode: CheckinMode,
        scanId: String? = nil,
        offline: Bool = false,
        conflict: CheckinResult? = nil
    ) {
        self.offline = offline
        self.conflict = conflict
        self.id = id
        self.at = at
        self.eventId = eventId
        self.ticketId = ticketId
        self.ticketNumber = ticketNumber
        self.gateId = gateId
        self.deviceId = deviceId
        self.result = result
        self.mode = mode
        self.scanId = scanId
    }
}

/// Filters for reading the check-in log.
public struct CheckinFilter: Sendable, Equatable {
    public var gateId: String?
    public var since: Date?
    public var until: Date?
    /// Only rows with an id above this (for `--follow`).
    public var afterId: Int64?
    public var limit: Int
    /// One ticket's history.
    public var ticketId: String?
    /// Only rows with this result.
    public var result: CheckinResult?

    public init(
        gateId: String? = nil,
        since: Date? = nil,
        until: Date? = nil,
        afterId: Int64? = nil,
        limit: Int = 100,
        ticketId: String? = nil,
        result: CheckinResult? = nil
    ) {
        self.gateId = gateId
        self.since = since
        self.until = until
        self.afterId = afterId
        self.limit = limit
        self.ticketId = ticketId
        self.result = result
    }
}

/// A page of an event's tickets for the organizer's list, by number.
public struct TicketQuery: Sendable, Equatable {
    /// A ticket number (exact, `17` or `#17`), or text found in the holder's name or e-mail in any
    /// case (ZOË finds Zoë).
    public var search: String?
    public var limit: Int
    public var offset: Int

    public init(search: String? = nil, limit: Int = 100, offset: Int = 0) {
        self.search = search
        self.limit = limit
        self.offset = offset
    }

    /// The search as a LIKE pattern: the text anywhere, its wildcards taken literally (`\` escapes).
    public var likePattern: String? { search.flatMap(Self.anywhere) }

    /// The search as a pattern for a ticket's search key (`Ticket.searchKey`): folded the same way.
    public var foldedPattern: String? { search.map(Ticket.fold).flatMap(Self.anywhere) }

    private static func anywhere(_ text: String) -> String? {
        guard !text.isEmpty else { return nil }
        var escaped = ""
        for character in text {
            if character == "\\" || character == "%" || character == "_" { escaped.append("\\") }
            escaped.append(character)
        }
        return "%" + escaped + "%"
    }

    /// The search as a ticket number, when it is one (`17` or `#17`).
    public var number: Int? {
        guard let search else { return nil }
        let digits = search.hasPrefix("#") ? search.dropFirst() : Substring(search)
        return Int(digits.trimmingCharacters(in: .whitespaces))
    }
}

extension Ticket {
    /// What a search looks in: the holder's name and e-mail, folded (`fold`), one line. Kept with
    /// the ticket, because no store folds case beyond ASCII by itself (SQLite's LIKE and
    /// PostgreSQL under the C locale do not).
    public static func searchKey(holderName: String?, email: String?) -> String {
        fold((holderName ?? "") + "\n" + (email ?? ""))
    }

    /// Lower case by Unicode's full case mapping (ZOË → zoë, ΣΟΦΊΑ → σοφία).
    public static func fold(_ text: String) -> String { text.lowercased() }
}

/// A device with what its last check-in said: the organizer's device list.
public struct DeviceActivity: Sendable, Equatable {
    public var device: Device
    public var lastSeenAt: Date?
    public var lastResult: CheckinResult?

    public init(device: Device, lastSeenAt: Date?, lastResult: CheckinResult?) {
        self.device = device
        self.lastSeenAt = lastSeenAt
        self.lastResult = lastResult
    }
}

/// Check-in numbers of one event: per gate since the start, admissions per minute since a time.
/// Admissions are committed check-ins that said valid (offline ones included); refusals are scans
/// that said anything else, whatever the mode: the staff scanner looks first (validate), and a
/// refusal it sees is one. A validation that said valid counts once its commit does.
public struct CheckinCounts: Sendable, Equatable {
    public struct Gate: Sendable, Equatable {
        public var gateId: String
        public var admitted: Int
        public var refused: Int

        public init(gateId: String, admitted: Int, refused: Int) {
            self.gateId = gateId
            self.admitted = admitted
            self.refused = refused
        }
    }

    public struct Minute: Sendable, Equatable {
        public var start: Date
        public var admitted: Int

        public init(start: Date, admitted: Int) {
            self.start = start
            self.admitted = admitted
        }
    }

    public var gates: [Gate]
    public var minutes: [Minute]

    public init(gates: [Gate], minutes: [Minute]) {
        self.gates = gates
        self.minutes = minutes
    }
}

/// `GET /api/events/{id}/presence`: how many people are inside, in all and per check-in list.
public struct Presence: Codable, Sendable, Equatable {
    public struct List: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var inside: Int
        public var capacity: Int?

        public init(id: String, name: String, inside: Int, capacity: Int?) {
            self.id = id
            self.name = name
            self.inside = inside
            self.capacity = capacity
        }
    }

    public var inside: Int
    public var lists: [List]

    public init(inside: Int, lists: [List] = []) {
        self.inside = inside
        self.lists = lists
    }
}
