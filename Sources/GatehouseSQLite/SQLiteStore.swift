import Foundation
import GatehouseCore
import GatehouseStorage
import SQLiteSupport
import ServiceLifecycle

/// The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, one writer thread with
/// group commit (`SQLiteWriter`) and a pool of readers.
public final class SQLiteStore: GatehouseStore {
    public var kindName: String { "sqlite" }
    let writer: SQLiteWriter
    let readers: SQLiteReaderPool

    public init(path: String) throws {
        let connection = try Self.openWriter(path)
        try SQLiteSchema.migrate(connection)
        writer = SQLiteWriter(connection: connection, name: "gatehouse-sqlite-writer", reopen: { try Self.openWriter(path) })
        readers = SQLiteReaderPool(path: path)
    }

    /// The writer's connection. WAL: readers never wait for the writer. synchronous=FULL: a
    /// commit has reached the disk (fsync of the WAL) before COMMIT returns, so a `valid` answer
    /// survives a power cut.
    private static func openWriter(_ path: String) throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path)
        let mode = try connection.firstRow("PRAGMA journal_mode = WAL") { $0.text(0) }
        guard mode?.lowercased() == "wal" else {
            throw StoreError.unavailable("cannot switch \(path) to WAL mode (got \(mode ?? "nothing"))")
        }
        try connection.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON")
        return connection
    }

    /// A read, and — after a write failed for the database's sake (read-only, disk full, I/O
    /// error) — a real write, so `/healthz` fails exactly while check-ins cannot be stored and
    /// passes again once they can.
    public func healthCheck() async throws {
        _ = try await readers.read { db in try db.firstRow("SELECT 1") { $0.int(0) } }
        if writer.isFailing {
            try await writer.perform { db in try db.execute("PRAGMA user_version = \(try db.userVersion)") }
        }
    }

    /// The writer connection's journal mode, `synchronous` level (2 = FULL) and foreign keys,
    /// for the test that holds the durability promise.
    func durabilitySettings() async throws -> (journalMode: String, synchronous: Int, foreignKeys: Bool) {
        try await writer.perform { db in
            (
                try db.firstRow("PRAGMA journal_mode") { $0.text(0) } ?? "",
                Int(try db.firstRow("PRAGMA synchronous") { $0.int(0) } ?? -1),
                try db.firstRow("PRAGMA foreign_keys") { $0.int(0) } == 1
            )
        }
    }

    /// The writer thread; reads need nothing running (they borrow Dispatch's threads).
    public var services: [any Service] { [writer] }

    // MARK: Events

    public func createEvent(
        id: String,
        name: String,
        startsAt: Date?,
        endsAt: Date?,
        place: String?,
        registration: RegistrationSettings,
        at: Date
    ) async throws -> Event {
        try await writer.perform { db in
            _ = try db.run(
                OutboxStatements.createEvent(
                    id: id,
                    name: name,
                    startsAt: startsAt,
                    endsAt: endsAt,
                    place: place,
                    registration: registration,
                    at: at
                )
            )
            return Event.created(
                id: id,
                name: name,
                startsAt: startsAt,
                endsAt: endsAt,
                place: place,
                registration: registration,
                at: at
            )
        }
    }

    public func events() async throws -> [Event] {
        try await readers.read { db in try db.rows(StoreRecords.eventColumns + " ORDER BY e.created_at DESC, e.id", [], StoreRecords.event) }
    }

    public func event(id: String) async throws -> Event? {
        try await readers.read { db in try db.firstRow(StoreRecords.eventColumns + " WHERE e.id = ?", [.text(id)], StoreRecords.event) }
    }

    public func updateEvent(id: String, name: String, startsAt: Date?, endsAt: Date?, place: String?) async throws -> Event? {
        let changed = try await writer.perform { db in
            try db.firstRow(
                "UPDATE events SET name = ?, starts_at = ?, ends_at = ?, place = ? WHERE id = ? RETURNING id",
                [.text(name), .optional(startsAt?.millis), .optional(endsAt?.millis), .optional(place), .text(id)],
                { $0.text(0) }
            )
        }
        guard changed != nil else { return nil }
        return try await event(id: id)
    }

    // MARK: Tickets

    public func tickets(eventId: String, query: TicketQuery) async throws -> [Ticket] {
        try await readers.read { db in
            // The folded search key and a folded pattern: any case, beyond ASCII. The pattern's
            // wildcards are escaped.
            try db.rows(
                StoreRecords.ticketColumns + """
                     WHERE event_id = ? AND (? IS NULL OR number = ? OR search_key LIKE ? ESCAPE '\\')
                    ORDER BY number LIMIT ? OFFSET ?
                    """,
                [
                    .text(eventId), .optional(query.foldedPattern), .optional(query.number.map(Int64.init)), .optional(query.foldedPattern),
                    .integer(Int64(query.limit)), .integer(Int64(query.offset)),
                ],
                StoreRecords.ticket
            )
        }
    }

    public func ticketCount(eventId: String, query: TicketQuery) async throws -> Int {
        try await readers.read { db in
            Int(
                try db.firstRow(
                    "SELECT count(*) FROM tickets WHERE event_id = ? AND (? IS NULL OR number = ? OR search_key LIKE ? ESCAPE '\\')",
                    [.text(eventId), .optional(query.foldedPattern), .optional(query.number.map(Int64.init)), .optional(query.foldedPattern)],
                    { $0.int(0) }
                ) ?? 0
            )
        }
    }

    public func issueTickets(eventId: String, tickets: [NewTicket], at: Date) async throws -> [Ticket] {
        try await writer.perform { db in try Self.insertTickets(tickets, eventId: eventId, at: at, in: db) }
    }

    /// Inside the caller's transaction: numbers the tickets and stores them.
    static func insertTickets(_ tickets: [NewTicket], eventId: String, at: Date, in db: SQLiteConnection) throws -> [Ticket] {
        // Reserve a block of numbers; the UPDATE also takes the row, so two batches for one
        // event never get the same numbers.
        guard
            let first = try db.firstRow(
                "UPDATE events SET next_number = next_number + ? WHERE id = ? RETURNING next_number - ?",
                [.integer(Int64(tickets.count)), .text(eventId), .integer(Int64(tickets.count))],
                { $0.int(0) }
            )
        else { throw StoreError.notFound("event \(eventId)") }
        var created: [Ticket] = []
        created.reserveCapacity(tickets.count)
        for (offset, new) in tickets.enumerated() {
            let number = first + Int64(offset)
            _ = try db.run(
                """
                INSERT INTO tickets (id, event_id, number, user_id, holder_name, email, ticket_type, status,
                                     expires_at, token_hash, created_at, change_seq, search_key)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'unused', ?, ?, ?, (SELECT coalesce(max(change_seq), 0) + 1 FROM tickets WHERE event_id = ?), ?)
                """,
                [
                    .text(new.id), .text(eventId), .integer(number), .optional(new.userId), .optional(new.holderName),
                    .optional(new.email), .optional(new.ticketType), .optional(new.expiresAt?.millis),
                    .blob(new.tokenHash), .integer(at.millis), .text(eventId),
                    .text(Ticket.searchKey(holderName: new.holderName, email: new.email)),
                ]
            )
            created.append(new.issued(eventId: eventId, number: Int(number), at: at))
        }
        return created
    }

    public func ticket(id: String) async throws -> Ticket? {
        try await readers.read { db in try db.firstRow(StoreRecords.ticketColumns + " WHERE id = ?", [.text(id)], StoreRecords.ticket) }
    }

    public func revokeTicket(id: String) async throws -> Ticket? {
        try await writer.perform { db in
            try db.run(OutboxStatements.supersedeMail(ticketId: id))
            return try db.firstRow(
                "UPDATE tickets SET status = 'revoked', change_seq = \(Self.nextChange) WHERE id = ? RETURNING " + Self.ticketReturning,
                [.text(id)],
                StoreRecords.ticket
            )
        }
    }

    public func replaceTicketToken(id: String, tokenHash: [UInt8], at: Date, mail: NewMail?) async throws -> Ticket? {
        try await writer.perform { db in
            try db.run(StoreStatements.retireToken(ticketId: id, at: at))
            try db.run(OutboxStatements.supersedeMail(ticketId: id))
            let ticket = try db.firstRow(
                "UPDATE tickets SET token_hash = ?, status = CASE status WHEN 'revoked' THEN 'unused' ELSE status END, change_seq = \(Self.nextChange) WHERE id = ? RETURNING "
                    + Self.ticketReturning,
                [.blob(tokenHash), .text(id)],
                StoreRecords.ticket
            )
            if ticket != nil, let mail { try db.run(OutboxStatements.enqueueMail(mail, at: at)) }
            return ticket
        }
    }

    /// The value of `change_seq` for a ticket row being changed: one more than its event's
    /// highest, which the gates' change feed reads in order (SQLite schema 4). Every statement
    /// that changes a ticket sets it.
    static let nextChange = "(SELECT coalesce(max(c.change_seq), 0) + 1 FROM tickets c WHERE c.event_id = tickets.event_id)"

    private static let ticketReturning = StoreRecords.ticketColumnList

    // MARK: Devices

    public func addDevice(_ device: NewDevice, at: Date) async throws -> Device {
        try await writer.perform { db in
            guard try db.firstRow("SELECT 1 FROM events WHERE id = ?", [.text(device.eventId)], { _ in true }) != nil else {
                throw StoreError.notFound("event \(device.eventId)")
            }
            try db.run(
                StoreStatements.addDevice(
                    id: device.id,
                    name: device.name,
                    gateId: device.gateId,
                    eventId: device.eventId,
                    tokenHash: device.tokenHash,
                    kind: device.kind,
                    at: at
                )
            )
            return device.registered(at: at)
        }
    }

    public func devices(eventId: String) async throws -> [DeviceActivity] {
        try await readers.read { db in try db.rows(StoreRecords.devicesWithActivity, [.text(eventId)], StoreRecords.deviceActivity) }
    }

    public func revokeDevice(id: String) async throws -> Device? {
        try await writer.perform { db in
            try db.firstRow(
                "UPDATE devices SET revoked = 1 WHERE id = ? RETURNING " + StoreRecords.deviceColumnList,
                [.text(id)],
                StoreRecords.device
            )
        }
    }

    // MARK: Pairing

    public func createPairing(_ pairing: NewPairing, at: Date) async throws {
        try await writer.perform { db in
            guard try db.firstRow("SELECT 1 FROM events WHERE id = ?", [.text(pairing.eventId)], { _ in true }) != nil else {
                throw StoreError.notFound("event \(pairing.eventId)")
            }
            try db.run(StoreStatements.createPairing(pairing, at: at))
        }
    }

    public func redeemPairing(codeHash: [UInt8], device: NewDeviceCredentials, at: Date) async throws -> PairingRedemption {
        try await writer.perform { db in
            // The conditional UPDATE decides: a code works once, and only before it expires.
            guard
                let pairing = try db.firstRow(
                    "UPDATE pairings SET used_at = ?, device_id = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING event_id, gate_id, name",
                    [.integer(at.millis), .text(device.id), .blob(codeHash), .integer(at.millis)],
                    { (event: $0.text(0), gate: $0.text(1), name: $0.text(2)) }
                )
            else {
                guard let row = try db.firstRow("SELECT used_at FROM pairings WHERE code_hash = ?", [.blob(codeHash)], { $0.optionalInt(0) }) else {
                    return .unknown
                }
                return row == nil ? .expired : .alreadyUsed
            }
            try db.run(
                StoreStatements.addDevice(
                    id: device.id,
                    name: pairing.name,
                    gateId: pairing.gate,
                    eventId: pairing.event,
                    tokenHash: device.tokenHash,
                    kind: device.kind,
                    at: at
                )
            )
            return .enrolled(
                Device(
                    id: device.id,
                    name: pairing.name,
                    gateId: pairing.gate,
                    eventId: pairing.event,
                    revoked: false,
                    createdAt: at.truncatedToMillis,
                    kind: device.kind
                )
            )
        }
    }

    public func pairingCreatedAt(codeHash: [UInt8]) async throws -> Date? {
        try await readers.read { db in
            try db.firstRow("SELECT created_at FROM pairings WHERE code_hash = ?", [.blob(codeHash)]) { $0.optionalInt(0) }.flatMap { $0 }.map(
                Date.init(millis:)
            )
        }
    }

    // MARK: Check-in log

    public func checkins(eventId: String, filter: CheckinFilter) async throws -> [CheckinLogEntry] {
        let query = StoreRecords.checkins(eventId: eventId, filter: filter)
        return try await readers.read { db in try db.rows(query.sql, query.parameters.map(SQLiteValue.init), StoreRecords.logEntry) }
    }

    public func checkinStream(eventId: String, after cursor: ChangeCursor?, limit: Int) async throws -> [StreamedCheckin] {
        let query = StoreRecords.checkinStream(eventId: eventId, after: cursor?.position ?? 0, limit: limit)
        return try await readers.read { db in try db.rows(query.sql, query.parameters.map(SQLiteValue.init), StoreRecords.streamedCheckin) }
    }

    public func peopleInside(eventId: String) async throws -> Int {
        try await readers.read { db in
            Int(try db.firstRow(ListStatements.peopleInside, [.text(eventId)], { $0.int(0) }) ?? 0)
        }
    }

    public func checkinCounts(eventId: String, minutesSince: Date) async throws -> CheckinCounts {
        try await readers.read { db in
            let gates = try db.rows(
                """
                SELECT gate_id, sum(result = 'valid' AND mode = 'commit'), sum(result NOT IN ('valid', 'exit')) FROM checkins
                WHERE event_id = ? GROUP BY gate_id ORDER BY gate_id
                """,
                [.text(eventId)]
            ) { CheckinCounts.Gate(gateId: $0.text(0), admitted: Int($0.int(1)), refused: Int($0.int(2))) }
            let minutes = try db.rows(
                """
                SELECT at / 60000, count(*) FROM checkins
                WHERE event_id = ? AND mode = 'commit' AND result = 'valid' AND at >= ? GROUP BY at / 60000 ORDER BY 1
                """,
                [.text(eventId), .integer(minutesSince.millis)]
            ) { CheckinCounts.Minute(start: Date(millis: $0.int(0) * 60000), admitted: Int($0.int(1))) }
            return CheckinCounts(gates: gates, minutes: minutes)
        }
    }

    // MARK: Check-in

    public func checkin(_ attempt: CheckinAttempt) async throws -> CheckinOutcome {
        try await writer.perform { db in try Self.decide(attempt, in: db) }
    }

    /// Runs inside the writer's transaction: authenticate, replay a retried scan, or decide with
    /// one conditional UPDATE and log the attempt.
    private static func decide(_ attempt: CheckinAttempt, in db: SQLiteConnection) throws -> CheckinOutcome {
        let device: DeviceOnDuty
        switch try Self.authenticate(tokenHash: attempt.deviceTokenHash, deviceId: attempt.deviceId, gateId: attempt.gateId, in: db) {
        case .failure(let refusal): return refusal.checkinOutcome
        case .success(let found): device = found
        }

        if attempt.mode == .commit, let scanId = attempt.scanId {
            if let earlier = try db.firstRow(
                "SELECT result, ticket_id, payload_hash FROM checkins WHERE device_id = ? AND scan_id = ?",
                [.text(device.id), .text(scanId)],
                { (result: $0.text(0), ticket: $0.optionalText(1), payload: $0.blob(2)) }
            ) {
                guard earlier.payload == attempt.payloadHash else { return .scanIdReused }
                let ticket: Ticket? = try earlier.ticket.flatMap { id in
                    try db.firstRow(StoreRecords.ticketColumns + " WHERE id = ?", [.text(id)], StoreRecords.ticket)
                }
                return .decided(
                    CheckinDecision(
                        result: CheckinResult(rawValue: earlier.result) ?? .invalid,
                        ticket: ticket?.summary,
                        firstUsedAt: ticket?.usedAt,
                        firstUsedGate: ticket?.usedGate,
                        replayed: true
                    )
                )
            }
        }

        let decided = try judge(attempt, deviceEvent: device.event, in: db)
        try db.run(StoreStatements.logCheckin(attempt, device: device, decision: decided.decision, undo: decided.undo))
        return .decided(decided.decision)
    }

    /// Inside the caller's transaction: the device on duty these credentials name.
    static func authenticate(
        tokenHash: [UInt8],
        deviceId: String,
        gateId: String,
        in db: SQLiteConnection
    ) throws -> Result<DeviceOnDuty, DeviceOnDuty.Refusal> {
        let found = try db.firstRow(DeviceOnDuty.query, [.blob(tokenHash)], DeviceOnDuty.found)
        return DeviceOnDuty.judge(found: found, deviceId: deviceId, gateId: gateId)
    }

    /// Decides with `GateDecision` on the ticket (and, at a list's gate, the list and the ticket's
    /// pass of it) as this write transaction reads them: SQLite writers take turns, so nothing
    /// changes them before the writes.
    private static func judge(_ attempt: CheckinAttempt, deviceEvent: String, in db: SQLiteConnection) throws -> StoredDecision {
        let ticket = try attempt.code.flatMap { code in
            try db.firstRow(StoreRecords.ticketColumns + " WHERE token_hash = ?", [.blob(code.tokenHash)], StoreRecords.ticket)
        }
        let onList = try gateList(event: deviceEvent, gate: attempt.gateId, ticket: ticket, in: db)
        let decided = StoredDecision(attempt, ticket: ticket, deviceEvent: deviceEvent, list: onList?.0, pass: onList?.1)
        if let pass = decided.pass {
            try db.run(ListStatements.storePass(pass, existed: onList?.1 != nil))
            if decided.insideChange != 0 { try db.run(ListStatements.countInside(listId: pass.listId, change: decided.insideChange)) }
        }
        if let write = decided.write {
            _ = try db.run(
                "UPDATE tickets SET status = ?, used_at = ?, used_gate = ?, used_device = ?, inside = ?, change_seq = \(nextChange) WHERE id = ?",
                [
                    .text(write.status.rawValue), write.usedAt.map { .integer($0.millis) } ?? .null, write.usedGate.map { .text($0) } ?? .null,
                    write.usedDevice.map { .text($0) } ?? .null, .integer(write.inside ? 1 : 0), .text(write.id),
                ]
            )
        }
        return decided
    }

}

extension SQLiteValue {
    init(_ parameter: StoreRecords.Parameter) {
        switch parameter {
        case .text(let text): self = .text(text)
        case .integer(let number): self = .integer(number)
        case .bytes(let bytes): self = .blob(bytes)
        case .null: self = .null
        }
    }
}

extension SQLiteConnection {
    /// Runs a statement SQLite and MySQL share.
    @discardableResult
    func run(_ statement: StoreStatement) throws -> Int { try run(statement.sql, statement.parameters.map(SQLiteValue.init)) }

    func rows<T>(_ statement: StoreStatement, _ transform: (SQLiteRow) throws -> T) throws -> [T] {
        try rows(statement.sql, statement.parameters.map(SQLiteValue.init), transform)
    }
}

/// SQLite's rows read like every store's.
extension SQLiteRow: StoreRow {
    public func bytes(_ column: Int32) -> [UInt8] { blob(column) }
}
