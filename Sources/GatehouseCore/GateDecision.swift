/// Whether a ticket may pass a gate, written once: every store decides with it inside its
/// transaction, and an offline gate decides with it from its snapshot. It reads nothing and
/// writes nothing; the caller brings the ticket as it found it and stores what comes back.

/// A ticket's standing.
public enum TicketStatus: String, Codable, Sendable {
    case unused, used, revoked
}

/// Which way a scan goes through a gate.
public enum ScanDirection: String, Codable, Sendable, CaseIterable {
    case entry, exit
}

/// How often a ticket may enter through the gates of one check-in list.
public enum EntryPolicy: String, Codable, Sendable, CaseIterable {
    /// One entry, ever.
    case once
    /// Again after an exit; never twice without one (anti-passback).
    case reentry
    /// Any number of entries, no exit needed.
    case unlimited
    /// One entry per calendar day in the organizer's time zone.
    case daily
}

/// The rules of the gate a scan was made at: those of its check-in list, or `GateRules()` (all
/// ticket types, once, always open, no capacity) for a gate in no list.
public struct GateRules: Sendable, Equatable {
    /// nil: every ticket type.
    public var ticketTypes: Set<String>?
    public var entry: EntryPolicy
    /// People inside at most.
    public var capacity: Int?
    /// Milliseconds since 1970.
    public var opensAt: Int64?
    public var closesAt: Int64?
    /// Ticket types a person must look at before their holder goes in (a child's ticket, one
    /// that needs an ID check); nil or empty: none.
    public var attention: Set<String>?

    public init(
        ticketTypes: Set<String>? = nil,
        entry: EntryPolicy = .once,
        capacity: Int? = nil,
        opensAt: Int64? = nil,
        closesAt: Int64? = nil,
        attention: Set<String>? = nil
    ) {
        self.attention = attention
        self.ticketTypes = ticketTypes
        self.entry = entry
        self.capacity = capacity
        self.opensAt = opensAt
        self.closesAt = closesAt
    }
}

/// What the decision reads of a ticket.
public struct TicketFacts: Sendable, Equatable {
    public var eventId: String
    public var ticketType: String?
    public var status: TicketStatus
    /// Milliseconds since 1970.
    public var expiresAt: Int64?
    /// The first admission: when and where. Later entries keep it.
    public var usedAt: Int64?
    public var usedGate: String?
    /// Entered and not exited since.
    public var inside: Bool
    /// The calendar day (a number the caller counts, in the organizer's zone) of the last entry.
    public var lastEntryDay: Int?

    public init(
        eventId: String,
        ticketType: String? = nil,
        status: TicketStatus,
        expiresAt: Int64? = nil,
        usedAt: Int64? = nil,
        usedGate: String? = nil,
        inside: Bool = false,
        lastEntryDay: Int? = nil
    ) {
        self.eventId = eventId
        self.ticketType = ticketType
        self.status = status
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.usedGate = usedGate
        self.inside = inside
        self.lastEntryDay = lastEntryDay
    }
}

/// One scan as the decision needs it.
public struct GateScan: Sendable, Equatable {
    /// The event the scanning device is enrolled for.
    public var deviceEvent: String
    /// The event the code names.
    public var codeEvent: String
    public var gate: String
    public var direction: ScanDirection
    /// Milliseconds since 1970.
    public var at: Int64
    /// The calendar day of `at` in the organizer's zone (only `daily` lists read it).
    public var day: Int?

    public init(deviceEvent: String, codeEvent: String, gate: String, direction: ScanDirection = .entry, at: Int64, day: Int? = nil) {
        self.deviceEvent = deviceEvent
        self.codeEvent = codeEvent
        self.gate = gate
        self.direction = direction
        self.at = at
        self.day = day
    }
}

/// The decision and what it makes of the ticket.
public struct GateVerdict: Sendable, Equatable {
    public var result: CheckinResult
    /// The ticket after this scan, when it changes it; nil when it stays as it was.
    public var changed: TicketFacts?
    /// +1 when the ticket comes inside, -1 when it leaves, else 0.
    public var insideChange: Int

    public init(result: CheckinResult, changed: TicketFacts? = nil, insideChange: Int = 0) {
        self.result = result
        self.changed = changed
        self.insideChange = insideChange
    }
}

extension GateRules {
    /// Whether staff must look before this holder goes in: an entry granted to a ticket of one
    /// of the attention types. Not part of the decision (the ticket is valid either way): what
    /// the gate shows with it, and a kiosk waits for a staff button before it opens.
    public func needsAttention(_ result: CheckinResult, ticketType: String?) -> Bool {
        guard result == .valid, let ticketType, let attention else { return false }
        return attention.contains(ticketType)
    }
}

public enum GateDecision {
    /// The decision for a parsed code. `ticket`: the ticket its token names, or nil. `inside`:
    /// how many are inside the gate's list now (read only when the rules have a capacity).
    ///
    /// When several refusals apply the first of this order wins: `not_found`, `wrong_event`,
    /// `revoked`, `expired`, `not_on_list`, `not_open`/`closed`, `already_used`/`already_inside`,
    /// `full`. (`invalid`, a code that is none of ours, the caller answers before it has a ticket.)
    public static func decide(ticket: TicketFacts?, scan: GateScan, rules: GateRules = GateRules(), inside: Int = 0) -> GateVerdict {
        guard let ticket, ticket.eventId == scan.codeEvent else { return GateVerdict(result: .notFound) }
        guard ticket.eventId == scan.deviceEvent else { return GateVerdict(result: .wrongEvent) }

        if scan.direction == .exit {
            // A person leaving is let out and counted out whatever their ticket's state.
            guard ticket.inside else { return GateVerdict(result: .exit) }
            var after = ticket
            after.inside = false
            return GateVerdict(result: .exit, changed: after, insideChange: -1)
        }

        if ticket.status == .revoked { return GateVerdict(result: .revoked) }
        if let expires = ticket.expiresAt, expires <= scan.at { return GateVerdict(result: .expired) }
        if let types = rules.ticketTypes, !types.contains(ticket.ticketType ?? "") { return GateVerdict(result: .notOnList) }
        if let opens = rules.opensAt, scan.at < opens { return GateVerdict(result: .notOpen) }
        if let closes = rules.closesAt, scan.at >= closes { return GateVerdict(result: .closed) }
        if let refusal = repeatRefusal(ticket, scan: scan, entry: rules.entry) { return GateVerdict(result: refusal) }
        // Under `unlimited` a person already inside passes again without counting twice.
        let comesIn = !ticket.inside
        if comesIn, let capacity = rules.capacity, inside >= capacity { return GateVerdict(result: .full) }

        var after = ticket
        if ticket.status == .unused {
            after.status = .used
            after.usedAt = scan.at
            after.usedGate = scan.gate
        }
        after.inside = true
        after.lastEntryDay = scan.day ?? ticket.lastEntryDay
        return GateVerdict(result: .valid, changed: after, insideChange: comesIn ? 1 : 0)
    }

    /// Why an entry repeats one the list's policy allows only once (or once until an exit).
    private static func repeatRefusal(_ ticket: TicketFacts, scan: GateScan, entry: EntryPolicy) -> CheckinResult? {
        guard ticket.status == .used else { return nil }
        switch entry {
        case .once: return .alreadyUsed
        case .reentry: return ticket.inside ? .alreadyInside : nil
        case .unlimited: return nil
        case .daily:
            guard let last = ticket.lastEntryDay, let today = scan.day else { return .alreadyUsed }
            return last == today ? .alreadyUsed : nil
        }
    }
}
