import Foundation
import GatehouseCore
import GatehouseStorage

/// The check-in decision on MySQL: the same steps as the other stores (the conformance suite
/// holds all three to it), inside the writer's batch transaction.
extension MySQLStore {
    public func checkin(_ attempt: CheckinAttempt) async throws -> CheckinOutcome {
        do {
            return try await write { db in try Self.decide(attempt, in: db) }
        } catch is ScanDecidedConcurrently {
            // Its savepoint was rolled back (the ticket is as it was); now the replay check sees
            // the other process's committed decision and answers with it.
            return try await write { db in try Self.decide(attempt, in: db) }
        }
    }

    /// Another process logged this device's scanId after our replay check and before our log
    /// INSERT (a retry that reached two processes): the INSERT met its unique key.
    struct ScanDecidedConcurrently: Error {}

    /// Authenticate, replay a retried scan, or decide with one conditional UPDATE whose found-row
    /// count decides, and log the attempt in the same transaction.
    ///
    /// Three round trips per scan: one read (the device, an earlier decision of this scanId, and
    /// the scanned ticket together: MySQL has no RETURNING, and a read after the UPDATE would
    /// cost a fourth), the conditional UPDATE, the log INSERT. The read supplies the ticket's
    /// details and, when the UPDATE changed nothing, the reason; whether a ticket is admitted is
    /// decided by the UPDATE alone, which reads the newest committed row and locks it.
    private static func decide(_ attempt: CheckinAttempt, in db: MySQLConnection) throws -> CheckinOutcome {
        let scanId = attempt.mode == .commit ? attempt.scanId : nil
        let found = try db.firstRow(
            """
            SELECT d.id, d.gate_id, d.event_id, d.revoked, c.id, c.result, c.ticket_id, c.payload_hash,
                   t.id, t.event_id, t.number, t.user_id, t.holder_name, t.email, t.ticket_type, t.status, t.expires_at,
                   t.created_at, t.used_at, t.used_gate, t.used_device, t.inside, g.list_id
            FROM devices d
            LEFT JOIN checkins c ON c.device_id = d.id AND c.scan_id = ?
            LEFT JOIN tickets t ON t.token_hash = ?
            LEFT JOIN list_gates g ON g.event_id = d.event_id AND g.gate_id = d.gate_id
            WHERE d.token_hash = ?
            """,
            [.optional(scanId), attempt.code.map { .bytes($0.tokenHash) } ?? .null, .bytes(attempt.deviceTokenHash)],
            { row in
                (
                    device: DeviceOnDuty.found(row),
                    earlier: row.isNull(4) ? nil : (result: row.text(5), ticket: row.optionalText(6), payload: row.bytes(7)),
                    ticket: row.isNull(8) ? nil : StoreRecords.ticket(row, from: 8),
                    list: row.optionalText(22)
                )
            }
        )
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
        } else {
            decided = try judge(attempt, read: found.ticket, deviceEvent: device.event, in: db)
        }
        do {
            try logAttempt(attempt, device: device, decided: decided, in: db)
        } catch let error as MySQLError where error.number == 1062 {
            throw ScanDecidedConcurrently()
        }
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
        if try db.run(
            update + " AND token_hash = ? AND status = ? AND used_at <=> ? AND expires_at <=> ? AND inside = ?",
            values(write) + [
                .bytes(code.tokenHash), .text(read.status.rawValue), .optional(read.usedAt?.millis), .optional(read.expiresAt?.millis),
                .integer(read.inside ? 1 : 0),
            ]
        ) == 1 {
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

    /// The UPDATE that stores a decided ticket, up to its WHERE's `id = ?`.
    static let update = "UPDATE tickets SET status = ?, used_at = ?, used_gate = ?, used_device = ?, inside = ?, change_seq = ? WHERE id = ?"

    static func values(_ ticket: Ticket) -> [MySQLValue] {
        [
            .text(ticket.status.rawValue), .optional(ticket.usedAt?.millis), .optional(ticket.usedGate), .optional(ticket.usedDevice),
            .integer(ticket.inside ? 1 : 0), .integer(MySQLConnection.unnumbered), .text(ticket.id),
        ]
    }

    private static func logAttempt(_ attempt: CheckinAttempt, device: DeviceOnDuty, decided: StoredDecision, in db: MySQLConnection) throws {
        try db.run(StoreStatements.logCheckin(attempt, device: device, decision: decided.decision, undo: decided.undo))
        db.logged(eventId: device.event)
    }

}
