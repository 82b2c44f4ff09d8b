import Foundation
import GatehouseCore
import GatehouseStorage
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// The store for real deployments: PostgreSQL through PostgresNIO's connection pool. Service
/// processes keep no state, so a venue runs several of them in front of one database; the
/// database's conditional UPDATE decides each ticket, whichever process asks.
public final class PostgresStore: GatehouseStore {
    public var kindName: String { "postgresql" }
    let client: PostgresClient
    let logger: Logger
    private let batcher: CheckinBatcher
    private let target: PostgresTarget
    /// Registrations holding a connection at once: half the pool, so a rush for one event, whose
    /// registrations take turns on the event's row, leaves the other half to everything else.
    let registrationTurns: Turns

    /// Connects once, migrates over that connection, and returns the store, whose pool and
    /// batcher then run as `services`. Throws `PostgresFailure` naming the cause when the
    /// database answers but refuses (or does not answer), and a clear error for a schema newer
    /// than this binary knows.
    public static func open(url: String, poolSize: Int = 8, limits: DatabaseLimits = .standard, logger: Logger) async throws -> PostgresStore {
        let target = try PostgresTarget(url: url)
        let configuration = try target.clientConfiguration(poolSize: poolSize)
        // A direct connection first: its typed error names the cause, where the pool would only
        // time out while it retries in the background. The migrations run over it, so nothing
        // waits for the pool before the process's service group runs it.
        let connection = try await PostgresDiagnosis.connect(target, logger: logger).get()
        do {
            try await migrate(connection, logger: logger)
        } catch {
            try? await connection.close()
            throw Self.mappedMigration(error)
        }
        try? await connection.close()
        // The pool's own retry chatter (one info line per attempt) stays out of the log; outages
        // are logged once per cause and outage by the service (OutageLog).
        var poolLogger = logger
        poolLogger.logLevel = max(logger.logLevel, .warning)
        return PostgresStore(
            client: PostgresClient(configuration: configuration, backgroundLogger: poolLogger),
            logger: logger,
            target: target,
            limits: limits,
            registrationTurns: Turns(limit: max(1, poolSize / 2))
        )
    }

    private init(client: PostgresClient, logger: Logger, target: PostgresTarget, limits: DatabaseLimits, registrationTurns: Turns) {
        self.client = client
        self.logger = logger
        self.target = target
        self.limits = limits
        self.registrationTurns = registrationTurns
        batcher = CheckinBatcher(maximumBatch: 256) { attempts in
            await PostgresCheckinRounds.decide(attempts, client: client, limit: limits.operation, logger: logger)
        }
    }

    /// The pool first, the batcher after it: at shutdown the batcher finishes before the pool closes.
    public var services: [any Service] { [client, batcher] }

    // MARK: Errors

    /// How long the database may take before a request gets a 503 (`DatabaseLimits.standard`).
    /// While PostgreSQL is away the pool would otherwise wait for a connection indefinitely.
    let limits: DatabaseLimits

    /// Runs `body` within `limit` (nil: `limits.operation`), turning a lost, refused or silent database into
    /// `StoreError.unavailable` (HTTP 503: the request was fine, the database is away). A check-in
    /// cut off this way may still have committed; the kiosk's retry with the same scanId then
    /// gets that first answer.
    func guarded<T: Sendable>(limit: Duration? = nil, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await Self.within(limit ?? limits.operation, body)
        } catch let error as StoreError {
            throw error
        } catch let error as PostgresTransactionError {
            // Our own error from inside a transaction (e.g. notFound) says more than the wrapper.
            if let inner = error.closureError as? StoreError { throw inner }
            if let inner = error.closureError as? PSQLError { throw Self.mapped(inner) }
            throw StoreError.unavailable("PostgreSQL transaction failed")
        } catch let error as PSQLError {
            throw Self.mapped(error)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw StoreError.unavailable("PostgreSQL: \(error)")
        }
    }

    /// `body`'s result, or `StoreError.unavailable` once `limit` has passed, whether or not the
    /// body heeds its cancellation (see `Deadline`); `late` gets a value that came after that.
    static func within<T: Sendable>(
        _ limit: Duration,
        _ body: @escaping @Sendable () async throws -> T,
        late: @escaping @Sendable (T) async -> Void = { _ in }
    ) async throws -> T {
        try await Deadline.run(within: limit, body, late: late)
    }

    static func mapped(_ error: PSQLError) -> StoreError {
        if let state = error.serverInfo?[.sqlState] {
            if state == "23505" { return StoreError.invalid("duplicate id; retry") }
            return StoreError.unavailable("PostgreSQL error \(state): \(error.serverInfo?[.message] ?? "")")
        }
        return StoreError.unavailable("PostgreSQL connection: \(error.code)")
    }

    // MARK: Migrations

    /// Brings the schema to `PostgresSchema.currentVersion`, one process at a time across
    /// processes (an advisory lock held for the migration's transaction).
    ///
    /// Only the process that migrates takes the lock; one that finds it taken waits in the
    /// lock's shared mode, so all that wait go on together when the migration commits, and a
    /// database already at this version needs no lock at all. Processes starting together (a
    /// fleet's first start or upgrade, a test run's stores) would otherwise take the lock in
    /// turn, each only to find nothing left to do: under load, one at a time for over 30 s.
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await within(.seconds(30)) {
            while true {
                try Task.checkCancellation()
                if try await recordedVersion(connection, logger: logger) == PostgresSchema.currentVersion {
                    try await fillSearchKeys(connection, logger: logger)
                    return
                }
                if try await migrateUnlessTaken(connection, logger: logger) { return }
                _ = try await connection.simpleQuery("SELECT pg_advisory_lock_shared(\(PostgresSchema.migrationLock))").get()
                _ = try await connection.simpleQuery("SELECT pg_advisory_unlock_shared(\(PostgresSchema.migrationLock))").get()
            }
        }
    }

    /// Migrates in one transaction under the lock, or returns false at once when another
    /// process holds it.
    private static func migrateUnlessTaken(_ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        _ = try await connection.simpleQuery("BEGIN").get()
        do {
            let taken = try await connection.simpleQuery("SELECT pg_try_advisory_xact_lock(\(PostgresSchema.migrationLock))").get()
            guard try taken.first?.decode(Bool.self) == true else {
                _ = try await connection.simpleQuery("ROLLBACK").get()
                return false
            }
            _ = try await connection.simpleQuery("CREATE TABLE IF NOT EXISTS gatehouse_schema (version INT NOT NULL)").get()
            let rows = try await connection.simpleQuery("SELECT coalesce(max(version), 0) FROM gatehouse_schema").get()
            let found = try rows.first?.decode(Int.self) ?? 0
            guard found <= PostgresSchema.currentVersion else {
                throw StoreError.unavailable(
                    "the database has schema version \(found), newer than this gatehouse knows (\(PostgresSchema.currentVersion)); run a newer gatehouse"
                )
            }
            for version in found..<PostgresSchema.currentVersion {
                for statement in PostgresSchema.migrations[version] {
                    _ = try await connection.simpleQuery(statement).get()
                }
                _ = try await connection.simpleQuery("INSERT INTO gatehouse_schema (version) VALUES (\(version + 1))").get()
                logger.notice("Database migrated", metadata: ["schema.version": "\(version + 1)"])
            }
            try await fillSearchKeys(connection, logger: logger)
            _ = try await connection.simpleQuery("COMMIT").get()
            return true
        } catch {
            _ = try? await connection.simpleQuery("ROLLBACK").get()
            throw error
        }
    }

    /// The schema version the database records, nil before a first migration made its table.
    /// Read without the lock: a version is recorded in the transaction that migrated to it.
    static func recordedVersion(_ connection: PostgresConnection, logger: Logger) async throws -> Int? {
        let table = try await connection.query("SELECT to_regclass('gatehouse_schema') IS NOT NULL", logger: logger).collect()
        guard try table.first?.decode(Bool.self) == true else { return nil }
        let rows = try await connection.query("SELECT coalesce(max(version), 0) FROM gatehouse_schema", logger: logger).collect()
        return try rows.first?.decode(Int.self)
    }

    /// Tickets without a search key (made before schema 9, or by a process older than it
    /// while a newer one migrated) get theirs, a thousand per statement.
    static func fillSearchKeys(_ connection: PostgresConnection, logger: Logger) async throws {
        while true {
            let rows = try await connection.query(
                "SELECT id, holder_name, email FROM tickets WHERE search_key IS NULL LIMIT 1000",
                logger: logger
            ).collect()
            if rows.isEmpty { return }
            var ids: [String] = []
            var keys: [String] = []
            for row in rows {
                let (id, name, email) = try row.decode((String, String?, String?).self)
                ids.append(id)
                keys.append(Ticket.searchKey(holderName: name, email: email))
            }
            try await connection.query(
                "UPDATE tickets t SET search_key = k.key FROM unnest(\(ids)::TEXT[], \(keys)::TEXT[]) AS k(id, key) WHERE t.id = k.id",
                logger: logger
            )
        }
    }

    /// A migration's failure as the store reports any other (a refused statement names its SQLSTATE).
    private static func mappedMigration(_ error: any Error) -> any Error {
        switch error {
        case let error as StoreError: return error
        case let error as PSQLError: return mapped(error)
        default: return StoreError.unavailable("PostgreSQL: \(error)")
        }
    }

    /// `SELECT 1` through the pool; when that fails, one direct connection names the cause
    /// (a wrong password after a rotation, a dropped database, a closed port).
    public func healthCheck() async throws {
        do {
            try await guarded { [client, logger] in _ = try await client.query("SELECT 1", logger: logger).collect() }
        } catch let error as StoreError {
            if let failure = await PostgresDiagnosis.probe(target, logger: logger) { throw StoreError.unavailable(failure.description) }
            throw error
        }
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
        try await guarded { [self] in
            try await client.query(
                """
                INSERT INTO events (id, name, starts_at, ends_at, created_at, place,
                                    reg_open, reg_capacity, reg_closes_at, reg_ticket_type, reg_one_per_email)
                VALUES (\(id), \(name), \(startsAt?.millis), \(endsAt?.millis), \(at.millis), \(place),
                        \(registration.open), \(registration.capacity.map(Int64.init)), \(registration.closesAt?.millis),
                        \(registration.ticketType), \(registration.onePerEmail))
                """,
                logger: logger
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

    /// The same query as the other stores'.
    static let eventColumns = StoreRecords.eventColumns

    static func event(_ row: PostgresRow) throws -> Event {
        let (
            id, name, startsAt, endsAt, createdAt, issued, used, conflicts, signed, place, open, capacity, closesAt, ticketType, onePerEmail,
            registered
        ) =
            try row.decode(
                (String, String, Int64?, Int64?, Int64, Int64, Int64, Int64, Bool, String?, Bool, Int64?, Int64?, String?, Bool, Int64).self
            )
        return Event(
            id: id,
            name: name,
            startsAt: startsAt.map(Date.init(millis:)),
            endsAt: endsAt.map(Date.init(millis:)),
            createdAt: Date(millis: createdAt),
            issued: Int(issued),
            used: Int(used),
            conflicts: Int(conflicts),
            signedCodes: signed,
            place: place,
            registration: EventRegistration(
                settings: RegistrationSettings(
                    open: open,
                    capacity: capacity.map { Int($0) },
                    closesAt: closesAt.map(Date.init(millis:)),
                    ticketType: ticketType,
                    onePerEmail: onePerEmail
                ),
                registered: Int(registered)
            )
        )
    }

    public func events() async throws -> [Event] {
        try await guarded { [self] in
            try await client.query(PostgresQuery(unsafeSQL: Self.eventColumns + " ORDER BY e.created_at DESC, e.id"), logger: logger).collect().map(
                Self.event
            )
        }
    }

    public func event(id: String) async throws -> Event? {
        try await guarded { [self] in
            var query = PostgresQuery(unsafeSQL: Self.eventColumns + " WHERE e.id = $1")
            query.binds.append(id)
            return try await client.query(query, logger: logger).collect().first.map(Self.event)
        }
    }

    public func updateEvent(id: String, name: String, startsAt: Date?, endsAt: Date?, place: String?) async throws -> Event? {
        let changed = try await guarded { [self] in
            try await client.query(
                "UPDATE events SET name = \(name), starts_at = \(startsAt?.millis), ends_at = \(endsAt?.millis), place = \(place) WHERE id = \(id) RETURNING id",
                logger: logger
            ).collect().count
        }
        return changed == 0 ? nil : try await event(id: id)
    }

    // MARK: Tickets

    public func tickets(eventId: String, query: TicketQuery) async throws -> [Ticket] {
        try await guarded { [self] in
            // The folded search key and a folded pattern: any case, beyond ASCII, whatever the
            // database's locale.
            let pattern = query.foldedPattern
            let number = query.number.map(Int64.init)
            return try await client.query(
                """
                SELECT \(unescaped: Self.ticketColumns)
                FROM tickets
                WHERE event_id = \(eventId)
                  AND (\(pattern)::TEXT IS NULL OR number = \(number) OR search_key LIKE \(pattern))
                ORDER BY number LIMIT \(Int64(query.limit)) OFFSET \(Int64(query.offset))
                """,
                logger: logger
            ).collect().map(Self.ticket)
        }
    }

    public func ticketCount(eventId: String, query: TicketQuery) async throws -> Int {
        try await guarded { [self] in
            let pattern = query.foldedPattern
            let number = query.number.map(Int64.init)
            let rows = try await client.query(
                """
                SELECT count(*) FROM tickets
                WHERE event_id = \(eventId) AND (\(pattern)::TEXT IS NULL OR number = \(number) OR search_key LIKE \(pattern))
                """,
                logger: logger
            ).collect()
            return Int(try rows.first?.decode(Int64.self) ?? 0)
        }
    }

    static let ticketColumns =
        "id, event_id, number, user_id, holder_name, email, ticket_type, status, expires_at, created_at, used_at, used_gate, used_device, inside"

    static func ticket(_ row: PostgresRow) throws -> Ticket {
        let columns = try row.decode(
            (String, String, Int64, String?, String?, String?, String?, String, Int64?, Int64, Int64?, String?, String?, Bool).self
        )
        return Ticket(
            id: columns.0,
            eventId: columns.1,
            number: Int(columns.2),
            userId: columns.3,
            holderName: columns.4,
            email: columns.5,
            ticketType: columns.6,
            status: TicketStatus(rawValue: columns.7) ?? .revoked,
            expiresAt: columns.8.map(Date.init(millis:)),
            createdAt: Date(millis: columns.9),
            usedAt: columns.10.map(Date.init(millis:)),
            usedGate: columns.11,
            usedDevice: columns.12,
            inside: columns.13
        )
    }

    public func issueTickets(eventId: String, tickets: [NewTicket], at: Date) async throws -> [Ticket] {
        try await guarded(limit: limits.issuance) { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await Self.insertTickets(tickets, eventId: eventId, at: at, on: connection, logger: logger)
            }
        }
    }

    /// Inside the caller's transaction: numbers the tickets and stores them.
    static func insertTickets(
        _ tickets: [NewTicket],
        eventId: String,
        at: Date,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> [Ticket]
    {
        let reserved = try await connection.query(
            "UPDATE events SET next_number = next_number + \(Int64(tickets.count)) WHERE id = \(eventId) RETURNING next_number - \(Int64(tickets.count))",
            logger: logger
        ).collect()
        guard let first = try reserved.first?.decode(Int64.self) else { throw StoreError.notFound("event \(eventId)") }
        // One INSERT for the whole batch: rows passed as JSON and expanded on the server.
        struct Row: Encodable {
            var i: String, n: Int64, u: String?, h: String?, e: String?, ty: String?, x: Int64?, th: String, sk: String
        }
        let rows = tickets.enumerated().map { offset, new in
            Row(
                i: new.id,
                n: first + Int64(offset),
                u: new.userId,
                h: new.holderName,
                e: new.email,
                ty: new.ticketType,
                x: new.expiresAt?.millis,
                th: Self.hex(new.tokenHash),
                sk: Ticket.searchKey(holderName: new.holderName, email: new.email)
            )
        }
        let json = String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
        try await connection.query(
            """
            INSERT INTO tickets (id, event_id, number, user_id, holder_name, email, ticket_type, status, expires_at, token_hash, created_at, search_key)
            SELECT v.i, \(eventId), v.n, v.u, v.h, v.e, v.ty, 'unused', v.x, decode(v.th, 'hex'), \(at.millis), v.sk
            FROM jsonb_to_recordset(\(json)::JSONB) AS v(i TEXT, n BIGINT, u TEXT, h TEXT, e TEXT, ty TEXT, x BIGINT, th TEXT, sk TEXT)
            """,
            logger: logger
        )
        return tickets.enumerated().map { offset, new in new.issued(eventId: eventId, number: Int(first) + offset, at: at) }
    }

    public func ticket(id: String) async throws -> Ticket? {
        try await single("SELECT \(Self.ticketColumns) FROM tickets WHERE id = $1", [id], Self.ticket)
    }

    public func revokeTicket(id: String) async throws -> Ticket? {
        try await single(
            """
            WITH superseded AS (
                UPDATE mail_outbox SET state = 'superseded', sealed_code = NULL, lease_until = NULL WHERE ticket_id = $1 AND state = 'pending'
            )
            UPDATE tickets SET status = 'revoked' WHERE id = $1 RETURNING \(Self.ticketColumns)
            """,
            [id],
            Self.ticket
        )
    }

    public func replaceTicketToken(id: String, tokenHash: [UInt8], at: Date, mail: NewMail?) async throws -> Ticket? {
        try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                // The old hash is kept as retired in the same commit as the new one.
                let ticket = try await connection.query(
                    """
                    WITH retired AS (
                        INSERT INTO retired_tokens (token_hash, ticket_id, retired_at) SELECT token_hash, id, \(at.millis) FROM tickets WHERE id = \(id)
                    ), superseded AS (
                        UPDATE mail_outbox SET state = 'superseded', sealed_code = NULL, lease_until = NULL WHERE ticket_id = \(id) AND state = 'pending'
                    )
                    UPDATE tickets SET token_hash = decode(\(Self.hex(tokenHash)), 'hex'), status = CASE status WHEN 'revoked' THEN 'unused' ELSE status END
                    WHERE id = \(id) RETURNING \(unescaped: Self.ticketColumns)
                    """,
                    logger: logger
                ).collect().first.map(Self.ticket)
                if ticket != nil, let mail { try await Self.enqueue(mail, at: at, on: connection, logger: logger) }
                return ticket
            }
        }
    }

    /// One row of a statement whose SQL is fixed text and whose values are bound.
    private func single<T: Sendable>(_ sql: String, _ values: [String], _ transform: @escaping @Sendable (PostgresRow) throws -> T) async throws -> T?
    {
        try await guarded { [self] in
            var query = PostgresQuery(unsafeSQL: sql)
            for value in values { query.binds.append(value) }
            return try await client.query(query, logger: logger).collect().first.map(transform)
        }
    }

    // MARK: Devices

    static let deviceColumns = "id, name, gate_id, event_id, revoked, created_at, kind"

    static func device(_ row: PostgresRow) throws -> Device {
        let (id, name, gate, event, revoked, createdAt, kind) = try row.decode((String, String, String, String, Bool, Int64, String).self)
        return Device(
            id: id,
            name: name,
            gateId: gate,
            eventId: event,
            revoked: revoked,
            createdAt: Date(millis: createdAt),
            kind: DeviceKind(rawValue: kind) ?? .kiosk
        )
    }

    public func addDevice(_ device: NewDevice, at: Date) async throws -> Device {
        try await guarded { [self] in
            let inserted = try await client.query(
                """
                INSERT INTO devices (id, name, gate_id, event_id, token_hash, created_at, kind)
                SELECT \(device.id), \(device.name), \(device.gateId), e.id, decode(\(Self.hex(device.tokenHash)), 'hex'), \(at.millis), \(device.kind.rawValue)
                FROM events e WHERE e.id = \(device.eventId)
                RETURNING id
                """,
                logger: logger
            ).collect()
            guard !inserted.isEmpty else { throw StoreError.notFound("event \(device.eventId)") }
            return device.registered(at: at)
        }
    }

    public func devices(eventId: String) async throws -> [DeviceActivity] {
        try await guarded { [self] in
            try await client.query(
                """
                SELECT d.id, d.name, d.gate_id, d.event_id, d.revoked, d.created_at, d.kind, last.at, last.result
                FROM devices d LEFT JOIN LATERAL (
                  SELECT c.at, c.result FROM checkins c WHERE c.device_id = d.id ORDER BY c.id DESC LIMIT 1
                ) last ON true
                WHERE d.event_id = \(eventId) ORDER BY d.gate_id, d.name, d.id
                """,
                logger: logger
            ).collect().map { row in
                let (id, name, gate, event, revoked, createdAt, kind, lastAt, lastResult) = try row.decode(
                    (String, String, String, String, Bool, Int64, String, Int64?, String?).self
                )
                return DeviceActivity(
                    device: Device(
                        id: id,
                        name: name,
                        gateId: gate,
                        eventId: event,
                        revoked: revoked,
                        createdAt: Date(millis: createdAt),
                        kind: DeviceKind(rawValue: kind) ?? .kiosk
                    ),
                    lastSeenAt: lastAt.map(Date.init(millis:)),
                    lastResult: lastResult.flatMap(CheckinResult.init(rawValue:))
                )
            }
        }
    }

    public func revokeDevice(id: String) async throws -> Device? {
        try await single("UPDATE devices SET revoked = true WHERE id = $1 RETURNING \(Self.deviceColumns)", [id], Self.device)
    }

    // MARK: Pairing

    public func createPairing(_ pairing: NewPairing, at: Date) async throws {
        try await guarded { [self] in
            let inserted = try await client.query(
                """
                INSERT INTO pairings (code_hash, event_id, gate_id, name, expires_at, created_at)
                SELECT decode(\(Self.hex(pairing.codeHash)), 'hex'), e.id, \(pairing.gateId), \(pairing.name), \(pairing.expiresAt.millis), \(at.millis)
                FROM events e WHERE e.id = \(pairing.eventId)
                RETURNING event_id
                """,
                logger: logger
            ).collect()
            guard !inserted.isEmpty else { throw StoreError.notFound("event \(pairing.eventId)") }
        }
    }

    public func redeemPairing(codeHash: [UInt8], device: NewDeviceCredentials, at: Date) async throws -> PairingRedemption {
        // A wrong code (most redemptions under a guessing flood) costs one indexed read, not a
        // transaction's four round trips: a flood of them queued behind the pool past the
        // operation limit and honest guesses were answered 503.
        let known = try await guarded { [self] in
            try await client.query(
                "SELECT used_at, expires_at FROM pairings WHERE code_hash = decode(\(Self.hex(codeHash)), 'hex')",
                logger: logger
            ).collect().first?.decode((Int64?, Int64).self)
        }
        guard let (usedAt, expiresAt) = known else { return .unknown }
        if usedAt != nil { return .alreadyUsed }
        if expiresAt <= at.millis { return .expired }
        return try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                let hash = Self.hex(codeHash)
                let claimed = try await connection.query(
                    """
                    UPDATE pairings SET used_at = \(at.millis), device_id = \(device.id)
                    WHERE code_hash = decode(\(hash), 'hex') AND used_at IS NULL AND expires_at > \(at.millis)
                    RETURNING event_id, gate_id, name
                    """,
                    logger: logger
                ).collect()
                guard let row = claimed.first else {
                    let found = try await connection.query("SELECT used_at FROM pairings WHERE code_hash = decode(\(hash), 'hex')", logger: logger)
                        .collect()
                    guard let first = found.first else { return PairingRedemption.unknown }
                    return try first.decode(Int64?.self) == nil ? .expired : .alreadyUsed
                }
                let (event, gate, name) = try row.decode((String, String, String).self)
                try await connection.query(
                    """
                    INSERT INTO devices (id, name, gate_id, event_id, token_hash, created_at, kind)
                    VALUES (\(device.id), \(name), \(gate), \(event), decode(\(Self.hex(device.tokenHash)), 'hex'), \(at.millis), \(device.kind.rawValue))
                    """,
                    logger: logger
                )
                return .enrolled(
                    Device(
                        id: device.id,
                        name: name,
                        gateId: gate,
                        eventId: event,
                        revoked: false,
                        createdAt: at.truncatedToMillis,
                        kind: device.kind
                    )
                )
            }
        }
    }

    public func pairingCreatedAt(codeHash: [UInt8]) async throws -> Date? {
        try await guarded { [self] in
            let rows = try await client.query(
                "SELECT created_at FROM pairings WHERE code_hash = decode(\(Self.hex(codeHash)), 'hex')",
                logger: logger
            ).collect()
            return try rows.first?.decode(Int64?.self).map(Date.init(millis:))
        }
    }

    // MARK: Check-in log

    public func checkins(eventId: String, filter: CheckinFilter) async throws -> [CheckinLogEntry] {
        try await guarded { [self] in
            let newestFirst = filter.afterId == nil
            let rows = try await client.query(
                """
                SELECT c.id, c.at, c.event_id, c.ticket_id, t.number, c.gate_id, c.device_id, c.result, c.mode, c.scan_id, c.offline, c.conflict
                FROM checkins c LEFT JOIN tickets t ON t.id = c.ticket_id
                WHERE c.event_id = \(eventId)
                  AND (\(filter.gateId)::TEXT IS NULL OR c.gate_id = \(filter.gateId))
                  AND (\(filter.since?.millis)::BIGINT IS NULL OR c.at >= \(filter.since?.millis))
                  AND (\(filter.until?.millis)::BIGINT IS NULL OR c.at < \(filter.until?.millis))
                  AND (\(filter.afterId)::BIGINT IS NULL OR c.id > \(filter.afterId))
                  AND (\(filter.ticketId)::TEXT IS NULL OR c.ticket_id = \(filter.ticketId))
                  AND (\(filter.result?.rawValue)::TEXT IS NULL OR c.result = \(filter.result?.rawValue))
                ORDER BY CASE WHEN \(newestFirst) THEN -c.id ELSE c.id END
                LIMIT \(Int64(filter.limit))
                """,
                logger: logger
            ).collect()
            return try rows.map { try Self.logEntry($0) }
        }
    }

    public func checkinStream(eventId: String, after cursor: ChangeCursor?, limit: Int) async throws -> [StreamedCheckin] {
        try await guarded { [self] in
            // The watermark and the rows come from one snapshot, as in `ticketChanges`.
            let from = cursor ?? ChangeCursor(transaction: -1, position: -1)
            let rows = try await client.query(
                """
                SELECT c.id, c.at, c.event_id, c.ticket_id, t.number, c.gate_id, c.device_id, c.result, c.mode, c.scan_id, c.offline,
                       c.conflict, c.stream_xact, c.stream_seq
                FROM checkins c LEFT JOIN tickets t ON t.id = c.ticket_id
                WHERE c.event_id = \(eventId) AND (c.stream_xact, c.stream_seq) > (\(from.transaction), \(from.position))
                  AND c.stream_xact < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
                ORDER BY c.stream_xact, c.stream_seq LIMIT \(Int64(limit))
                """,
                logger: logger
            ).collect()
            return rows.map { row in
                let cells = PostgresCells(row: row.makeRandomAccess())
                return StreamedCheckin(
                    position: ChangeCursor(transaction: cells.int(12), position: cells.int(13)),
                    entry: StoreRecords.logEntry(cells)
                )
            }
        }
    }

    public func peopleInside(eventId: String) async throws -> Int {
        try await guarded { [self] in
            let rows = try await client.query(
                """
                SELECT count(*) FROM tickets t WHERE t.event_id = \(eventId) AND t.status IN ('used', 'revoked')
                  AND (t.inside OR EXISTS (SELECT 1 FROM list_passes p WHERE p.ticket_id = t.id AND p.inside = 1))
                """,
                logger: logger
            ).collect()
            return Int(try rows.first?.decode(Int64.self) ?? 0)
        }
    }

    public func checkinCounts(eventId: String, minutesSince: Date) async throws -> CheckinCounts {
        try await guarded { [self] in
            let gates = try await client.query(
                """
                SELECT gate_id, count(*) FILTER (WHERE result = 'valid' AND mode = 'commit'), count(*) FILTER (WHERE result NOT IN ('valid', 'exit'))
                FROM checkins WHERE event_id = \(eventId) GROUP BY gate_id ORDER BY gate_id
                """,
                logger: logger
            ).collect().map { row in
                let (gate, admitted, refused) = try row.decode((String, Int64, Int64).self)
                return CheckinCounts.Gate(gateId: gate, admitted: Int(admitted), refused: Int(refused))
            }
            let minutes = try await client.query(
                """
                SELECT at / 60000, count(*) FROM checkins
                WHERE event_id = \(eventId) AND mode = 'commit' AND result = 'valid' AND at >= \(minutesSince.millis)
                GROUP BY at / 60000 ORDER BY 1
                """,
                logger: logger
            ).collect().map { row in
                let (minute, admitted) = try row.decode((Int64, Int64).self)
                return CheckinCounts.Minute(start: Date(millis: minute * 60000), admitted: Int(admitted))
            }
            return CheckinCounts(gates: gates, minutes: minutes)
        }
    }

    typealias LogRow = (Int64, Int64, String, String?, Int64?, String, String, String, String, String?, Bool, String?)

    static func logEntry(_ row: PostgresRow) throws -> CheckinLogEntry {
        logEntry(try row.decode(LogRow.self))
    }

    static func logEntry(_ c: LogRow) -> CheckinLogEntry {
        CheckinLogEntry(
            id: c.0,
            at: Date(millis: c.1),
            eventId: c.2,
            ticketId: c.3,
            ticketNumber: c.4.map { Int($0) },
            gateId: c.5,
            deviceId: c.6,
            result: CheckinResult(rawValue: c.7) ?? .invalid,
            mode: CheckinMode(rawValue: c.8) ?? .commit,
            scanId: c.9,
            offline: c.10,
            conflict: c.11.flatMap(CheckinResult.init(rawValue:))
        )
    }

    // MARK: Check-in

    public func checkin(_ attempt: CheckinAttempt) async throws -> CheckinOutcome {
        try await batcher.submit(attempt)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
