import Foundation
import GatehouseCore
import GatehouseStore

/// Offline gates on MySQL: the change feed gates sync from, admissions uploaded after an outage,
/// the conflicts among them, and the events' signing keys.
extension MySQLStore {
    public func device(tokenHash: [UInt8]) async throws -> Device? {
        try await read { db in
            try db.firstRow(StoreRecords.deviceColumns + " WHERE token_hash = ? AND revoked = 0", [.bytes(tokenHash)], StoreRecords.device)
        }
    }

    public func ticketChanges(eventId: String, after cursor: Int64?, limit: Int) async throws -> TicketChanges {
        let rows = try await read { db in
            try db.rows(StoreRecords.ticketChanges, [.text(eventId), .integer(cursor ?? -1), .integer(Int64(limit))], StoreRecords.ticketChange)
        }
        return StoreRecords.changesPage(rows, after: cursor, limit: limit)
    }

    public func recordOffline(_ upload: OfflineAdmissions) async throws -> OfflineUploadOutcome {
        try await write { db in
            let device: DeviceOnDuty
            switch try Self.authenticate(tokenHash: upload.deviceTokenHash, deviceId: upload.deviceId, gateId: upload.gateId, in: db) {
            case .failure(let refusal): return refusal.uploadOutcome
            case .success(let found): device = found
            }
            var recordings: [OfflineRecording] = []
            for admission in upload.admissions {
                recordings.append(try Self.record(admission, device: device, in: db))
            }
            return .recorded(recordings)
        }
    }

    /// One admission: replayed when its scanId is known, recorded when its ticket was unused,
    /// else logged as a conflict next to the admission that came first.
    private static func record(_ admission: OfflineAdmissions.Admission, device: DeviceOnDuty, in db: MySQLConnection) throws -> OfflineRecording {
        if let earlier = try db.firstRow(
            "SELECT result FROM checkins WHERE device_id = ? AND scan_id = ?",
            [.text(device.id), .text(admission.scanId)],
            { $0.text(0) }
        ) {
            return .replayed(CheckinResult(rawValue: earlier) ?? .invalid)
        }
        let at = admission.at.millis
        // The same conditional UPDATE as online, without the expiry: the gate judged that by its
        // trusted clock, and the admission has happened.
        let changed = try db.run(
            """
            UPDATE tickets SET status = 'used', used_at = ?, used_gate = ?, used_device = ?, change_seq = ?
            WHERE token_hash = ? AND event_id = ? AND status = 'unused'
            """,
            [.integer(at), .text(device.gate), .text(device.id), .integer(db.takeChange()), .bytes(admission.tokenHash), .text(device.event)]
        )
        let ticket = try db.firstRow(
            "SELECT id, status FROM tickets WHERE token_hash = ? AND event_id = ?",
            [.bytes(admission.tokenHash), .text(device.event)],
            { (id: $0.text(0), status: $0.text(1)) }
        )
        var conflict: CheckinResult?
        var first: Int64?
        if changed != 1 {
            switch ticket?.status {
            case nil: conflict = .notFound
            case "revoked": conflict = .revoked
            default:
                conflict = .alreadyUsed
                first = try db.firstRow(
                    "SELECT id FROM checkins WHERE event_id = ? AND ticket_id = ? AND result = 'valid' AND mode = 'commit' ORDER BY at, id LIMIT 1",
                    [.text(device.event), .optional(ticket?.id)],
                    { $0.int(0) }
                )
            }
        }
        try db.run(StoreStatements.logOfflineAdmission(admission, device: device, ticketId: ticket?.id, conflict: conflict, first: first))
        return conflict.map(OfflineRecording.conflict) ?? .recorded
    }

    public func conflicts(eventId: String) async throws -> [Conflict] {
        try await read { db in try db.rows(StoreRecords.conflicts, [.text(eventId)], StoreRecords.conflict) }
    }

    // MARK: Signed codes

    public func signingKeys(eventId: String) async throws -> [SigningKey] {
        try await read { db in try db.rows(StoreRecords.signingKeys, [.text(eventId)], StoreRecords.signingKey) }
    }

    public func addSigningKey(eventId: String, publicKey: [UInt8], privateKey: [UInt8], at: Date) async throws -> SigningKey {
        try await write { db in
            // FOR UPDATE: two processes adding a key at once number them one after the other.
            guard try db.firstRow("SELECT 1 FROM events WHERE id = ? FOR UPDATE", [.text(eventId)], { $0.int(0) }) != nil else {
                throw StoreError.notFound("event \(eventId)")
            }
            let next = Int(
                try db.firstRow("SELECT coalesce(max(key_id), 0) + 1 FROM signing_keys WHERE event_id = ?", [.text(eventId)]) { $0.int(0) } ?? 1
            )
            guard next <= 255 else { throw StoreError.invalid("the event has 255 signing keys, the most a code can name") }
            try db.run(StoreStatements.addSigningKey(eventId: eventId, keyId: next, publicKey: publicKey, privateKey: privateKey, at: at))
            return SigningKey(id: next, publicKey: publicKey, privateKey: privateKey, createdAt: at.truncatedToMillis)
        }
    }
}
