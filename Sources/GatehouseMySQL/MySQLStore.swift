import Foundation
import GatehouseCore
import GatehouseStore
import Logging
import ServiceLifecycle

/// MySQL or MariaDB through MariaDB Connector/C. Like PostgreSQL, for venues that run several
/// service processes (or already run MySQL beside their web shop): the conditional UPDATE decides
/// each ticket, whichever process asks. Reads go to a pool of reader threads; writes to one writer
/// thread with group commit (`MySQLWorkers`).
public final class MySQLStore: GatehouseStore {
    let readers: MySQLWorkers
    let writer: MySQLWorkers
    let target: MySQLTarget

    /// How long any database operation may take before the request gets a 503.
    static let operationLimit: Duration = .seconds(3)

    /// Connects once (its error names the cause), checks the server, migrates under a lock, and
    /// returns the store, whose threads then run as `services`.
    public static func open(url: String, poolSize: Int = 8, logger: Logger) async throws -> MySQLStore {
        let target = try MySQLTarget(url: url)
        guard (1...200).contains(poolSize) else { throw InvalidInputError("pool size must be between 1 and 200, not \(poolSize)") }
        // The connector blocks (up to its connect timeout, and 30 s for the migration lock): on a
        // thread of its own, not one of Swift's cooperative ones.
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<MySQLStore, any Error>) in
            Thread {
                continuation.resume(with: Result { try connectAndMigrate(target, poolSize: poolSize, logger: logger) })
            }.start()
        }
    }

    private static func connectAndMigrate(_ target: MySQLTarget, poolSize: Int, logger: Logger) throws -> MySQLStore {
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
        return MySQLStore(target: target, poolSize: poolSize)
    }

    private init(target: MySQLTarget, poolSize: Int) {
        self.target = target
        readers = MySQLWorkers(target: target, threads: poolSize, batching: false, name: "gh-mysql-read")
        writer = MySQLWorkers(target: target, threads: 1, batching: true, name: "gh-mysql-write")
    }

    public var services: [any Service] { [readers, writer] }

    func read<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        try await readers.perform(limit: Self.operationLimit, body)
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (MySQLConnection) throws -> T) async throws -> T {
        try await writer.perform(limit: Self.operationLimit, body)
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

    public func createEvent(id: String, name: String, startsAt: Date?, endsAt: Date?, at: Date) async throws -> Event {
        try await write { db in
            try db.run(
                "INSERT INTO events (id, name, starts_at, ends_at, created_at) VALUES (?, ?, ?, ?, ?)",
                [.text(id), .text(name), .optional(startsAt?.millis), .optional(endsAt?.millis), .integer(at.millis)]
            )
            return Event(id: id, name: name, startsAt: startsAt, endsAt: endsAt, createdAt: at.truncatedToMillis, issued: 0, used: 0)
        }
    }

    private static let eventColumns = """
        SELECT e.id, e.name, e.starts_at, e.ends_at, e.created_at,
               (SELECT count(*) FROM tickets t WHERE t.event_id = e.id),
               (SELECT count(*) FROM tickets t WHERE t.event_id = e.id AND t.status = 'used'),
               (SELECT count(*) FROM checkins c WHERE c.event_id = e.id AND c.conflict IS NOT NULL),
               EXISTS (SELECT 1 FROM signing_keys k WHERE k.event_id = e.id)
        FROM events e
        """

    private static func event(_ row: MySQLRow) -> Event {
        Event(
            id: row.text(0),
            name: row.text(1),
            startsAt: row.optionalInt(2).map(Date.init(millis:)),
            endsAt: row.optionalInt(3).map(Date.init(millis:)),
            createdAt: Date(millis: row.int(4)),
            issued: Int(row.int(5)),
            used: Int(row.int(6)),
            conflicts: Int(row.int(7)),
            signedCodes: row.int(8) != 0
        )
    }

    public func events() async throws -> [Event] {
        try await read { db in try db.rows(Self.eventColumns + " ORDER BY e.created_at DESC, e.id", [], Self.event) }
    }

    public func event(id: String) async throws -> Event? {
        try await read { db in try db.firstRow(Self.eventColumns + " WHERE e.id = ?", [.text(id)], Self.event) }
    }

    public func updateEvent(id: String, name: String, startsAt: Date?, endsAt: Date?) async throws -> Event? {
        let found = try await write { db in
            // Found rows, not changed rows (CLIENT_FOUND_ROWS): an edit that changes nothing still finds its event.
            try db.run(
                "UPDATE events SET name = ?, starts_at = ?, ends_at = ? WHERE id = ?",
                [.text(name), .optional(startsAt?.millis), .optional(endsAt?.millis), .text(id)]
            ) == 1
        }
        guard found else { return nil }
        return try await event(id: id)
    }

    // MARK: Tickets

    static let ticketColumns = """
        SELECT id, event_id, number, user_id, holder_name, email, ticket_type, status, expires_at,
               created_at, used_at, used_gate, used_device
        FROM tickets
        """

    /// A row of `ticketColumns`, from column `offset` on.
    static func ticket(_ row: MySQLRow, from offset: Int32 = 0) -> Ticket {
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
            usedDevice: row.optionalText(offset + 12)
        )
    }

    public func tickets(eventId: String, query: TicketQuery) async throws -> [Ticket] {
        try await read { db in
            // The name and e-mail columns compare without regard to case; the pattern's wildcards
            // are escaped with a backslash (the SQL literal '\\\\' is one backslash).
            try db.rows(
                Self.ticketColumns + """
                     WHERE event_id = ? AND (? IS NULL OR number = ? OR holder_name LIKE ? ESCAPE '\\\\' OR email LIKE ? ESCAPE '\\\\')
                    ORDER BY number LIMIT ? OFFSET ?
                    """,
                [
                    .text(eventId), .optional(query.likePattern), .optional(query.number.map(Int64.init)), .optional(query.likePattern),
                    .optional(query.likePattern), .integer(Int64(query.limit)), .integer(Int64(query.offset)),
                ],
                { Self.ticket($0) }
            )
        }
    }

    public func issueTickets(eventId: String, tickets: [NewTicket], at: Date) async throws -> [Ticket] {
        try await write { db in
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
                        .bytes(new.tokenHash), .integer(at.millis), .integer(db.takeChange()),
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
            return created
        }
    }

    /// Rows per INSERT when issuing (11 parameters each, well under MySQL's 65,535).
    static let ticketsPerInsert = 500

    public func ticket(id: String) async throws -> Ticket? {
        try await read { db in try db.firstRow(Self.ticketColumns + " WHERE id = ?", [.text(id)], { Self.ticket($0) }) }
    }

    public func revokeTicket(id: String) async throws -> Ticket? {
        try await write { db in
            guard try db.run("UPDATE tickets SET status = 'revoked', change_seq = ? WHERE id = ?", [.integer(db.takeChange()), .text(id)]) == 1 else {
                return nil
            }
            return try db.firstRow(Self.ticketColumns + " WHERE id = ?", [.text(id)], { Self.ticket($0) })
        }
    }

    public func replaceTicketToken(id: String, tokenHash: [UInt8]) async throws -> Ticket? {
        try await write { db in
            guard
                try db.run(
                    "UPDATE tickets SET token_hash = ?, status = CASE status WHEN 'revoked' THEN 'unused' ELSE status END, change_seq = ? WHERE id = ?",
                    [.bytes(tokenHash), .integer(db.takeChange()), .text(id)]
                ) == 1
            else { return nil }
            return try db.firstRow(Self.ticketColumns + " WHERE id = ?", [.text(id)], { Self.ticket($0) })
        }
    }

    // MARK: Devices

    static let deviceColumns = "SELECT id, name, gate_id, event_id, revoked, created_at FROM devices"

    static func device(_ row: MySQLRow) -> Device {
        Device(
            id: row.text(0),
            name: row.text(1),
            gateId: row.text(2),
            eventId: row.text(3),
            revoked: row.int(4) != 0,
            createdAt: Date(millis: row.int(5))
        )
    }

    public func addDevice(_ device: NewDevice, at: Date) async throws -> Device {
        try await write { db in
            guard try Self.exists(event: device.eventId, in: db) else { throw StoreError.notFound("event \(device.eventId)") }
            try db.run(
                "INSERT INTO devices (id, name, gate_id, event_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(device.id), .text(device.name), .text(device.gateId), .text(device.eventId), .bytes(device.tokenHash), .integer(at.millis)]
            )
            return device.registered(at: at)
        }
    }

    public func devices(eventId: String) async throws -> [DeviceActivity] {
        try await read { db in
            try db.rows(
                """
                SELECT d.id, d.name, d.gate_id, d.event_id, d.revoked, d.created_at, last.at, last.result
                FROM devices d LEFT JOIN checkins last
                  ON last.id = (SELECT max(c.id) FROM checkins c WHERE c.device_id = d.id)
                WHERE d.event_id = ? ORDER BY d.gate_id, d.name, d.id
                """,
                [.text(eventId)]
            ) { row in
                DeviceActivity(
                    device: Self.device(row),
                    lastSeenAt: row.optionalInt(6).map(Date.init(millis:)),
                    lastResult: row.optionalText(7).flatMap(CheckinResult.init(rawValue:))
                )
            }
        }
    }

    public func revokeDevice(id: String) async throws -> Device? {
        try await write { db in
            guard try db.run("UPDATE devices SET revoked = 1 WHERE id = ?", [.text(id)]) == 1 else { return nil }
            return try db.firstRow(Self.deviceColumns + " WHERE id = ?", [.text(id)], Self.device)
        }
    }

    // MARK: Pairing

    public func createPairing(_ pairing: NewPairing, at: Date) async throws {
        try await write { db in
            guard try Self.exists(event: pairing.eventId, in: db) else { throw StoreError.notFound("event \(pairing.eventId)") }
            try db.run(
                "INSERT INTO pairings (code_hash, event_id, gate_id, name, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .bytes(pairing.codeHash), .text(pairing.eventId), .text(pairing.gateId), .text(pairing.name),
                    .integer(pairing.expiresAt.millis), .integer(at.millis),
                ]
            )
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
                "INSERT INTO devices (id, name, gate_id, event_id, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(device.id), .text(pairing.name), .text(pairing.gate), .text(pairing.event), .bytes(device.tokenHash), .integer(at.millis)]
            )
            return .enrolled(
                Device(
                    id: device.id,
                    name: pairing.name,
                    gateId: pairing.gate,
                    eventId: pairing.event,
                    revoked: false,
                    createdAt: at.truncatedToMillis
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
        try await read { db in
            var sql = """
                SELECT \(Self.logColumns)
                FROM checkins c LEFT JOIN tickets t ON t.id = c.ticket_id
                WHERE c.event_id = ?
                """
            var parameters: [MySQLValue] = [.text(eventId)]
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
            return try db.rows(sql, parameters) { Self.logEntry($0) }
        }
    }

    public func checkinCounts(eventId: String, minutesSince: Date) async throws -> CheckinCounts {
        try await read { db in
            let gates = try db.rows(
                """
                SELECT gate_id, sum(result = 'valid'), sum(result <> 'valid') FROM checkins
                WHERE event_id = ? AND mode = 'commit' GROUP BY gate_id ORDER BY gate_id
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

    static let logColumns =
        "c.id, c.at, c.event_id, c.ticket_id, t.number, c.gate_id, c.device_id, c.result, c.mode, c.scan_id, c.offline, c.conflict"

    /// A row of `logColumns`, from column `offset` on.
    static func logEntry(_ row: MySQLRow, from offset: Int32 = 0) -> CheckinLogEntry {
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
}
