import Foundation
import GatehouseCore

/// A SQL statement with its parameters, in text both SQLite and MySQL run alike; each store turns
/// the parameters into its own kind of value.
public struct StoreStatement: Sendable {
    public var sql: String
    public var parameters: [StoreRecords.Parameter]

    public init(sql: String, parameters: [StoreRecords.Parameter]) {
        self.sql = sql
        self.parameters = parameters
    }
}

/// The inserts SQLite and MySQL make alike. What differs between them (RETURNING against found
/// rows, how a change is numbered) stays in each store.
public enum StoreStatements {
    /// A ticket's code hash, for a check-in by hand (the ticket is known, its code is not).
    public static func ticketTokenHash(id: String) -> StoreStatement {
        StoreStatement(sql: "SELECT token_hash FROM tickets WHERE id = ?", parameters: [.text(id)])
    }

    /// A device's token hash, for the service acting as that device (the box office's own).
    public static func deviceTokenHash(id: String) -> StoreStatement {
        StoreStatement(sql: "SELECT token_hash FROM devices WHERE id = ?", parameters: [.text(id)])
    }

    /// The device a token hash belongs to, revoked or not.
    public static func deviceId(tokenHash: [UInt8]) -> StoreStatement {
        StoreStatement(sql: "SELECT id FROM devices WHERE token_hash = ?", parameters: [.bytes(tokenHash)])
    }

    public static func addDevice(
        id: String,
        name: String,
        gateId: String,
        eventId: String,
        tokenHash: [UInt8],
        kind: DeviceKind,
        at: Date
    ) -> StoreStatement {
        StoreStatement(
            sql: "INSERT INTO devices (id, name, gate_id, event_id, token_hash, created_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?)",
            parameters: [.text(id), .text(name), .text(gateId), .text(eventId), .bytes(tokenHash), .integer(at.millis), .text(kind.rawValue)]
        )
    }

    /// Keeps a ticket's code hash before a re-issue replaces it, so an offline admission of the
    /// old code is still known as this ticket's.
    public static func retireToken(ticketId: String, at: Date) -> StoreStatement {
        StoreStatement(
            sql: "INSERT INTO retired_tokens (token_hash, ticket_id, retired_at) SELECT token_hash, id, ? FROM tickets WHERE id = ?",
            parameters: [.integer(at.millis), .text(ticketId)]
        )
    }

    public static func createPairing(_ pairing: NewPairing, at: Date) -> StoreStatement {
        StoreStatement(
            sql: "INSERT INTO pairings (code_hash, event_id, gate_id, name, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            parameters: [
                .bytes(pairing.codeHash), .text(pairing.eventId), .text(pairing.gateId), .text(pairing.name), .integer(pairing.expiresAt.millis),
                .integer(at.millis),
            ]
        )
    }

    public static func addSigningKey(eventId: String, keyId: Int, publicKey: [UInt8], privateKey: [UInt8], at: Date) -> StoreStatement {
        StoreStatement(
            sql: "INSERT INTO signing_keys (event_id, key_id, public_key, private_key, created_at) VALUES (?, ?, ?, ?, ?)",
            parameters: [.text(eventId), .integer(Int64(keyId)), .bytes(publicKey), .bytes(privateKey), .integer(at.millis)]
        )
    }

    /// The log row of a decided scan (refusals too), written in the deciding transaction.
    /// `undo`: what the scan changed, when it changed something (`StoredDecision.undo`).
    public static func logCheckin(_ attempt: CheckinAttempt, device: DeviceOnDuty, decision: CheckinDecision, undo: ScanUndo?) -> StoreStatement {
        StoreStatement(
            sql: """
                INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash, undo_state)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            parameters: [
                .integer(attempt.at.millis), .text(device.event), .optional(decision.ticket?.id), .text(attempt.gateId),
                .text(device.id), .text(decision.result.rawValue), .text(attempt.mode.rawValue),
                .optional(attempt.mode == .commit ? attempt.scanId : nil), .bytes(attempt.payloadHash), .optional(undo?.json),
            ]
        )
    }

    /// The log row of an admission a gate made offline: `conflict` when the ticket was already
    /// used, revoked or unknown by the time it arrived, `first` the admission that came first.
    public static func logOfflineAdmission(
        _ admission: OfflineAdmissions.Admission,
        device: DeviceOnDuty,
        ticketId: String?,
        conflict: CheckinResult?,
        first: Int64?
    ) -> StoreStatement {
        StoreStatement(
            sql: """
                INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash, offline, clock, conflict, conflict_with)
                VALUES (?, ?, ?, ?, ?, 'valid', 'commit', ?, ?, 1, ?, ?, ?)
                """,
            parameters: [
                .integer(admission.at.millis), .text(device.event), .optional(ticketId), .text(device.gate), .text(device.id),
                .text(admission.scanId), .bytes(admission.tokenHash), .text(admission.clock), .optional(conflict?.rawValue), .optional(first),
            ]
        )
    }
}

extension StoreStatements {
    /// See `GatehouseStore.markOffline`; `TRUE`/`FALSE` read the same on all three stores. The
    /// row takes a new place in the event stream (`stream_seq` 0 is "to be numbered": see the
    /// stores' schemas).
    public static func markOffline(deviceId: String, scanId: String, at: Date, clock: String, conflict: CheckinResult?) -> StoreStatement {
        let conflicting = conflict.map { _ in ", result = 'valid', conflict = ?" } ?? ""
        return StoreStatement(
            sql:
                "UPDATE checkins SET offline = TRUE, stream_seq = 0, clock = ?\(conflicting) WHERE device_id = ? AND scan_id = ? AND at = ? AND offline = FALSE",
            parameters: [.text(clock)] + (conflict.map { [.text($0.rawValue)] } ?? []) + [.text(deviceId), .text(scanId), .integer(at.millis)]
        )
    }
}

extension DeviceOnDuty.Refusal {
    /// The answer to a scan from credentials that name no device on duty.
    public var checkinOutcome: CheckinOutcome {
        switch self {
        case .unauthorized: return .unauthorized
        case .wrongGate(let registered): return .wrongGate(registered: registered)
        }
    }

    /// The answer to an offline upload from such credentials.
    public var uploadOutcome: OfflineUploadOutcome {
        switch self {
        case .unauthorized: return .unauthorized
        case .wrongGate(let registered): return .wrongGate(registered: registered)
        }
    }
}
