import Foundation
import GatehouseCore
import GatehouseStore

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
    private static func decide(_ attempt: CheckinAttempt, in db: MySQLConnection) throws -> CheckinOutcome {
        let device: DeviceOnDuty
        switch try authenticate(tokenHash: attempt.deviceTokenHash, deviceId: attempt.deviceId, gateId: attempt.gateId, in: db) {
        case .failure(.unauthorized): return .unauthorized
        case .failure(.wrongGate(let registered)): return .wrongGate(registered: registered)
        case .success(let found): device = found
        }

        if attempt.mode == .commit, let scanId = attempt.scanId {
            if let earlier = try db.firstRow(
                "SELECT result, ticket_id, payload_hash FROM checkins WHERE device_id = ? AND scan_id = ?",
                [.text(device.id), .text(scanId)],
                { (result: $0.text(0), ticket: $0.optionalText(1), payload: $0.bytes(2)) }
            ) {
                guard earlier.payload == attempt.payloadHash else { return .scanIdReused }
                let ticket: Ticket? = try earlier.ticket.flatMap { id in
                    try db.firstRow(ticketColumns + " WHERE id = ?", [.text(id)], Self.ticket)
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

        let decision = try judge(attempt, deviceEvent: device.event, in: db)
        do {
            try logAttempt(attempt, device: device, decision: decision, in: db)
        } catch let error as MySQLError where error.number == 1062 {
            throw ScanDecidedConcurrently()
        }
        return .decided(decision)
    }

    private static func logAttempt(_ attempt: CheckinAttempt, device: DeviceOnDuty, decision: CheckinDecision, in db: MySQLConnection) throws {
        try db.run(
            """
            INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .integer(attempt.at.millis), .text(device.event), .optional(decision.ticket?.id), .text(attempt.gateId),
                .text(device.id), .text(decision.result.rawValue), .text(attempt.mode.rawValue),
                .optional(attempt.mode == .commit ? attempt.scanId : nil), .bytes(attempt.payloadHash),
            ]
        )
    }

    /// The enrolled device a scanner's token, deviceId and gateId name together.
    struct DeviceOnDuty {
        var id: String
        var gate: String
        var event: String
    }

    enum DeviceRefusal: Error {
        case unauthorized
        case wrongGate(registered: String)
    }

    /// Inside the caller's transaction: the device of this token, if it is not revoked, is the
    /// device named, and stands at the gate named.
    static func authenticate(
        tokenHash: [UInt8],
        deviceId: String,
        gateId: String,
        in db: MySQLConnection
    ) throws -> Result<DeviceOnDuty, DeviceRefusal> {
        guard
            let device = try db.firstRow(
                "SELECT id, gate_id, event_id, revoked FROM devices WHERE token_hash = ?",
                [.bytes(tokenHash)],
                { (id: $0.text(0), gate: $0.text(1), event: $0.text(2), revoked: $0.int(3) != 0) }
            ),
            !device.revoked, device.id == deviceId
        else { return .failure(.unauthorized) }
        guard device.gate == gateId else { return .failure(.wrongGate(registered: device.gate)) }
        return .success(DeviceOnDuty(id: device.id, gate: device.gate, event: device.event))
    }

    private static func judge(_ attempt: CheckinAttempt, deviceEvent: String, in db: MySQLConnection) throws -> CheckinDecision {
        guard let code = attempt.code else {
            return CheckinDecision(result: .invalid, replayed: false)
        }
        let now = attempt.at.millis
        if attempt.mode == .commit, code.eventId == deviceEvent {
            // The decision: used only if unused, not expired, of the device's event. One row found
            // means this scan changed it; the row read afterwards is the one this transaction wrote.
            let changed = try db.run(
                """
                UPDATE tickets SET status = 'used', used_at = ?, used_gate = ?, used_device = ?, change_seq = ?
                WHERE token_hash = ? AND event_id = ? AND status = 'unused' AND (expires_at IS NULL OR expires_at > ?)
                """,
                [
                    .integer(now), .text(attempt.gateId), .text(attempt.deviceId), .integer(db.takeChange()), .bytes(code.tokenHash),
                    .text(deviceEvent), .integer(now),
                ]
            )
            if changed == 1, let used = try db.firstRow(ticketColumns + " WHERE token_hash = ?", [.bytes(code.tokenHash)], Self.ticket) {
                return CheckinDecision(result: .valid, ticket: used.summary, firstUsedAt: used.usedAt, firstUsedGate: used.usedGate, replayed: false)
            }
        }
        // No row changed (or nothing was to change): one read finds the reason.
        guard let ticket = try db.firstRow(ticketColumns + " WHERE token_hash = ?", [.bytes(code.tokenHash)], Self.ticket),
            ticket.eventId == code.eventId
        else { return CheckinDecision(result: .notFound, replayed: false) }
        return CheckinDecision(
            result: reason(ticket, deviceEvent: deviceEvent, now: now),
            ticket: ticket.summary,
            firstUsedAt: ticket.usedAt,
            firstUsedGate: ticket.usedGate,
            replayed: false
        )
    }

    /// Why a ticket cannot be (or, in validate mode, whether it could be) checked in now.
    static func reason(_ ticket: Ticket, deviceEvent: String, now: Int64) -> CheckinResult {
        if ticket.eventId != deviceEvent { return .wrongEvent }
        switch ticket.status {
        case .revoked: return .revoked
        case .used: return .alreadyUsed
        case .unused:
            if let expires = ticket.expiresAt, expires.millis <= now { return .expired }
            return .valid
        }
    }
}
