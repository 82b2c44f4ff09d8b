import Foundation
import GatehouseCore

/// What a check-in changed, kept in its log row (`checkins.undo_state`, JSON) so that an annul can put
/// the ticket, its pass of a list and the list's count back exactly as they were: the state
/// before a scan cannot be told from the log (was the person inside before an exit? on which day
/// was the last entry of a daily list?).
public struct ScanUndo: Codable, Sendable, Equatable {
    public struct TicketState: Codable, Sendable, Equatable {
        public var status: TicketStatus
        public var usedAt: Int64?
        public var usedGate: String?
        public var usedDevice: String?
        public var inside: Bool

        public init(_ ticket: Ticket) {
            status = ticket.status
            usedAt = ticket.usedAt?.millis
            usedGate = ticket.usedGate
            usedDevice = ticket.usedDevice
            inside = ticket.inside
        }

        private enum CodingKeys: String, CodingKey {
            case status = "s"
            case usedAt = "a"
            case usedGate = "g"
            case usedDevice = "d"
            case inside = "i"
        }

        func write(to out: inout JSONOutput) {
            out.raw("{")
            out.key("s", first: true)
            out.string(status.rawValue)
            if let usedAt {
                out.key("a", first: false)
                out.raw(String(usedAt))
            }
            if let usedGate {
                out.key("g", first: false)
                out.string(usedGate)
            }
            if let usedDevice {
                out.key("d", first: false)
                out.string(usedDevice)
            }
            out.key("i", first: false)
            out.raw(inside ? "true" : "false")
            out.raw("}")
        }

        public func applied(to ticket: Ticket) -> Ticket {
            var restored = ticket
            restored.status = status
            restored.usedAt = usedAt.map(Date.init(millis:))
            restored.usedGate = usedGate
            restored.usedDevice = usedDevice
            restored.inside = inside
            return restored
        }
    }

    public struct PassState: Codable, Sendable, Equatable {
        public var usedAt: Int64
        public var usedGate: String
        public var inside: Bool
        public var lastEntryDay: Int?

        public init(_ pass: ListPass) {
            usedAt = pass.usedAt
            usedGate = pass.usedGate
            inside = pass.inside
            lastEntryDay = pass.lastEntryDay
        }

        private enum CodingKeys: String, CodingKey {
            case usedAt = "a"
            case usedGate = "g"
            case inside = "i"
            case lastEntryDay = "y"
        }

        func write(to out: inout JSONOutput) {
            out.raw("{")
            out.key("a", first: true)
            out.raw(String(usedAt))
            out.key("g", first: false)
            out.string(usedGate)
            out.key("i", first: false)
            out.raw(inside ? "true" : "false")
            if let lastEntryDay {
                out.key("y", first: false)
                out.raw(String(lastEntryDay))
            }
            out.raw("}")
        }
    }

    public var ticketBefore: TicketState
    public var ticketAfter: TicketState
    /// The list of the scan's gate, when it had one.
    public var listId: String?
    /// The ticket's pass of that list before the scan; nil when the scan made it.
    public var passBefore: PassState?
    public var passAfter: PassState?
    /// The change the scan made to the list's count of people inside.
    public var insideChange: Int
    /// Milliseconds since 1970: when the scan was annulled, if it was.
    public var annulledAt: Int64?

    public init(
        ticketBefore: TicketState,
        ticketAfter: TicketState,
        listId: String? = nil,
        passBefore: PassState? = nil,
        passAfter: PassState? = nil,
        insideChange: Int = 0
    ) {
        self.ticketBefore = ticketBefore
        self.ticketAfter = ticketAfter
        self.listId = listId
        self.passBefore = passBefore
        self.passAfter = passAfter
        self.insideChange = insideChange
    }

    private enum CodingKeys: String, CodingKey {
        case ticketBefore = "tb"
        case ticketAfter = "ta"
        case listId = "l"
        case passBefore = "pb"
        case passAfter = "pa"
        case insideChange = "c"
        case annulledAt = "x"
    }

    /// Short keys, written by hand: every admission's log row carries one, and JSONEncoder cost
    /// PostgreSQL's batch loop a tenth of its rate.
    public var json: String {
        var out = JSONOutput()
        out.raw("{")
        out.key("tb", first: true)
        ticketBefore.write(to: &out)
        out.key("ta", first: false)
        ticketAfter.write(to: &out)
        if let listId {
            out.key("l", first: false)
            out.string(listId)
        }
        if let passBefore {
            out.key("pb", first: false)
            passBefore.write(to: &out)
        }
        if let passAfter {
            out.key("pa", first: false)
            passAfter.write(to: &out)
        }
        out.key("c", first: false)
        out.raw(String(insideChange))
        if let annulledAt {
            out.key("x", first: false)
            out.raw(String(annulledAt))
        }
        out.raw("}")
        return String(decoding: out.bytes, as: UTF8.self)
    }

    /// Nil for a row without one (a refusal, a scan logged before undo existed) or unreadable.
    public init?(json: String?) {
        guard let json, let undo = try? JSONDecoder().decode(ScanUndo.self, from: Data(json.utf8)) else { return nil }
        self = undo
    }
}

/// Why an annul is refused.
public enum AnnulRefusal: String, Error, Sendable, Equatable {
    /// No check-in of this device has that scanId.
    case unknownScan = "unknown_scan"
    /// Another device of the event made that scan: only the device that made it may take it back.
    case otherDevice = "other_device"
    /// More than `Annulment.window` after the scan.
    case tooLate = "too_late"
    /// The scan changed nothing (a refusal, a look-up, an exit of someone not inside).
    case nothingToUndo = "nothing_to_undo"
    /// The ticket was scanned again since: taking this scan back would lose that one.
    case changedSince = "changed_since"
}

/// The answer to an annul.
public struct AnnulAnswer: Sendable, Equatable {
    public var scanId: String
    public var ticket: TicketSummary?
    /// The scan had been annulled before (a retry of an annul whose answer was lost).
    public var again: Bool

    public init(scanId: String, ticket: TicketSummary?, again: Bool) {
        self.scanId = scanId
        self.ticket = ticket
        self.again = again
    }
}

/// A check-in's log row as an annul reads it.
public struct LoggedScan: Sendable, Equatable {
    public var id: Int64
    /// Milliseconds since 1970.
    public var at: Int64
    public var eventId: String
    public var ticketId: String?
    public var gateId: String
    public var deviceId: String
    public var result: CheckinResult
    public var undo: ScanUndo?

    public init(id: Int64, at: Int64, eventId: String, ticketId: String?, gateId: String, deviceId: String, result: CheckinResult, undo: ScanUndo?) {
        self.id = id
        self.at = at
        self.eventId = eventId
        self.ticketId = ticketId
        self.gateId = gateId
        self.deviceId = deviceId
        self.result = result
        self.undo = undo
    }
}

/// Taking back a check-in (`POST /api/checkins/{scanId}/annul`): the device that made it, within
/// fifteen minutes, while the ticket is still as that scan left it. The log keeps the scan's row
/// (marked annulled in its undo) and gains an `annulled` row.
public enum Annulment {
    /// Milliseconds after a scan that it may still be annulled.
    public static let window: Int64 = 15 * 60 * 1000

    /// What a store writes for an annul, in the transaction that read the row, the ticket and
    /// the pass (locked).
    public struct Plan: Sendable, Equatable {
        public var ticket: Ticket
        /// The pass to put back; nil with `listId` set: delete it (the scan made it).
        public var listId: String?
        public var pass: ListPass?
        public var countChange: Int
        public var undo: ScanUndo
    }

    /// The scan's row, by the device that made it; parameters: device id, scanId.
    public static let scanRow =
        "SELECT id, at, event_id, ticket_id, gate_id, device_id, result, undo_state FROM checkins WHERE device_id = ? AND scan_id = ?"

    public static func loggedScan(_ row: some StoreRow) -> LoggedScan {
        LoggedScan(
            id: row.int(0),
            at: row.int(1),
            eventId: row.text(2),
            ticketId: row.optionalText(3),
            gateId: row.text(4),
            deviceId: row.text(5),
            result: CheckinResult(rawValue: row.text(6)) ?? .invalid,
            undo: ScanUndo(json: row.optionalText(7))
        )
    }

    /// Whether another device of the event logged that scanId; parameters: event id, scanId.
    public static let scanElsewhere = "SELECT 1 FROM checkins WHERE event_id = ? AND scan_id = ? LIMIT 1"

    /// The annul of `row` at `now`, given the ticket and its pass as they are now: what to
    /// write, or why not. An annul already made answers `.success(nil)`.
    public static func plan(_ row: LoggedScan, now: Int64, ticket: Ticket?, pass: ListPass?) -> Result<Plan?, AnnulRefusal> {
        guard let undo = row.undo, let ticket, ticket.id == row.ticketId else { return .failure(.nothingToUndo) }
        if undo.annulledAt != nil { return .success(nil) }
        guard now - row.at <= window else { return .failure(.tooLate) }
        guard ScanUndo.TicketState(ticket) == undo.ticketAfter else { return .failure(.changedSince) }
        if undo.listId != nil, pass.map(ScanUndo.PassState.init) != undo.passAfter { return .failure(.changedSince) }
        var marked = undo
        marked.annulledAt = now
        return .success(
            Plan(
                ticket: undo.ticketBefore.applied(to: ticket),
                listId: undo.listId,
                pass: undo.listId.flatMap { list in
                    undo.passBefore.map {
                        ListPass(
                            listId: list,
                            ticketId: ticket.id,
                            usedAt: $0.usedAt,
                            usedGate: $0.usedGate,
                            inside: $0.inside,
                            lastEntryDay: $0.lastEntryDay
                        )
                    }
                },
                countChange: -undo.insideChange,
                undo: marked
            )
        )
    }

    /// The pass put back as it was, or removed when the scan made it.
    public static func restorePass(_ plan: Plan) -> StoreStatement? {
        guard let listId = plan.listId else { return nil }
        guard let pass = plan.pass else {
            return StoreStatement(
                sql: "DELETE FROM list_passes WHERE list_id = ? AND ticket_id = ?",
                parameters: [.text(listId), .text(plan.ticket.id)]
            )
        }
        return ListStatements.storePass(pass, existed: true)
    }

    /// The scan's row marked annulled (a second annul answers as the first).
    public static func markAnnulled(_ row: LoggedScan, _ plan: Plan) -> StoreStatement {
        StoreStatement(sql: "UPDATE checkins SET undo_state = ? WHERE id = ?", parameters: [.text(plan.undo.json), .integer(row.id)])
    }

    /// The log's `annulled` row.
    public static func log(_ row: LoggedScan, at: Int64) -> StoreStatement {
        StoreStatement(
            sql: """
                INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)
                """,
            parameters: [
                .integer(at), .text(row.eventId), .optional(row.ticketId), .text(row.gateId), .text(row.deviceId),
                .text(CheckinResult.annulled.rawValue), .text(CheckinMode.commit.rawValue), .bytes([]),
            ]
        )
    }
}
