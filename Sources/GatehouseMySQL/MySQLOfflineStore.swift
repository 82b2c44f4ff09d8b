import Foundation
import GatehouseCore
import GatehouseStorage

/// Offline gates on MySQL: the change feed gates sync from, admissions uploaded after an outage,
/// the conflicts among them, and the events' signing keys.
extension MySQLStore {
    public func device(tokenHash: [UInt8]) async throws -> Device? {
        try await read { db in
            try db.firstRow(StoreRecords.deviceColumns + " WHERE token_hash = ? AND revoked = 0", [.bytes(tokenHash)], StoreRecords.device)
        }
    }

    public func device(id: String) async throws -> Device? {
        try await read { db in try db.firstRow(StoreRecords.deviceColumns + " WHERE id = ?", [.text(id)], StoreRecords.device) }
    }

    public func ticketChanges(eventId: String, after cursor: ChangeCursor?, limit: Int, listId: String?) async throws -> TicketChanges {
        let rows = try await read { db in
            try db.rows(
                StoreRecords.ticketChanges,
                [.text(listId ?? ""), .text(eventId), .integer(cursor?.position ?? -1), .integer(Int64(limit))],
                StoreRecords.ticketChange
            )
        }
        return StoreRecords.changesPage(rows, after: cursor, limit: limit)
    }

    public func markOffline(deviceId: String, scanId: String, at: Date, clock: String, conflict: CheckinResult?) async throws {
        try await write { db in
            if try db.run(StoreStatements.markOffline(deviceId: deviceId, scanId: scanId, at: at, clock: clock, conflict: conflict)) > 0 {
                db.marked(deviceId: deviceId, scanId: scanId)
            }
        }
    }

    public func knownTokenHashes(eventId: String, _ hashes: [[UInt8]]) async throws -> Set<[UInt8]> {
        guard !hashes.isEmpty else { return [] }
        return try await read { db in
            var known = Set<[UInt8]>()
            for chunk in stride(from: 0, to: hashes.count, by: 200).map({ Array(hashes[$0..<min($0 + 200, hashes.count)]) }) {
                let values = chunk.map { MySQLValue.bytes($0) }
                let parameters = [MySQLValue.text(eventId)] + values + [.text(eventId)] + values
                for hash in try db.rows(StoreRecords.knownTokenHashes(count: chunk.count), parameters, { $0.bytes(0) }) { known.insert(hash) }
            }
            return known
        }
    }

    public func recordOffline(_ upload: OfflineAdmissions) async throws -> OfflineUploadOutcome {
        try await write { db in
            let device: DeviceOnDuty
            switch try Self.authenticate(tokenHash: upload.deviceTokenHash, deviceId: upload.deviceId, gateId: upload.gateId, in: db) {
            case .failure(let refusal): return refusal.uploadOutcome
            case .success(let found): device = found
            }
            // Tickets are locked in the order of their code hashes, whatever the upload's order:
            // two uploads of the same tickets on the store's two writers then wait for each other
            // instead of deadlocking. Each ticket's own admissions keep their order.
            let order = upload.admissions.indices.sorted { a, b in
                let (x, y) = (upload.admissions[a].tokenHash, upload.admissions[b].tokenHash)
                return x == y ? a < b : x.lexicographicallyPrecedes(y)
            }
            var recordings = [OfflineRecording?](repeating: nil, count: upload.admissions.count)
            for index in order {
                recordings[index] = try Self.record(upload.admissions[index], device: device, in: db)
            }
            return .recorded(recordings.compactMap { $0 })
        }
    }

    /// One admission: replayed when its scanId is known, recorded when its ticket was unused (or
    /// used later than this admission, whose place it then takes), else logged as a conflict next
    /// to the admission that came first. A code that names no ticket writes nothing.
    private static func record(_ admission: OfflineAdmissions.Admission, device: DeviceOnDuty, in db: MySQLConnection) throws -> OfflineRecording {
        if let earlier = try db.firstRow(
            "SELECT result FROM checkins WHERE device_id = ? AND scan_id = ?",
            [.text(device.id), .text(admission.scanId)],
            { $0.text(0) }
        ) {
            return .replayed(CheckinResult(rawValue: earlier) ?? .invalid)
        }
        let hash = MySQLValue.bytes(admission.tokenHash)
        guard
            var ticket = try db.firstRow(
                StoreRecords.admittedTicket,
                [hash, .text(device.event), hash, .text(device.event)],
                StoreRecords.admittedTicket
            )
        else { return .conflict(.notFound) }
        let at = admission.at.millis
        var judged = ticket.judge(admissionAt: at)
        if judged.conflict == nil, !judged.displaces {
            // The same conditional UPDATE as online, without the expiry: the gate judged that by
            // its trusted clock, and the admission has happened.
            let changed = try db.run(
                "UPDATE tickets SET status = 'used', used_at = ?, used_gate = ?, used_device = ?, inside = 1, change_seq = ? WHERE id = ? AND status = 'unused'",
                [.integer(at), .text(device.gate), .text(device.id), .integer(MySQLConnection.unnumbered), .text(ticket.id)]
            )
            if changed == 1 {
                db.changed(ticket: ticket.id)
            } else {
                ticket.status = .used
                ticket.usedAt = try db.firstRow("SELECT used_at FROM tickets WHERE id = ?", [.text(ticket.id)]) { $0.optionalInt(0) } ?? nil
                judged = ticket.judge(admissionAt: at)
            }
        }
        if judged.displaces, let usedAt = ticket.usedAt {
            let moved = try db.run(
                "UPDATE tickets SET used_at = ?, used_gate = ?, used_device = ?, change_seq = ? WHERE id = ? AND status = 'used' AND used_at = ?",
                [.integer(at), .text(device.gate), .text(device.id), .integer(MySQLConnection.unnumbered), .text(ticket.id), .integer(usedAt)]
            )
            if moved == 1 { db.changed(ticket: ticket.id) }
        }
        let first =
            judged.conflict == .alreadyUsed
            ? try db.firstRow(StoreRecords.firstAdmission, [.text(device.event), .text(ticket.id)], { $0.int(0) }) : nil
        let log = StoreStatements.logOfflineAdmission(admission, device: device, ticketId: ticket.id, conflict: judged.conflict, first: first)
        let logged = try db.insert(log.sql, log.parameters.map(MySQLValue.init))
        db.logged(eventId: device.event)
        if judged.displaces {
            try db.run(StoreRecords.displaceLaterAdmissions, [.integer(logged), .text(device.event), .text(ticket.id), .integer(logged)])
        }
        return judged.conflict.map(OfflineRecording.conflict) ?? .recorded
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
