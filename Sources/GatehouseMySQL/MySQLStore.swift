import Foundation
import GatehouseCore
import GatehouseStorage
import Logging
import ServiceLifecycle

/// MySQL or MariaDB through MariaDB Connector/C. Like PostgreSQL, for venues that run several
/// service processes (or already run MySQL beside their web shop): the conditional UPDATE decides
/// each ticket, whichever process asks. Reads go to a pool of reader threads; writes to two writer
/// threads with group commit (`MySQLWorkers`), which take the waiting check-ins themselves
/// (`MySQLScanQueue`).
public final class MySQLStore: GatehouseStore {
    public var kindName: String { "mysql" }
    let readers: MySQLWorkers
    let writer: MySQLWorkers
    /// Check-ins that wait while a batch is at the database go to a writer together.
    let scans: MySQLScanQueue
    let target: MySQLTarget

    /// Writer threads, each with a connection and a batch in flight. MySQL runs a connection's
    /// statements one after another on one server thread: with one writer the check-ins waited
    /// for that thread, not for the disk or the CPU. Changes are numbered at each transaction's
    /// end (`MySQLSchema.numberChanges`), so two writers do not queue behind the counter.
    static let writers = 2

    /// How long the database may take before a request gets a 503 (`DatabaseLimits.standard`).
    let limits: DatabaseLimits

    /// Connects once (its error names the cause), checks the server, migrates under a lock, and
    /// returns the store, whose threads then run as `services`.
    public static func open(url: String, poolSize: Int = 8, limits: DatabaseLimits = .standard, logger: Logger) async throws -> MySQLStore {
        let target = try MySQLTarget(url: url)
        guard (1...200).contains(poolSize) else { throw InvalidInputError("pool size must be between 1 and 200, not \(poolSize)") }
        // The connector blocks (up to its connect timeout, and 30 s for the migration lock): on a
        // thread of its own, not one of Swift's cooperative ones.
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<MySQLStore, any Error>) in
            Thread {
                continuation.resume(with: Result { try connectAndMigrate(target, poolSize: poolSize, limits: limits, logger: logger) })
            }.start()
        }
    }

    private static func connectAndMigrate(_ target: MySQLTarget, poolSize: Int, limits: DatabaseLimits, logger: Logger) throws -> MySQLStore {
        let connection: MySQLConnection
        do {
            connection = try MySQLConnection(target)
        } catch {
            throw StoreError.unavailable(MySQLDiagnosis.describe(error, target: target))
        }
        do {
            try MySQLDiagnosis.checkServer(connection, logger: logger)
            try MySQLSchema.migrate(connection)
        } catch let error as MySQLError {
            throw StoreError.unavailable("migrating the schema failed: \(error.message) (MySQL error \(error.number))")
        }
        logger.info(
            "MySQL store ready",
            metadata: [
                "db.place": "\(target.place)", "db.name": "\(target.database)", "db.server": "\(connection.serverVersion)",
                "db.tls": "\(connection.tlsCipher ?? "none")", "schema.version": "\(MySQLSchema.currentVersion)",
            ]
        )
        return MySQLStore(target: target, poolSize: poolSize, limits: limits)
    }

    private init(target: MySQLTarget, poolSize: Int, limits: DatabaseLimits) {
        self.target = target
        self.limits = limits
        readers = MySQLWorkers(target: target, threads: poolSize, batching: false, name: "gh-mysql-read")
        let writer = MySQLWorkers(target: target, threads: Self.writers, batching: true, name: "gh-mysql-write")
        self.writer = writer
        scans = MySQLScanQueue(writer: writer, limit: limits.operation)
        writer.take(from: scans)
    }

    /// At shutdown the writer answers the scans that wait before it stops.
    public var services: [any Service] { [readers, writer] }

    func read<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        try await readers.perform(limit: limits.operation, body)
    }

    /// Runs `body` on a writer, within `limit` (nil: `limits.operation`).
    func write<T: Sendable>(
        limit: Duration? = nil,
        _ body: @escaping @Sendable (MySQLConnection) throws -> T
    ) async throws -> T {
        try await writer.perform(limit: limit ?? limits.operation, body)
    }

    /// A read; and while writes fail for the database's sake, a write too, so `/healthz` fails
    /// exactly while check-ins cannot be stored.
    public func healthCheck() async throws {
        _ = try await read { db in try db.firstRow("SELECT 1", [], { $0.int(0) }) }
        if writer.isFailing {
            _ = try await write { db in try db.firstRow("SELECT seq FROM gatehouse_changes WHERE id = 1", [], { $0.int(0) }) }
        }
    }

    static func exists(event id: String, in db: MySQLConnection) throws -> Bool {
        try db.firstRow("SELECT 1 FROM events WHERE id = ?", [.text(id)], { $0.int(0) }) != nil
    }

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
        try await write { db in
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
        try await read { db in try db.rows(StoreRecords.eventColumns + " ORDER BY e.created_at DESC, e.id", [], StoreRecords.event) }
    }

    public func event(id: String) async throws -> Event? {
        try await read { db in try db.firstRow(StoreRecords.eventColumns + " WHERE e.id = ?", [.text(id)], StoreRecords.event) }
    }

    public func updateEvent(id: String, name: String, startsAt: Date?, endsAt: Date?, place: String?) async throws -> Event? {
        let found = try await write { db in
            // Found rows, not changed rows (CLIENT_FOUND_ROWS): an edit that changes nothing still finds its event.
            try db.run(
                "UPDATE events SET name = ?, starts_at = ?, ends_at = ?, place = ? WHERE id = ?",
                [.text(name), .optional(startsAt?.millis), .optional(endsAt?.millis), .optional(place), .text(id)]
            ) == 1
        }
        guard found else { return nil }
        return try await event(id: id)
    }

    // MARK: Tickets

    public func tickets(eventId: String, query: TicketQuery) async throws -> [Ticket] {
        try await read { db in
            // The name and e-mail columns compare without regard to case; the pattern's wildcards
            // are escaped with a backslash (the SQL literal '\\\\' is one backslash).
            try db.rows(
                StoreRecords.ticketColumns + """
                     WHERE event_id = ? AND (? IS NULL OR number = ? OR holder_name LIKE ? ESCAPE '\\\\' OR email LIKE ? ESCAPE '\\\\')
                    ORDER BY number LIMIT ? OFFSET ?
                    """,
                [
                    .text(eventId), .optional(query.likePattern), .optional(query.number.map(Int64.init)), .optional(query.likePattern),
                    .optional(query.likePattern), .integer(Int64(query.limit)), .integer(Int64(query.offset)),
                ],
                StoreRecords.ticket
            )
        }
    }

    public func ticketCount(eventId: String, query: TicketQuery) async throws -> Int {
        try await read { db in
            Int(
                try db.firstRow(
                    """
                    SELECT count(*) FROM tickets
                    WHERE event_id = ? AND (? IS NULL OR number = ? OR holder_name LIKE ? ESCAPE '\\\\' OR email LIKE ? ESCAPE '\\\\')
                    """,
                    [
                        .text(eventId), .optional(query.likePattern), .optional(query.number.map(Int64.init)), .optional(query.likePattern),
                        .optional(query.likePattern),
                    ],
                    { $0.int(0) }
                ) ?? 0
            )
        }
    }

    public func issueTickets(eventId: String, tickets: [NewTicket], at: Date) async throws -> [Ticket] {
        try await write(limit: limits.issuance) { db in try Self.insertTickets(tickets, eventId: eventId, at: at, in: db) }
    }

    /// Inside the caller's transaction: numbers the tickets and stores them.
    static func insertTickets(_ tickets: [NewTicket], eventId: String, at: Date, in db: MySQLConnection) throws -> [Ticket] {
        // Reserve a block of numbers; the UPDATE also locks the event's row, so two batches for
        // one event never get the same numbers.
        guard
            try db.run("UPDATE events SET next_number = next_number + ? WHERE id = ?", [.integer(Int64(tickets.count)), .text(eventId)]) == 1,
            let next = try db.firstRow("SELECT next_number FROM events WHERE id = ?", [.text(eventId)], { $0.int(0) })
        else { throw StoreError.notFound("event \(eventId)") }
        let first = next - Int64(tickets.count)
        // Many rows per INSERT: one round trip per row made issuing 10,000 tickets take 3 s.
        var created: [Ticket] = []
        created.reserveCapacity(tickets.count)
        for chunkStart in stride(from: 0, to: tickets.count, by: Self.ticketsPerInsert) {
            let chunk = tickets[chunkStart..<min(tickets.count, chunkStart + Self.ticketsPerInsert)]
            var values: [MySQLValue] = []
            values.reserveCapacity(chunk.count * 11)
            for (offset, new) in zip(chunkStart..., chunk) {
                let number = first + Int64(offset)
                values += [
                    .text(new.id), .text(eventId), .integer(number), .optional(new.userId), .optional(new.holderName),
                    .optional(new.email), .optional(new.ticketType), .optional(new.expiresAt?.millis),
                    .bytes(new.tokenHash), .integer(at.millis), .integer(MySQLConnection.unnumbered),
                ]
                created.append(new.issued(eventId: eventId, number: Int(number), at: at))
            }
            try db.run(
                """
                INSERT INTO tickets (id, event_id, number, user_id, holder_name, email, ticket_type, expires_at,
                                     token_hash, created_at, change_seq, status)
                VALUES
                """ + Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'unused')", count: chunk.count).joined(separator: ", "),
                values
            )
        }
        db.issued(eventId: eventId, first: first, count: tickets.count)
        return created
    }

    /// Rows per INSERT when issuing (11 parameters each, well under MySQL's 65,535).
    static let ticketsPerInsert = 500

    public func ticket(id: String) async throws -> Ticket? {
        try await read { db in try db.firstRow(StoreRecords.ticketColumns + " WHERE id = ?", [.text(id)], StoreRecords.ticket) }
    }

    public func revokeTicket(id: String) async throws -> Ticket? {
        try await write { db in
            try db.run(OutboxStatements.supersedeMail(ticketId: id))
            guard
                try db.run("UPDATE tickets SET status = 'revoked', change_seq = ? WHERE id = ?", [.integer(MySQLConnection.unnumbered), .text(id)])
                    == 1
            else { return nil }
            db.changed(ticket: id)
            return try db.firstRow(StoreRecords.ticketColumns + " WHERE id = ?", [.text(id)], StoreRecords.ticket)
        }
    }

    public func replaceTicketToken(id: String, tokenHash: [UInt8], at: Date, mail: NewMail?) async throws -> Ticket? {
        try await write { db in
            try db.run(StoreStatements.retireToken(ticketId: id, at: at))
            try db.run(OutboxStatements.supersedeMail(ticketId: id))
            guard
                try db.run(
                    "UPDATE tickets SET token_hash = ?, status = CASE status WHEN 'revoked' THEN 'unused' ELSE status END, change_seq = ? WHERE id = ?",
                    [.bytes(tokenHash), .integer(MySQLConnection.unnumbered), .text(id)]
                ) == 1
            else { return nil }
            db.changed(ticket: id)
            if let mail { try db.run(OutboxStatements.enqueueMail(mail, at: at)) }
            return try db.firstRow(StoreRecords.ticketColumns + " WHERE id = ?", [.text(id)], StoreRecords.ticket)
        }
    }

    // MARK: Devices

    public func addDevice(_ device: NewDevice, at: Date) async throws -> Device {
        try await write { db in
            guard try Self.exists(event: device.eventId, in: db) else { throw StoreError.notFound("event \(device.eventId)") }
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
        try await read { db in try db.rows(StoreRecords.devicesWithActivity, [.text(eventId)], StoreRecords.deviceActivity) }
    }

    public func revokeDevice(id: String) async throws -> Device? {
        try await write { db in
            guard try db.run("UPDATE devices SET revoked = 1 WHERE id = ?", [.text(id)]) == 1 else { return nil }
            return try db.firstRow(StoreRecords.deviceColumns + " WHERE id = ?", [.text(id)], StoreRecords.device)
        }
    }

    // MARK: Pairing

    public func createPairing(_ pairing: NewPairing, at: Date) async throws {
        try await write { db in
            guard try Self.exists(event: pairing.eventId, in: db) else { throw StoreError.notFound("event \(pairing.eventId)") }
            try db.run(StoreStatements.createPairing(pairing, at: at))
        }
    }

    public func redeemPairing(codeHash: [UInt8], device: NewDeviceCredentials, at: Date) async throws -> PairingRedemption {
        try await write { db in
            // The conditional UPDATE decides: a code works once, and only before it expires.
            guard
                try db.run(
                    "UPDATE pairings SET used_at = ?, device_id = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
                    [.integer(at.millis), .text(device.id), .bytes(codeHash), .integer(at.millis)]
                ) == 1,
                let pairing = try db.firstRow(
                    "SELECT event_id, gate_id, name FROM pairings WHERE code_hash = ?",
                    [.bytes(codeHash)],
                    { (event: $0.text(0), gate: $0.text(1), name: $0.text(2)) }
                )
            else {
                guard let row = try db.firstRow("SELECT used_at FROM pairings WHERE code_hash = ?", [.bytes(codeHash)], { $0.optionalInt(0) }) else {
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
        try await read { db in
            try db.firstRow("SELECT created_at FROM pairings WHERE code_hash = ?", [.bytes(codeHash)]) { $0.optionalInt(0) }.flatMap { $0 }.map(
                Date.init(millis:)
            )
        }
    }

    // MARK: Check-in log

    public func checkins(eventId: String, filter: CheckinFilter) async throws -> [CheckinLogEntry] {
        let query = StoreRecords.checkins(eventId: eventId, filter: filter)
        return try await read { db in try db.rows(query.sql, query.parameters.map(MySQLValue.init), StoreRecords.logEntry) }
    }

    public func checkinStream(eventId: String, after cursor: ChangeCursor?, limit: Int) async throws -> [StreamedCheckin] {
        let query = StoreRecords.checkinStream(eventId: eventId, after: cursor?.position ?? 0, limit: limit)
        return try await read { db in try db.rows(query.sql, query.parameters.map(MySQLValue.init), StoreRecords.streamedCheckin) }
    }

    public func peopleInside(eventId: String) async throws -> Int {
        try await read { db in
            Int(try db.firstRow(ListStatements.peopleInside, [.text(eventId)], { $0.int(0) }) ?? 0)
        }
    }

    public func checkinCounts(eventId: String, minutesSince: Date) async throws -> CheckinCounts {
        try await read { db in
            let gates = try db.rows(
                """
                SELECT gate_id, sum(result = 'valid' AND mode = 'commit'), sum(result NOT IN ('valid', 'exit')) FROM checkins
                WHERE event_id = ? GROUP BY gate_id ORDER BY gate_id
                """,
                [.text(eventId)]
            ) { CheckinCounts.Gate(gateId: $0.text(0), admitted: Int($0.int(1)), refused: Int($0.int(2))) }
            let minutes = try db.rows(
                """
                SELECT at DIV 60000 AS minute, count(*) FROM checkins
                WHERE event_id = ? AND mode = 'commit' AND result = 'valid' AND at >= ? GROUP BY minute ORDER BY minute
                """,
                [.text(eventId), .integer(minutesSince.millis)]
            ) { CheckinCounts.Minute(start: Date(millis: $0.int(0) * 60000), admitted: Int($0.int(1))) }
            return CheckinCounts(gates: gates, minutes: minutes)
        }
    }
}
