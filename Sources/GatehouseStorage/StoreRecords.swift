import Foundation
import GatehouseCore

/// A result row of a SQL store, read by column number: what SQLite's and MySQL's rows have in
/// common, so every store reads their records with the same code.
public protocol StoreRow {
    func isNull(_ column: Int32) -> Bool
    func int(_ column: Int32) -> Int64
    func text(_ column: Int32) -> String
    func bytes(_ column: Int32) -> [UInt8]
}

extension StoreRow {
    public func optionalInt(_ column: Int32) -> Int64? { isNull(column) ? nil : int(column) }
    public func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
}

/// The queries SQLite and MySQL run alike (the same SQL text in both dialects) and the records
/// read from their rows. Times are milliseconds since 1970 in every store.
public enum StoreRecords {
    public static let eventColumns = """
        SELECT e.id, e.name, e.starts_at, e.ends_at, e.created_at,
               (SELECT count(*) FROM tickets t WHERE t.event_id = e.id),
               (SELECT count(*) FROM tickets t WHERE t.event_id = e.id AND t.status = 'used'),
               (SELECT count(*) FROM checkins c WHERE c.event_id = e.id AND c.conflict IS NOT NULL),
               EXISTS (SELECT 1 FROM signing_keys k WHERE k.event_id = e.id),
               e.place, e.reg_open, e.reg_capacity, e.reg_closes_at, e.reg_ticket_type, e.reg_one_per_email, e.registered
        FROM events e
        """

    public static func event(_ row: some StoreRow) -> Event {
        Event(
            id: row.text(0),
            name: row.text(1),
            startsAt: row.optionalInt(2).map(Date.init(millis:)),
            endsAt: row.optionalInt(3).map(Date.init(millis:)),
            createdAt: Date(millis: row.int(4)),
            issued: Int(row.int(5)),
            used: Int(row.int(6)),
            conflicts: Int(row.int(7)),
            signedCodes: row.int(8) != 0,
            place: row.optionalText(9),
            registration: EventRegistration(
                settings: RegistrationSettings(
                    open: row.int(10) != 0,
                    capacity: row.optionalInt(11).map { Int($0) },
                    closesAt: row.optionalInt(12).map(Date.init(millis:)),
                    ticketType: row.optionalText(13),
                    onePerEmail: row.int(14) != 0
                ),
                registered: Int(row.int(15))
            )
        )
    }

    public static let ticketColumnList =
        "id, event_id, number, user_id, holder_name, email, ticket_type, status, expires_at, created_at, used_at, used_gate, used_device, inside"
    public static let ticketColumns = "SELECT \(ticketColumnList) FROM tickets"

    public static func ticket(_ row: some StoreRow) -> Ticket { ticket(row, from: 0) }

    /// A row of `ticketColumnList`, from column `offset` on.
    public static func ticket(_ row: some StoreRow, from offset: Int32) -> Ticket {
        Ticket(
            id: row.text(offset),
            eventId: row.text(offset + 1),
            number: Int(row.int(offset + 2)),
            userId: row.optionalText(offset + 3),
            holderName: row.optionalText(offset + 4),
            email: row.optionalText(offset + 5),
            ticketType: row.optionalText(offset + 6),
            status: TicketStatus(rawValue: row.text(offset + 7)) ?? .revoked,
            expiresAt: row.optionalInt(offset + 8).map(Date.init(millis:)),
            createdAt: Date(millis: row.int(offset + 9)),
            usedAt: row.optionalInt(offset + 10).map(Date.init(millis:)),
            usedGate: row.optionalText(offset + 11),
            usedDevice: row.optionalText(offset + 12),
            inside: row.int(offset + 13) != 0
        )
    }

    public static let deviceColumnList = "id, name, gate_id, event_id, revoked, created_at, kind"
    public static let deviceColumns = "SELECT \(deviceColumnList) FROM devices"

    public static func device(_ row: some StoreRow) -> Device {
        Device(
            id: row.text(0),
            name: row.text(1),
            gateId: row.text(2),
            eventId: row.text(3),
            revoked: row.int(4) != 0,
            createdAt: Date(millis: row.int(5)),
            kind: DeviceKind(rawValue: row.text(6)) ?? .kiosk
        )
    }

    /// An event's devices with their last check-in; one parameter, the event.
    public static let devicesWithActivity = """
        SELECT d.id, d.name, d.gate_id, d.event_id, d.revoked, d.created_at, d.kind, last.at, last.result
        FROM devices d LEFT JOIN checkins last
          ON last.id = (SELECT max(c.id) FROM checkins c WHERE c.device_id = d.id)
        WHERE d.event_id = ? ORDER BY d.gate_id, d.name, d.id
        """

    public static func deviceActivity(_ row: some StoreRow) -> DeviceActivity {
        DeviceActivity(
            device: device(row),
            lastSeenAt: row.optionalInt(7).map(Date.init(millis:)),
            lastResult: row.optionalText(8).flatMap(CheckinResult.init(rawValue:))
        )
    }

    public static let logColumns =
        "c.id, c.at, c.event_id, c.ticket_id, t.number, c.gate_id, c.device_id, c.result, c.mode, c.scan_id, c.offline, c.conflict"

    public static func logEntry(_ row: some StoreRow) -> CheckinLogEntry { logEntry(row, from: 0) }

    /// A row of `logColumns`, from column `offset` on.
    public static func logEntry(_ row: some StoreRow, from offset: Int32) -> CheckinLogEntry {
        CheckinLogEntry(
            id: row.int(offset),
            at: Date(millis: row.int(offset + 1)),
            eventId: row.text(offset + 2),
            ticketId: row.optionalText(offset + 3),
            ticketNumber: row.optionalInt(offset + 4).map { Int($0) },
            gateId: row.text(offset + 5),
            deviceId: row.text(offset + 6),
            result: CheckinResult(rawValue: row.text(offset + 7)) ?? .invalid,
            mode: CheckinMode(rawValue: row.text(offset + 8)) ?? .commit,
            scanId: row.optionalText(offset + 9),
            offline: row.int(offset + 10) != 0,
            conflict: row.optionalText(offset + 11).flatMap(CheckinResult.init(rawValue:))
        )
    }

    /// A parameter of a query built here, for the store to turn into its own kind of value.
    public enum Parameter: Sendable, Equatable {
        case text(String)
        case integer(Int64)
        case bytes([UInt8])
        case null

        public static func optional(_ text: String?) -> Parameter { text.map(Parameter.text) ?? .null }
        public static func optional(_ number: Int64?) -> Parameter { number.map(Parameter.integer) ?? .null }
    }

    /// The check-in log of an event, filtered: newest first, or forward from `afterId`.
    /// The stream's rows after `position` (SQLite and MySQL: one number in commit order, see
    /// their schemas), the log's columns then `stream_seq`.
    public static func checkinStream(eventId: String, after position: Int64, limit: Int) -> (sql: String, parameters: [Parameter]) {
        (
            """
            SELECT \(logColumns), c.stream_seq
            FROM checkins c LEFT JOIN tickets t ON t.id = c.ticket_id
            WHERE c.event_id = ? AND c.stream_seq > ?
            ORDER BY c.stream_seq LIMIT ?
            """,
            [.text(eventId), .integer(position), .integer(Int64(limit))]
        )
    }

    /// A row of `checkinStream`.
    public static func streamedCheckin(_ row: some StoreRow) -> StreamedCheckin {
        StreamedCheckin(position: ChangeCursor(position: row.int(12)), entry: logEntry(row))
    }

    public static func checkins(eventId: String, filter: CheckinFilter) -> (sql: String, parameters: [Parameter]) {
        var sql = """
            SELECT \(logColumns)
            FROM checkins c LEFT JOIN tickets t ON t.id = c.ticket_id
            WHERE c.event_id = ?
            """
        var parameters: [Parameter] = [.text(eventId)]
        if let gate = filter.gateId {
            sql += " AND c.gate_id = ?"
            parameters.append(.text(gate))
        }
        if let since = filter.since {
            sql += " AND c.at >= ?"
            parameters.append(.integer(since.millis))
        }
        if let until = filter.until {
            sql += " AND c.at < ?"
            parameters.append(.integer(until.millis))
        }
        if let after = filter.afterId {
            sql += " AND c.id > ?"
            parameters.append(.integer(after))
        }
        if let ticket = filter.ticketId {
            sql += " AND c.ticket_id = ?"
            parameters.append(.text(ticket))
        }
        if let result = filter.result {
            sql += " AND c.result = ?"
            parameters.append(.text(result.rawValue))
        }
        // --follow reads forward from a position; everything else wants the newest first.
        sql += filter.afterId == nil ? " ORDER BY c.id DESC LIMIT ?" : " ORDER BY c.id ASC LIMIT ?"
        parameters.append(.integer(Int64(filter.limit)))
        return (sql, parameters)
    }

    /// An event's offline admissions that collided, each beside the admission that came first;
    /// one parameter, the event.
    public static let conflicts = """
        SELECT \(logColumns), f.id, f.at, f.event_id, f.ticket_id, t.number, f.gate_id, f.device_id, f.result, f.mode, f.scan_id, f.offline, f.conflict
        FROM checkins c LEFT JOIN tickets t ON t.id = c.ticket_id LEFT JOIN checkins f ON f.id = c.conflict_with
        WHERE c.event_id = ? AND c.conflict IS NOT NULL ORDER BY c.id
        """

    public static func conflict(_ row: some StoreRow) -> Conflict {
        let offline = logEntry(row)
        return Conflict(
            ticketNumber: offline.ticketNumber,
            reason: offline.conflict ?? .alreadyUsed,
            offline: offline,
            first: row.isNull(12) ? nil : logEntry(row, from: 12)
        )
    }

    /// Ticket changes of an event after a cursor, oldest first, each with its pass of a list
    /// (none for a list id of ""); parameters: list, event, cursor, limit.
    public static let ticketChanges = """
        SELECT t.number, t.token_hash, t.status, t.expires_at, t.used_at, t.used_gate, t.change_seq, t.ticket_type, t.inside,
               p.used_at, p.used_gate, p.inside, p.last_entry_day
        FROM tickets t LEFT JOIN list_passes p ON p.list_id = ? AND p.ticket_id = t.id
        WHERE t.event_id = ? AND t.change_seq > ? ORDER BY t.change_seq LIMIT ?
        """

    public static func ticketChange(_ row: some StoreRow) -> (state: TicketState, position: Int64) {
        (ticketState(row, extra: 7), row.int(6))
    }

    /// A row of `ticketChanges`' first six columns, then (from `extra`) type, inside and the pass.
    public static func ticketState(_ row: some StoreRow, extra: Int32) -> TicketState {
        TicketState(
            number: Int(row.int(0)),
            tokenHash: row.bytes(1),
            status: TicketStatus(rawValue: row.text(2)) ?? .revoked,
            expiresAt: row.optionalInt(3).map(Date.init(millis:)),
            usedAt: row.optionalInt(4).map(Date.init(millis:)),
            usedGate: row.optionalText(5),
            ticketType: row.optionalText(extra),
            inside: row.int(extra + 1) != 0,
            pass: row.isNull(extra + 2)
                ? nil
                : ScanUndo.PassState(
                    ListStatements.pass(row, list: "", ticket: "", from: extra + 2)
                )
        )
    }

    /// A page of changes as the store protocol returns it.
    public static func changesPage(_ rows: [(state: TicketState, position: Int64)], after cursor: ChangeCursor?, limit: Int) -> TicketChanges {
        TicketChanges(
            tickets: rows.map(\.state),
            cursor: rows.last.map { ChangeCursor(position: $0.position) } ?? cursor ?? ChangeCursor(position: 0),
            complete: rows.count < limit
        )
    }

    // MARK: Offline admissions

    /// Of the hashes given, those naming a ticket of an event, now or before a re-issue; the
    /// parameters are the event, the hashes, the event again and the hashes again.
    public static func knownTokenHashes(count: Int) -> String {
        let list = Array(repeating: "?", count: count).joined(separator: ", ")
        return """
            SELECT token_hash FROM tickets WHERE event_id = ? AND token_hash IN (\(list))
            UNION SELECT r.token_hash FROM retired_tokens r JOIN tickets t ON t.id = r.ticket_id WHERE t.event_id = ? AND r.token_hash IN (\(list))
            """
    }

    /// The ticket an offline admission's code names, now or before a re-issue: its id, status,
    /// first use, and whether the code was retired; parameters: hash, event, hash, event.
    public static let admittedTicket = """
        SELECT id, status, used_at, 0 FROM tickets WHERE token_hash = ? AND event_id = ?
        UNION ALL SELECT t.id, t.status, t.used_at, 1 FROM retired_tokens r JOIN tickets t ON t.id = r.ticket_id
        WHERE r.token_hash = ? AND t.event_id = ?
        """

    public static func admittedTicket(_ row: some StoreRow) -> AdmittedTicket {
        AdmittedTicket(
            id: row.text(0),
            status: TicketStatus(rawValue: row.text(1)) ?? .revoked,
            usedAt: row.optionalInt(2),
            retired: row.int(3) != 0
        )
    }

    /// The earliest admission of a ticket that stands (not itself a conflict); parameters: event, ticket.
    public static let firstAdmission = """
        SELECT id FROM checkins WHERE event_id = ? AND ticket_id = ? AND result = 'valid' AND mode = 'commit' AND conflict IS NULL
        ORDER BY at, id LIMIT 1
        """

    /// Marks every other standing admission of a ticket as the conflict of the earlier one that
    /// just took its place; parameters: the earlier's id, event, ticket, the earlier's id.
    public static let displaceLaterAdmissions = """
        UPDATE checkins SET conflict = 'already_used', conflict_with = ?, stream_seq = 0
        WHERE event_id = ? AND ticket_id = ? AND result = 'valid' AND mode = 'commit' AND id <> ?
          AND (conflict IS NULL OR conflict = 'already_used')
        """

    /// An event's signing keys, oldest first; one parameter, the event.
    public static let signingKeys = "SELECT key_id, public_key, private_key, created_at FROM signing_keys WHERE event_id = ? ORDER BY key_id"

    public static func signingKey(_ row: some StoreRow) -> SigningKey {
        SigningKey(id: Int(row.int(0)), publicKey: row.bytes(1), privateKey: row.bytes(2), createdAt: Date(millis: row.int(3)))
    }
}

extension Ticket {
    /// Why this ticket cannot be (or, in validate mode, whether it could be) checked in now at a
    /// device of `deviceEvent`: the reason a store reads after its conditional UPDATE changed nothing.
    public func checkinResult(deviceEvent: String, now: Int64) -> CheckinResult {
        if eventId != deviceEvent { return .wrongEvent }
        switch status {
        case .revoked: return .revoked
        case .used: return .alreadyUsed
        case .unused:
            if let expires = expiresAt, expires.millis <= now { return .expired }
            return .valid
        }
    }
}

/// The ticket an offline admission's code names, as the store found it before deciding.
public struct AdmittedTicket: Sendable, Equatable {
    public var id: String
    public var status: TicketStatus
    /// Milliseconds since 1970.
    public var usedAt: Int64?
    /// The code was the ticket's before a re-issue: it no longer admits.
    public var retired: Bool

    public init(id: String, status: TicketStatus, usedAt: Int64?, retired: Bool) {
        self.id = id
        self.status = status
        self.usedAt = usedAt
        self.retired = retired
    }

    /// What an admission at `at` (ms) makes of this ticket: the ticket's state it conflicts with,
    /// whether it displaces a later use as the ticket's first, or nil when it simply records.
    public func judge(admissionAt at: Int64) -> (conflict: CheckinResult?, displaces: Bool) {
        if retired { return (.notFound, false) }
        switch status {
        case .unused: return (nil, false)
        case .revoked: return (.revoked, false)
        case .used:
            if let usedAt, at < usedAt { return (nil, true) }
            return (.alreadyUsed, false)
        }
    }
}

/// The enrolled device a scanner's token, deviceId and gateId name together.
public struct DeviceOnDuty: Sendable, Equatable {
    public var id: String
    public var gate: String
    public var event: String

    public init(id: String, gate: String, event: String) {
        self.id = id
        self.gate = gate
        self.event = event
    }

    /// Why a scanner's credentials name no device on duty.
    public enum Refusal: Error, Equatable {
        case unauthorized
        case wrongGate(registered: String)
    }

    /// The device of a token (as a store found it, or nil), if it is not revoked, is the device
    /// named, and stands at the gate named. A token of another device counts as no token.
    public static func judge(
        found: (id: String, gate: String, event: String, revoked: Bool)?,
        deviceId: String,
        gateId: String
    ) -> Result<DeviceOnDuty, Refusal> {
        guard let found, !found.revoked, found.id == deviceId else { return .failure(.unauthorized) }
        guard found.gate == gateId else { return .failure(.wrongGate(registered: found.gate)) }
        return .success(DeviceOnDuty(id: found.id, gate: found.gate, event: found.event))
    }

    /// The query a store finds a token's device with; one parameter, the token's hash.
    public static let query = "SELECT id, gate_id, event_id, revoked FROM devices WHERE token_hash = ?"

    public static func found(_ row: some StoreRow) -> (id: String, gate: String, event: String, revoked: Bool) {
        (id: row.text(0), gate: row.text(1), event: row.text(2), revoked: row.int(3) != 0)
    }
}
