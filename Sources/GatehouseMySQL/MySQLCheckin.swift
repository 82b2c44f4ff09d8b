import Foundation
import GatehouseCore
import GatehouseStorage

/// The check-in decision on MySQL: the same steps as the other stores (the conformance suite
/// holds all three to it), inside the writer's batch transaction.
extension MySQLStore {
    public func checkin(_ attempt: CheckinAttempt) async throws -> CheckinOutcome {
        try await scans.submit(attempt)
    }

    /// The scans that waited while the writers were busy, as one writer job (`MySQLScanQueue`):
    /// one read for all of them (locking their tickets), one UPDATE for all their admissions, one
    /// INSERT for all their log rows — where each scan alone took three round trips; a scan alone
    /// is decided as `decideAlone` does, reading without a lock. Should the job fail for one
    /// scan's sake (a value the database refuses, a scanId another process logged meanwhile),
    /// nothing of it is stored: the writer runs it once more behind a savepoint, reading again,
    /// and should that fail too, `decideAfterBatchFailed` decides every scan alone.
    static func decideInWriter(_ attempts: [CheckinAttempt], in db: MySQLConnection) throws -> [CheckinOutcome] {
        guard attempts.count > 1 else { return [try decide(attempts[0], in: db)] }
        return try decideTogether(attempts, in: db)
    }

    /// One scan in a writer job of its own.
    static func decideAlone(_ attempt: CheckinAttempt, writer: MySQLWorkers, limit: Duration) async throws -> CheckinOutcome {
        do {
            return try await writer.perform(limit: limit) { db in try decide(attempt, in: db) }
        } catch is ScanDecidedConcurrently {
            // Its savepoint was rolled back (the ticket is as it was); now the replay check sees
            // the other process's committed decision and answers with it.
            return try await writer.perform(limit: limit) { db in try decide(attempt, in: db) }
        }
    }

    /// After a batch stored nothing: when the database could not serve, every scan gets its
    /// error; when one scan's value was refused, or a scan met another process's decision
    /// (`ScanDecidedConcurrently`, `TicketChangedSinceRead`), each is decided alone, where a scan
    /// reads its ticket again and is retried, so only the one at fault fails.
    static func decideAfterBatchFailed(
        _ attempts: [CheckinAttempt],
        cause: any Error,
        writer: MySQLWorkers,
        limit: Duration
    ) async -> [Result<CheckinOutcome, any Error>] {
        if let error = cause as? StoreError {
            guard case .invalid = error else { return attempts.map { _ in .failure(error) } }
        }
        return await withTaskGroup(of: (Int, Result<CheckinOutcome, any Error>).self) { group in
            for (index, attempt) in attempts.enumerated() {
                group.addTask { (index, await outcome { try await decideAlone(attempt, writer: writer, limit: limit) }) }
            }
            var results = [Result<CheckinOutcome, any Error>](repeating: .failure(StoreError.unavailable("not decided")), count: attempts.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
    }

    private static func outcome(_ body: () async throws -> CheckinOutcome) async -> Result<CheckinOutcome, any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    /// Another process logged this device's scanId after our replay check and before our log
    /// INSERT (a retry that reached two processes): the INSERT met its unique key.
    struct ScanDecidedConcurrently: Error {}

    /// What the first read finds for a scan: its device, an earlier decision of its scanId, its
    /// ticket and the list its gate belongs to.
    struct Found {
        var device: (id: String, gate: String, event: String, revoked: Bool)
        var earlier: (result: String, ticket: String?, payload: [UInt8])?
        var ticket: Ticket?
        var list: String?
    }

    /// The first read of one scan. MySQL has no RETURNING, and a read after the UPDATE would
    /// cost a round trip more: the read supplies the ticket's details and, when the UPDATE
    /// changed nothing, the reason.
    static let firstRead = """
        SELECT d.id, d.gate_id, d.event_id, d.revoked, c.id, c.result, c.ticket_id, c.payload_hash,
               t.id, t.event_id, t.number, t.user_id, t.holder_name, t.email, t.ticket_type, t.status, t.expires_at,
               t.created_at, t.used_at, t.used_gate, t.used_device, t.inside, g.list_id
        FROM devices d
        LEFT JOIN checkins c ON c.device_id = d.id AND c.scan_id = ?
        LEFT JOIN tickets t ON t.token_hash = ?
        LEFT JOIN list_gates g ON g.event_id = d.event_id AND g.gate_id = d.gate_id
        WHERE d.token_hash = ?
        """

    static func firstReadParameters(_ attempt: CheckinAttempt) -> [MySQLValue] {
        [
            .optional(attempt.mode == .commit ? attempt.scanId : nil), attempt.code.map { .bytes($0.tokenHash) } ?? .null,
            .bytes(attempt.deviceTokenHash),
        ]
    }

    static func found(_ row: MySQLRow) -> Found {
        Found(
            device: DeviceOnDuty.found(row),
            earlier: row.isNull(4) ? nil : (result: row.text(5), ticket: row.optionalText(6), payload: row.bytes(7)),
            ticket: row.isNull(8) ? nil : StoreRecords.ticket(row, from: 8),
            list: row.optionalText(22)
        )
    }

    /// The first reads of several scans in one statement: each scan's read as it is alone (the
    /// same joins and comparisons), joined by UNION ALL and told apart by a last column. Each part
    /// locks what it finds, shared (`LOCK IN SHARE MODE`): a ticket cannot change until the batch
    /// commits, so the batch writes it as decided, with no check that it is still as read and no
    /// lock read of its own (a round trip per batch). Two batches that read one ticket at once
    /// (one code at two gates, in the same few milliseconds) can each wait for the other when
    /// they write it: see `MySQLConnection.NumberedWrite`.
    static func firstReads(_ attempts: ArraySlice<CheckinAttempt>, in db: MySQLConnection) throws -> [Found?] {
        let sql = firstReadsStatements[attempts.count]
        var parameters: [MySQLValue] = []
        parameters.reserveCapacity(attempts.count * 4)
        for (index, attempt) in attempts.enumerated() {
            parameters.append(.integer(Int64(index)))
            parameters += firstReadParameters(attempt)
        }
        var founds = [Found?](repeating: nil, count: attempts.count)
        for (index, found) in try db.rows(sql, parameters, { row in (Int(row.int(23)), Self.found(row)) }) { founds[index] = found }
        return founds
    }

    /// Inside the writer's transaction: the batch's scans in order, each as it would be alone.
    /// A scan of a ticket or scanId an earlier scan of this batch touched, or at a list's gate,
    /// is read again on its own after the log rows so far are written, so it sees them.
    static func decideTogether(_ attempts: [CheckinAttempt], in db: MySQLConnection) throws -> [CheckinOutcome] {
        var founds: [Found?] = []
        for start in stride(from: 0, to: attempts.count, by: readsPerStatement) {
            founds += try firstReads(attempts[start..<min(attempts.count, start + readsPerStatement)], in: db)
        }
        var ticketWrites = TicketWrites()
        var logRows = LogRows()
        var touchedTickets = Set<String>()
        var touchedScans = Set<[String]>()
        var outcomes: [CheckinOutcome] = []
        outcomes.reserveCapacity(attempts.count)
        for (attempt, found) in zip(attempts, founds) {
            let scan = attempt.mode == .commit ? attempt.scanId.map { [attempt.deviceId, $0] } : nil
            let touched = found?.ticket.map { touchedTickets.contains($0.id) } ?? false
            if touched || found?.list != nil || scan.map(touchedScans.contains) == true {
                try ticketWrites.write(in: db)
                try logRows.write(in: db)
                outcomes.append(try decide(attempt, in: db))
            } else {
                outcomes.append(
                    try decide(attempt, found: found, in: db, holdWrite: { ticketWrites.add($0) }, log: { logRows.add($0, eventId: $1) })
                )
            }
            if let ticket = found?.ticket { touchedTickets.insert(ticket.id) }
            if let scan { touchedScans.insert(scan) }
        }
        if db.mayHoldWritesForNumbering {
            ticketWrites.holdForNumbering(in: db)
            logRows.holdForNumbering(in: db)
        } else {
            try ticketWrites.write(in: db)
            try logRows.write(in: db)
        }
        return outcomes
    }

    /// The ticket writes of a batch, stored by one UPDATE per `writesPerStatement`. Each ticket
    /// is in it once: a scan of a ticket the batch touched before is decided on its own, after
    /// the writes so far. The batch's read locked every one of them (`firstReads`).
    private struct TicketWrites {
        var pending: [Ticket] = []

        mutating func add(_ write: Ticket) { pending.append(write) }

        /// Stores the held writes now.
        mutating func write(in db: MySQLConnection) throws {
            defer { pending.removeAll(keepingCapacity: true) }
            try Self.store(pending, numberedFrom: nil, in: db)
            for write in pending { db.changed(ticket: write.id) }
        }

        /// Holds the writes back for the transaction's numbering, which stores each row once,
        /// with its number: where a write now and a numbering later wrote every row twice.
        mutating func holdForNumbering(in db: MySQLConnection) {
            defer { pending.removeAll(keepingCapacity: true) }
            guard !pending.isEmpty else { return }
            let writes = pending
            db.holdForNumbering(.init(count: writes.count) { db, first in try Self.store(writes, numberedFrom: first, in: db) })
        }

        /// Writes the tickets by id, `writesPerStatement` to an UPDATE; with `numberedFrom`, each
        /// one's `change_seq` from it on. The batch's read locked the rows: each is found.
        private static func store(_ writes: [Ticket], numberedFrom first: Int64?, in db: MySQLConnection) throws {
            let statements = first == nil ? ticketWritesStatements : numberedTicketWritesStatements
            for start in stride(from: 0, to: writes.count, by: writesPerStatement) {
                let chunk = writes[start..<min(writes.count, start + writesPerStatement)]
                var parameters = writtenColumnsParameters(chunk)
                parameters.reserveCapacity(chunk.count * 13)
                if let first {
                    for (offset, write) in zip(start..., chunk) { parameters += [.text(write.id), .integer(first + Int64(offset))] }
                }
                parameters += chunk.map { .text($0.id) }
                guard try db.run(statements[chunk.count], parameters) == chunk.count else { throw TicketChangedSinceRead() }
            }
        }
    }

    /// A batch's UPDATE changed fewer tickets than it decided, which its read's locks rule out: a
    /// safety net, not a race. The batch is decided again, each scan on its own.
    struct TicketChangedSinceRead: Error {}

    /// Ticket writes per UPDATE statement (11 parameters each, 13 when numbered).
    static let writesPerStatement = 32

    /// The columns a decision writes, in the order `values` gives them.
    private static let writtenColumns = ["status", "used_at", "used_gate", "used_device", "inside"]

    /// The condition that a row is still as read, after `id = ?`; parameters from `asRead`.
    private static let stillAsRead = " AND token_hash = ? AND status = ? AND used_at <=> ? AND expires_at <=> ? AND inside = ?"

    private static func asRead(_ read: Ticket, tokenHash: [UInt8]) -> [MySQLValue] {
        [
            .bytes(tokenHash), .text(read.status.rawValue), .optional(read.usedAt?.millis), .optional(read.expiresAt?.millis),
            .integer(read.inside ? 1 : 0),
        ]
    }

    /// The parameters of `setByID(writtenColumns, count:)` for these tickets: per column, each
    /// ticket's id and its value.
    private static func writtenColumnsParameters(_ tickets: some Collection<Ticket>) -> [MySQLValue] {
        var parameters: [MySQLValue] = []
        parameters.reserveCapacity(tickets.count * writtenColumns.count * 2)
        let written = tickets.map { values($0) }
        for column in 0..<writtenColumns.count {
            for (ticket, row) in zip(tickets, written) { parameters += [.text(ticket.id), row[column]] }
        }
        return parameters
    }

    /// An UPDATE's SET of `columns` for `count` rows, each column's value chosen by the row's id
    /// (parameters: per column, each row's id and value).
    private static func setByID(_ columns: [String], count: Int) -> String {
        "UPDATE tickets SET "
            + columns.map { "\($0) = CASE id " + String(repeating: "WHEN ? THEN ? ", count: count) + "END" }.joined(separator: ", ")
    }

    /// `TicketWrites`' statement for each number of tickets, built once: each column set by the
    /// row's id, the rows (locked by the batch's read) found by their ids.
    private static let ticketWritesStatements: [String] = (0...writesPerStatement).map { count in
        setByID(writtenColumns, count: count) + " WHERE id IN (" + placeholders(count) + ")"
    }

    /// The held ticket writes' UPDATE for each number of tickets, built once: each column and
    /// the change's number set by the row's id, the rows found by their ids.
    private static let numberedTicketWritesStatements: [String] = (0...writesPerStatement).map { count in
        setByID(writtenColumns + ["change_seq"], count: count) + " WHERE id IN (" + placeholders(count) + ")"
    }

    private static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    /// Scans read per statement in a batch (four parameters each).
    static let readsPerStatement = 32

    /// `firstReads`' statement for each number of scans, built once: every batch used to build
    /// its own, a string search and join per batch.
    private static let firstReadsStatements: [String] = (0...readsPerStatement).map { count in
        let read = firstRead.replacingOccurrences(of: "g.list_id\n", with: "g.list_id, ? AS k\n")
        return Array(repeating: "(" + read + " LOCK IN SHARE MODE)", count: count).joined(separator: " UNION ALL ")
    }

    /// Log rows of a batch, written by one INSERT of many rows.
    private struct LogRows {
        var pending: [StoreStatement] = []
        var events = Set<String>()

        mutating func add(_ row: StoreStatement, eventId: String) {
            pending.append(row)
            events.insert(eventId)
        }

        mutating func write(in db: MySQLConnection) throws {
            defer {
                pending.removeAll()
                events.removeAll()
            }
            guard !pending.isEmpty else { return }
            // The rows of one INSERT are numbered from its first id on.
            let firstId = try MySQLStore.insert(Self.oneInsert(pending, numberedFrom: nil), in: db)
            db.inserted(count: pending.count, firstId: firstId, eventIds: events)
        }

        /// Holds the rows back for the transaction's numbering, which inserts them with their
        /// numbers: one write of each row, where an INSERT now and its numbering later wrote
        /// each twice.
        mutating func holdForNumbering(in db: MySQLConnection) {
            defer {
                pending.removeAll()
                events.removeAll()
            }
            guard !pending.isEmpty else { return }
            let rows = pending
            db.holdForNumbering(
                .init(count: rows.count) { db, first in _ = try MySQLStore.insert(Self.oneInsert(rows, numberedFrom: first), in: db) }
            )
        }

        /// The rows' INSERTs (each `INSERT INTO … (columns) VALUES (row)`) as one; with
        /// `numberedFrom`, each row's `stream_seq` from it on.
        static func oneInsert(_ rows: [StoreStatement], numberedFrom first: Int64?) -> StoreStatement {
            let sql = rows[0].sql
            guard rows.count > 1 || first != nil, let values = sql.range(of: "VALUES") else { return rows[0] }
            var columns = sql[..<values.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
            var row = sql[values.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
            var parameters: [StoreRecords.Parameter] = []
            if let first {
                precondition(columns.hasSuffix(")") && row.hasSuffix(")"), "a log row's INSERT as `INSERT INTO … (columns) VALUES (row)`")
                columns = columns.dropLast() + ", stream_seq)"
                row = row.dropLast() + ", ?)"
                parameters.reserveCapacity(rows.count * (rows[0].parameters.count + 1))
                for (offset, statement) in rows.enumerated() { parameters += statement.parameters + [.integer(first + Int64(offset))] }
            } else {
                parameters = rows.flatMap(\.parameters)
            }
            return StoreStatement(
                sql: columns + " VALUES " + Array(repeating: row, count: rows.count).joined(separator: ", "),
                parameters: parameters
            )
        }
    }

    /// Writes log rows and returns the first one's id; a row another process logged first (its
    /// device's scanId) is `ScanDecidedConcurrently`.
    private static func insert(_ statement: StoreStatement, in db: MySQLConnection) throws -> Int64 {
        do {
            // Through a local, not `return try`: Swift 6.3.1 crashes (SIL ownership verifier)
            // compiling a returning `try` of this typed-throws call inside `do`/`catch where`.
            let firstId = try db.insert(statement.sql, statement.parameters.map(MySQLValue.init))
            return firstId
        } catch {
            if error.number == 1062 { throw ScanDecidedConcurrently() }
            throw error
        }
    }

    /// Authenticate, replay a retried scan, or decide with one conditional UPDATE whose found-row
    /// count decides, and log the attempt in the same transaction.
    ///
    /// Three round trips per scan alone: the first read (`firstRead`), the conditional UPDATE,
    /// the log INSERT. Whether a ticket is admitted is decided by the UPDATE alone, which reads
    /// the newest committed row and locks it.
    private static func decide(_ attempt: CheckinAttempt, in db: MySQLConnection) throws -> CheckinOutcome {
        let found = try db.firstRow(firstRead, firstReadParameters(attempt), Self.found)
        return try decide(attempt, found: found, in: db, holdWrite: nil) { row, eventId in
            db.inserted(count: 1, firstId: try insert(row, in: db), eventIds: [eventId])
        }
    }

    /// Decides from the first read; `log` writes the attempt's log row in the event's log (now, or
    /// with the batch's) and notes it for numbering. With `holdWrite`, a ticket write outside a
    /// list is handed to it to be stored with the batch's, instead of now.
    private static func decide(
        _ attempt: CheckinAttempt,
        found: Found?,
        in db: MySQLConnection,
        holdWrite: ((Ticket) -> Void)?,
        log: (_ row: StoreStatement, _ eventId: String) throws -> Void
    ) throws -> CheckinOutcome {
        let device: DeviceOnDuty
        switch DeviceOnDuty.judge(found: found?.device, deviceId: attempt.deviceId, gateId: attempt.gateId) {
        case .failure(let refusal): return refusal.checkinOutcome
        case .success(let onDuty): device = onDuty
        }
        guard let found else { return .unauthorized }

        if let earlier = found.earlier {
            guard earlier.payload == attempt.payloadHash else { return .scanIdReused }
            let ticket: Ticket? =
                earlier.ticket == found.ticket?.id
                ? found.ticket
                : try earlier.ticket.flatMap { id in try db.firstRow(StoreRecords.ticketColumns + " WHERE id = ?", [.text(id)], StoreRecords.ticket) }
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

        let decided: StoredDecision
        if let list = found.list {
            decided = try judge(attempt, list: list, deviceEvent: device.event, in: db)
        } else if let holdWrite, let read = found.ticket {
            decided = StoredDecision(attempt, ticket: read, deviceEvent: device.event)
            if let write = decided.write { holdWrite(write) }
        } else {
            decided = try judge(attempt, read: found.ticket, deviceEvent: device.event, in: db)
        }
        try log(StoreStatements.logCheckin(attempt, device: device, decision: decided.decision, undo: decided.undo), device.event)
        return .decided(decided.decision)
    }

    /// Inside the caller's transaction: the device on duty these credentials name.
    static func authenticate(
        tokenHash: [UInt8],
        deviceId: String,
        gateId: String,
        in db: MySQLConnection
    ) throws -> Result<DeviceOnDuty, DeviceOnDuty.Refusal> {
        let found = try db.firstRow(DeviceOnDuty.query, [.bytes(tokenHash)], DeviceOnDuty.found)
        return DeviceOnDuty.judge(found: found, deviceId: deviceId, gateId: gateId)
    }

    /// Decides with `GateDecision` on the ticket as the first read saw it, and writes the result
    /// only if the row is still as read (a compare-and-set: the read took no lock, so another
    /// gate may have been quicker). When it was, the row is read again under a lock and decided
    /// again — the rare second round of a race.
    private static func judge(_ attempt: CheckinAttempt, read: Ticket?, deviceEvent: String, in db: MySQLConnection) throws -> StoredDecision {
        let decided = StoredDecision(attempt, ticket: read, deviceEvent: deviceEvent)
        guard let write = decided.write, let read, let code = attempt.code else { return decided }
        if try db.run(update + stillAsRead, values(write) + asRead(read, tokenHash: code.tokenHash)) == 1 {
            db.changed(ticket: write.id)
            return decided
        }
        let locked = try db.firstRow(StoreRecords.ticketColumns + " WHERE token_hash = ? FOR UPDATE", [.bytes(code.tokenHash)], StoreRecords.ticket)
        let again = StoredDecision(attempt, ticket: locked, deviceEvent: deviceEvent)
        if let write = again.write {
            try db.run(update, values(write))
            db.changed(ticket: write.id)
        }
        return again
    }

    /// At a list's gate: the list's row locked first (so its count holds, and scans of one list
    /// take turns across processes), then the ticket and its pass, decided and written.
    private static func judge(_ attempt: CheckinAttempt, list listId: String, deviceEvent: String, in db: MySQLConnection) throws -> StoredDecision {
        guard let list = try db.firstRow(lockedList, [.text(listId)], { ListStatements.gateList($0) }) else {
            // The list was deleted since the read: the gate is in no list now.
            return try judge(attempt, read: nil, deviceEvent: deviceEvent, in: db)
        }
        let ticket = try attempt.code.flatMap { code in
            try db.firstRow(StoreRecords.ticketColumns + " WHERE token_hash = ? FOR UPDATE", [.bytes(code.tokenHash)], StoreRecords.ticket)
        }
        let pass = try ticket.flatMap { ticket in
            try db.firstRow(ListStatements.pass + " FOR UPDATE", [.text(list.id), .text(ticket.id)]) {
                ListStatements.pass($0, list: list.id, ticket: ticket.id)
            }
        }
        let decided = StoredDecision(attempt, ticket: ticket, deviceEvent: deviceEvent, list: list, pass: pass)
        if let stored = decided.pass {
            try db.run(ListStatements.storePass(stored, existed: pass != nil))
            if decided.insideChange != 0 { try db.run(ListStatements.countInside(listId: list.id, change: decided.insideChange)) }
        }
        if let write = decided.write {
            try db.run(update, values(write))
            db.changed(ticket: write.id)
        }
        return decided
    }

    static let lockedList = "SELECT id, ticket_types, entry, capacity, opens_at, closes_at, inside FROM checkin_lists WHERE id = ? FOR UPDATE"

    /// The UPDATE that stores a decided ticket, up to its WHERE's `id = ?`. It leaves
    /// `change_seq` alone: the caller notes the ticket changed, and the transaction numbers it
    /// before it commits (writing the column here as well moved its index entry twice).
    static let update = "UPDATE tickets SET status = ?, used_at = ?, used_gate = ?, used_device = ?, inside = ? WHERE id = ?"

    static func values(_ ticket: Ticket) -> [MySQLValue] {
        [
            .text(ticket.status.rawValue), .optional(ticket.usedAt?.millis), .optional(ticket.usedGate), .optional(ticket.usedDevice),
            .integer(ticket.inside ? 1 : 0), .text(ticket.id),
        ]
    }

}
