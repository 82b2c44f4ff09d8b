import Foundation
import GatehouseCore

/// A check-in list: the rules of a set of gates (which ticket types, how often, when, how many
/// inside). A gate belongs to at most one list of its event; a gate in none admits every type
/// once, as before lists existed.
public struct CheckinList: Codable, Sendable, Equatable {
    public var id: String
    public var eventId: String
    public var name: String
    /// nil: every ticket type.
    public var ticketTypes: [String]?
    public var gates: [String]
    public var entry: EntryPolicy
    public var capacity: Int?
    public var opensAt: Date?
    public var closesAt: Date?
    /// People inside through this list's gates, when read.
    public var inside: Int
    public var createdAt: Date
    /// When everyone inside is counted out (pretix's `exit_all_at`): a festival's night, a
    /// hall cleared between sessions. Then again every 24 hours after, until it is cleared.
    public var exitAllAt: Date?
    /// Ticket types staff must look at before their holder goes in; nil: none.
    public var attention: [String]?

    public init(
        id: String,
        eventId: String,
        name: String,
        ticketTypes: [String]? = nil,
        gates: [String] = [],
        entry: EntryPolicy = .once,
        capacity: Int? = nil,
        opensAt: Date? = nil,
        closesAt: Date? = nil,
        inside: Int = 0,
        createdAt: Date,
        exitAllAt: Date? = nil,
        attention: [String]? = nil
    ) {
        self.attention = attention
        self.exitAllAt = exitAllAt
        self.id = id
        self.eventId = eventId
        self.name = name
        self.ticketTypes = ticketTypes
        self.gates = gates
        self.entry = entry
        self.capacity = capacity
        self.opensAt = opensAt
        self.closesAt = closesAt
        self.inside = inside
        self.createdAt = createdAt
    }

    /// This list with its gates found among an event's (list, gate) pairs.
    public func with(gates pairs: [(list: String, gate: String)]) -> CheckinList {
        var copy = self
        copy.gates = pairs.filter { $0.list == id }.map(\.gate)
        return copy
    }

    /// What the gate decision reads of this list.
    public var rules: GateRules {
        GateRules(
            ticketTypes: ticketTypes.map(Set.init),
            entry: entry,
            capacity: capacity,
            opensAt: opensAt?.millis,
            closesAt: closesAt?.millis,
            attention: attention.map(Set.init)
        )
    }

    /// `ticket_types` as stored: one type per line, or NULL for all (types are one-line names).
    public var storedTicketTypes: String? { ticketTypes?.joined(separator: "\n") }

    public static func ticketTypes(stored: String?) -> [String]? {
        stored.map { $0.isEmpty ? [] : $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
    }
}

/// A ticket's passage through one list's gates: its first entry there, and whether it is inside.
public struct ListPass: Sendable, Equatable {
    public var listId: String
    public var ticketId: String
    /// Milliseconds since 1970.
    public var usedAt: Int64
    public var usedGate: String
    public var inside: Bool
    public var lastEntryDay: Int?

    public init(listId: String, ticketId: String, usedAt: Int64, usedGate: String, inside: Bool, lastEntryDay: Int?) {
        self.listId = listId
        self.ticketId = ticketId
        self.usedAt = usedAt
        self.usedGate = usedGate
        self.inside = inside
        self.lastEntryDay = lastEntryDay
    }
}

/// The list a scan's gate belongs to, as the deciding transaction read it.
public struct GateList: Sendable, Equatable {
    public var id: String
    public var rules: GateRules
    /// People inside now.
    public var inside: Int

    public init(id: String, rules: GateRules, inside: Int) {
        self.id = id
        self.rules = rules
        self.inside = inside
    }
}

/// The SQL SQLite and MySQL share for lists.
public enum ListStatements {
    public static let columns =
        "id, event_id, name, ticket_types, entry, capacity, opens_at, closes_at, inside, created_at, exit_all_at, attention_types"

    /// A row of `columns`, gates still empty.
    public static func list(_ row: some StoreRow) -> CheckinList {
        CheckinList(
            id: row.text(0),
            eventId: row.text(1),
            name: row.text(2),
            ticketTypes: CheckinList.ticketTypes(stored: row.optionalText(3)),
            entry: EntryPolicy(rawValue: row.text(4)) ?? .once,
            capacity: row.optionalInt(5).map { Int($0) },
            opensAt: row.optionalInt(6).map(Date.init(millis:)),
            closesAt: row.optionalInt(7).map(Date.init(millis:)),
            inside: Int(row.int(8)),
            createdAt: Date(millis: row.int(9)),
            exitAllAt: row.optionalInt(10).map(Date.init(millis:)),
            attention: CheckinList.ticketTypes(stored: row.optionalText(11))
        )
    }

    /// The list of a device's gate; parameters: event, gate. Columns: id, ticket_types, entry,
    /// capacity, opens_at, closes_at, inside.
    public static let ofGate = """
        SELECT l.id, l.ticket_types, l.entry, l.capacity, l.opens_at, l.closes_at, l.inside
        FROM list_gates g JOIN checkin_lists l ON l.id = g.list_id WHERE g.event_id = ? AND g.gate_id = ?
        """

    public static func gateList(_ row: some StoreRow, from offset: Int32 = 0) -> GateList {
        GateList(
            id: row.text(offset),
            rules: GateRules(
                ticketTypes: CheckinList.ticketTypes(stored: row.optionalText(offset + 1)).map(Set.init),
                entry: EntryPolicy(rawValue: row.text(offset + 2)) ?? .once,
                capacity: row.optionalInt(offset + 3).map { Int($0) },
                opensAt: row.optionalInt(offset + 4),
                closesAt: row.optionalInt(offset + 5)
            ),
            inside: Int(row.int(offset + 6))
        )
    }

    /// A ticket's pass of a list; parameters: list, ticket. Columns: used_at, used_gate, inside,
    /// last_entry_day.
    public static let pass = "SELECT used_at, used_gate, inside, last_entry_day FROM list_passes WHERE list_id = ? AND ticket_id = ?"

    public static func pass(_ row: some StoreRow, list: String, ticket: String, from offset: Int32 = 0) -> ListPass {
        ListPass(
            listId: list,
            ticketId: ticket,
            usedAt: row.int(offset),
            usedGate: row.text(offset + 1),
            inside: row.int(offset + 2) != 0,
            lastEntryDay: row.optionalInt(offset + 3).map { Int($0) }
        )
    }

    public static func insert(_ list: CheckinList) -> StoreStatement {
        StoreStatement(
            sql: "INSERT INTO checkin_lists (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            parameters: [.text(list.id), .text(list.eventId), .text(list.name)] + settings(list) + [
                .integer(list.createdAt.millis), .optional(list.exitAllAt?.millis), .optional(list.attention?.joined(separator: "\n")),
            ]
        )
    }

    /// A list's settings; its count of people inside stays.
    public static func update(_ list: CheckinList) -> StoreStatement {
        StoreStatement(
            sql: """
                UPDATE checkin_lists SET name = ?, ticket_types = ?, entry = ?, capacity = ?, opens_at = ?, closes_at = ?, exit_all_at = ?,
                  attention_types = ?
                WHERE id = ?
                """,
            parameters: [.text(list.name)] + settings(list) + [
                .optional(list.exitAllAt?.millis), .optional(list.attention?.joined(separator: "\n")), .text(list.id),
            ]
        )
    }

    private static func settings(_ list: CheckinList) -> [StoreRecords.Parameter] {
        [
            .optional(list.storedTicketTypes), .text(list.entry.rawValue), .optional(list.capacity.map(Int64.init)),
            .optional(list.opensAt?.millis), .optional(list.closesAt?.millis),
        ]
    }

    public static func ofEvent(_ eventId: String) -> StoreStatement {
        StoreStatement(sql: "SELECT \(columns) FROM checkin_lists WHERE event_id = ? ORDER BY created_at, id", parameters: [.text(eventId)])
    }

    public static func byId(_ id: String) -> StoreStatement {
        StoreStatement(sql: "SELECT \(columns) FROM checkin_lists WHERE id = ?", parameters: [.text(id)])
    }

    /// (list, gate) of an event's lists, gates in order.
    public static func gates(eventId: String) -> StoreStatement {
        StoreStatement(sql: "SELECT list_id, gate_id FROM list_gates WHERE event_id = ? ORDER BY gate_id", parameters: [.text(eventId)])
    }

    /// (list, gate) of one list, gates in order.
    public static func gates(listId: String) -> StoreStatement {
        StoreStatement(sql: "SELECT list_id, gate_id FROM list_gates WHERE list_id = ? ORDER BY gate_id", parameters: [.text(listId)])
    }

    /// The first of `list`'s gates that another list of its event has: (gate, that list).
    public static func gateTaken(_ list: CheckinList) -> StoreStatement {
        StoreStatement(
            sql: """
                SELECT gate_id, list_id FROM list_gates WHERE event_id = ? AND list_id <> ?
                  AND gate_id IN (\(list.gates.map { _ in "?" }.joined(separator: ", "))) ORDER BY gate_id LIMIT 1
                """,
            parameters: [.text(list.eventId), .text(list.id)] + list.gates.map { .text($0) }
        )
    }

    /// All of a list's gates in one statement (nil for a list without gates): a list of 64
    /// gates was 64 round trips inside the transaction, over a loaded database's 3 s limit.
    public static func addGates(of list: CheckinList) -> StoreStatement? {
        guard !list.gates.isEmpty else { return nil }
        return StoreStatement(
            sql: "INSERT INTO list_gates (event_id, gate_id, list_id) VALUES "
                + Array(repeating: "(?, ?, ?)", count: list.gates.count).joined(separator: ", "),
            parameters: list.gates.flatMap { [.text(list.eventId), .text($0), .text(list.id)] }
        )
    }

    public static func removeGates(listId: String) -> StoreStatement {
        StoreStatement(sql: "DELETE FROM list_gates WHERE list_id = ?", parameters: [.text(listId)])
    }

    /// A list and what hangs on it, children first.
    public static func delete(id: String) -> [StoreStatement] {
        [
            StoreStatement(sql: "DELETE FROM list_passes WHERE list_id = ?", parameters: [.text(id)]),
            removeGates(listId: id),
            StoreStatement(sql: "DELETE FROM checkin_lists WHERE id = ?", parameters: [.text(id)]),
        ]
    }

    /// Stores a pass as a scan left it: a new one, or the one `existed` changed.
    public static func storePass(_ pass: ListPass, existed: Bool) -> StoreStatement {
        let day: StoreRecords.Parameter = .optional(pass.lastEntryDay.map(Int64.init))
        if existed {
            return StoreStatement(
                sql: "UPDATE list_passes SET inside = ?, last_entry_day = ? WHERE list_id = ? AND ticket_id = ?",
                parameters: [.integer(pass.inside ? 1 : 0), day, .text(pass.listId), .text(pass.ticketId)]
            )
        }
        return StoreStatement(
            sql: "INSERT INTO list_passes (list_id, ticket_id, used_at, used_gate, inside, last_entry_day) VALUES (?, ?, ?, ?, ?, ?)",
            parameters: [.text(pass.listId), .text(pass.ticketId), .integer(pass.usedAt), .text(pass.usedGate), .integer(pass.inside ? 1 : 0), day]
        )
    }

    public static func countInside(listId: String, change: Int) -> StoreStatement {
        StoreStatement(sql: "UPDATE checkin_lists SET inside = inside + ? WHERE id = ?", parameters: [.integer(Int64(change)), .text(listId)])
    }

    // MARK: Everyone out at a set time

    /// Lists whose `exit_all_at` has come; parameter: now. Columns: id, exit_all_at.
    public static let dueToEmpty =
        "SELECT id, exit_all_at FROM checkin_lists WHERE exit_all_at IS NOT NULL AND exit_all_at <= ? ORDER BY exit_all_at, id LIMIT 100"

    /// Some of the tickets inside a list; parameters: list, limit. Columns: ticket id, event id.
    public static let someInside = """
        SELECT p.ticket_id, t.event_id FROM list_passes p JOIN tickets t ON t.id = p.ticket_id
        WHERE p.list_id = ? AND p.inside = 1 ORDER BY p.ticket_id LIMIT ?
        """

    /// `tickets` out of the list, each with an `exit` row in the log from the service itself.
    public static func countOut(listId: String, tickets: [(id: String, event: String)], at: Date) -> [StoreStatement] {
        let marks = tickets.map { _ in "?" }.joined(separator: ", ")
        return [
            StoreStatement(
                sql: "UPDATE list_passes SET inside = 0 WHERE list_id = ? AND ticket_id IN (\(marks))",
                parameters: [.text(listId)] + tickets.map { .text($0.id) }
            ),
            countInside(listId: listId, change: -tickets.count),
            StoreStatement(
                sql: """
                    INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash) VALUES
                    \(tickets.map { _ in "(?, ?, ?, ?, ?, 'exit', 'commit', NULL, ?)" }.joined(separator: ", "))
                    """,
                parameters: tickets.flatMap { ticket -> [StoreRecords.Parameter] in
                    [.integer(at.millis), .text(ticket.event), .text(ticket.id), .text(exitAllGate), .text(exitAllDevice), .bytes([])]
                }
            ),
        ]
    }

    /// The gate and device the log names for these exits: no device has that id (the service
    /// makes every device id, upper-case), so the log tells them from any scan.
    public static let exitAllGate = "(everyone out)"
    public static let exitAllDevice = "gatehouse"

    /// The next time, once the list is empty: only if no one changed it meanwhile.
    public static func moveExitAll(listId: String, from due: Date, to next: Date) -> StoreStatement {
        StoreStatement(
            sql: "UPDATE checkin_lists SET exit_all_at = ? WHERE id = ? AND exit_all_at = ?",
            parameters: [.integer(next.millis), .text(listId), .integer(due.millis)]
        )
    }

    /// Everyone inside an event: through a gate in no list, or inside some list; one parameter,
    /// the event.
    public static let peopleInside = """
        SELECT count(*) FROM tickets t WHERE t.event_id = ? AND t.status IN ('used', 'revoked')
          AND (t.inside = 1 OR EXISTS (SELECT 1 FROM list_passes p WHERE p.ticket_id = t.id AND p.inside = 1))
        """
}
