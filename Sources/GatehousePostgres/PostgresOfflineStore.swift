import Foundation
import GatehouseCore
import GatehouseStorage
import NIOCore
import PostgresNIO

/// Offline gates on PostgreSQL: the change feed gates sync from, admissions uploaded after an
/// outage, and the conflicts among them.
extension PostgresStore {
    public func device(tokenHash: [UInt8]) async throws -> Device? {
        try await guarded { [self] in
            try await client.query(
                "SELECT \(unescaped: Self.deviceColumns) FROM devices WHERE token_hash = \(ByteBuffer(bytes: tokenHash)) AND NOT revoked",
                logger: logger
            ).collect().first.map(Self.device)
        }
    }

    public func device(id: String) async throws -> Device? {
        try await guarded { [self] in
            try await client.query("SELECT \(unescaped: Self.deviceColumns) FROM devices WHERE id = \(id)", logger: logger).collect().first.map(
                Self.device
            )
        }
    }

    public func ticketChanges(eventId: String, after cursor: ChangeCursor?, limit: Int, listId: String?) async throws -> TicketChanges {
        try await guarded { [self] in
            // The watermark and the rows come from one snapshot (one statement): every
            // transaction below it had ended when the rows were read.
            let from = cursor ?? ChangeCursor(transaction: -1, position: -1)
            let rows = try await client.query(
                """
                SELECT t.number, t.token_hash, t.status, t.expires_at, t.used_at, t.used_gate, t.ticket_type, t.inside,
                       p.used_at, p.used_gate, p.inside, p.last_entry_day, t.change_xact, t.change_seq
                FROM tickets t LEFT JOIN list_passes p ON p.list_id = \(listId ?? "") AND p.ticket_id = t.id
                WHERE t.event_id = \(eventId) AND (t.change_xact, t.change_seq) > (\(from.transaction), \(from.position))
                  AND t.change_xact < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
                ORDER BY t.change_xact, t.change_seq LIMIT \(Int64(limit))
                """,
                logger: logger
            ).collect()
            var last = cursor ?? ChangeCursor(position: 0)
            let tickets = rows.map { row in
                let cells = PostgresCells(row: row.makeRandomAccess())
                last = ChangeCursor(transaction: cells.int(12), position: cells.int(13))
                return StoreRecords.ticketState(cells, extra: 6)
            }
            return TicketChanges(tickets: tickets, cursor: last, complete: rows.count < limit)
        }
    }

    public func markOffline(deviceId: String, scanId: String, at: Date, clock: String, conflict: CheckinResult?) async throws {
        try await guarded { [self] in
            _ = try await client.query(
                PostgresQuery(StoreStatements.markOffline(deviceId: deviceId, scanId: scanId, at: at, clock: clock, conflict: conflict)),
                logger: logger
            ).collect()
        }
    }

    public func knownTokenHashes(eventId: String, _ hashes: [[UInt8]]) async throws -> Set<[UInt8]> {
        guard !hashes.isEmpty else { return [] }
        return try await guarded { [self] in
            let list = hashes.map { ByteBuffer(bytes: $0) }
            let rows = try await client.query(
                """
                SELECT token_hash FROM tickets WHERE event_id = \(eventId) AND token_hash = ANY(\(list))
                UNION SELECT r.token_hash FROM retired_tokens r JOIN tickets t ON t.id = r.ticket_id
                WHERE t.event_id = \(eventId) AND r.token_hash = ANY(\(list))
                """,
                logger: logger
            ).collect()
            return Set(try rows.map { Array(buffer: try $0.decode(ByteBuffer.self)) })
        }
    }

    public func recordOffline(_ upload: OfflineAdmissions) async throws -> OfflineUploadOutcome {
        // The server gives up on a statement (and so the whole transaction) well before the
        // service's deadline for the upload: an upload answered 503 has committed nothing.
        try await guarded(limit: .seconds(4)) { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SET LOCAL statement_timeout = 2500", logger: logger)
                try await connection.query("SET LOCAL lock_timeout = 2000", logger: logger)
                let devices = try await connection.query(
                    "SELECT id, gate_id, event_id, revoked FROM devices WHERE token_hash = \(ByteBuffer(bytes: upload.deviceTokenHash))",
                    logger: logger
                ).collect()
                guard let (id, gate, event, revoked) = try devices.first?.decode((String, String, String, Bool).self), !revoked,
                    id == upload.deviceId
                else { return .unauthorized }
                guard gate == upload.gateId else { return .wrongGate(registered: gate) }
                let device = DeviceOnDuty(id: id, gate: gate, event: event)
                var recordings: [OfflineRecording] = []
                for admission in upload.admissions {
                    recordings.append(try await Self.record(admission, device: device, on: connection, logger: logger))
                }
                return .recorded(recordings)
            }
        }
    }

    /// One admission: replayed when its scanId is known, recorded when its ticket was unused (or
    /// used later than this admission, whose place it then takes), else logged as a conflict next
    /// to the admission that came first. A code that names no ticket writes nothing.
    private static func record(
        _ admission: OfflineAdmissions.Admission,
        device: DeviceOnDuty,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> OfflineRecording {
        let earlier = try await connection.query(
            "SELECT result FROM checkins WHERE device_id = \(device.id) AND scan_id = \(admission.scanId)",
            logger: logger
        ).collect()
        if let result = try earlier.first?.decode(String.self) {
            return .replayed(CheckinResult(rawValue: result) ?? .invalid)
        }
        let at = admission.at.millis
        let hash = ByteBuffer(bytes: admission.tokenHash)
        let found = try await connection.query(
            """
            SELECT id, status, used_at, false FROM tickets WHERE token_hash = \(hash) AND event_id = \(device.event)
            UNION ALL SELECT t.id, t.status, t.used_at, true FROM retired_tokens r JOIN tickets t ON t.id = r.ticket_id
            WHERE r.token_hash = \(hash) AND t.event_id = \(device.event)
            """,
            logger: logger
        ).collect()
        guard let row = try found.first?.decode((String, String, Int64?, Bool).self) else { return .conflict(.notFound) }
        var ticket = AdmittedTicket(id: row.0, status: TicketStatus(rawValue: row.1) ?? .revoked, usedAt: row.2, retired: row.3)
        var judged = ticket.judge(admissionAt: at)
        if judged.conflict == nil, !judged.displaces {
            // The same conditional UPDATE as online, without the expiry: the gate judged that by
            // its trusted clock, and the admission has happened.
            let used = try await connection.query(
                """
                UPDATE tickets SET status = 'used', used_at = \(at), used_gate = \(device.gate), used_device = \(device.id), inside = true
                WHERE id = \(ticket.id) AND status = 'unused' RETURNING id
                """,
                logger: logger
            ).collect()
            if used.isEmpty {
                // Another process used it between the read and the UPDATE: judged again as it is now.
                let now = try await connection.query("SELECT status, used_at FROM tickets WHERE id = \(ticket.id)", logger: logger).collect()
                if let (status, usedAt) = try now.first?.decode((String, Int64?).self) {
                    ticket.status = TicketStatus(rawValue: status) ?? .revoked
                    ticket.usedAt = usedAt
                }
                judged = ticket.judge(admissionAt: at)
            }
        }
        if judged.displaces, let usedAt = ticket.usedAt {
            try await connection.query(
                """
                UPDATE tickets SET used_at = \(at), used_gate = \(device.gate), used_device = \(device.id)
                WHERE id = \(ticket.id) AND status = 'used' AND used_at = \(usedAt)
                """,
                logger: logger
            )
        }
        var first: Int64?
        if judged.conflict == .alreadyUsed {
            first = try await connection.query(
                """
                SELECT id FROM checkins WHERE event_id = \(device.event) AND ticket_id = \(ticket.id) AND result = 'valid' AND mode = 'commit'
                  AND conflict IS NULL ORDER BY at, id LIMIT 1
                """,
                logger: logger
            ).collect().first?.decode(Int64.self)
        }
        let logged = try await connection.query(
            """
            INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash, offline, clock, conflict, conflict_with)
            VALUES (\(at), \(device.event), \(ticket.id), \(device.gate), \(device.id), 'valid', 'commit', \(admission.scanId), \(hash), true,
                    \(admission.clock), \(judged.conflict?.rawValue), \(first))
            RETURNING id
            """,
            logger: logger
        ).collect().first?.decode(Int64.self)
        if judged.displaces, let logged {
            try await connection.query(
                """
                UPDATE checkins SET conflict = 'already_used', conflict_with = \(logged)
                WHERE event_id = \(device.event) AND ticket_id = \(ticket.id) AND result = 'valid' AND mode = 'commit' AND id <> \(logged)
                  AND (conflict IS NULL OR conflict = 'already_used')
                """,
                logger: logger
            )
        }
        return judged.conflict.map(OfflineRecording.conflict) ?? .recorded
    }

    public func conflicts(eventId: String) async throws -> [Conflict] {
        try await guarded { [self] in
            let columns = "c.id, c.at, c.event_id, c.ticket_id, t.number, c.gate_id, c.device_id, c.result, c.mode, c.scan_id, c.offline, c.conflict"
            let rows = try await client.query(
                """
                SELECT \(unescaped: columns), c.conflict_with FROM checkins c LEFT JOIN tickets t ON t.id = c.ticket_id
                WHERE c.event_id = \(eventId) AND c.conflict IS NOT NULL ORDER BY c.id
                """,
                logger: logger
            ).collect()
            var offline: [(CheckinLogEntry, Int64?)] = []
            for row in rows {
                let c = try row.decode((Int64, Int64, String, String?, Int64?, String, String, String, String, String?, Bool, String?, Int64?).self)
                offline.append((Self.logEntry((c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8, c.9, c.10, c.11)), c.12))
            }
            // The admissions that came first, in one more query (conflicts are few).
            let firstIds = offline.compactMap(\.1)
            var firsts: [Int64: CheckinLogEntry] = [:]
            if !firstIds.isEmpty {
                let found = try await client.query(
                    "SELECT \(unescaped: columns) FROM checkins c LEFT JOIN tickets t ON t.id = c.ticket_id WHERE c.id = ANY(\(firstIds))",
                    logger: logger
                ).collect()
                for row in found {
                    let entry = try Self.logEntry(row)
                    firsts[entry.id] = entry
                }
            }
            return offline.map { entry, first in
                Conflict(
                    ticketNumber: entry.ticketNumber,
                    reason: entry.conflict ?? .alreadyUsed,
                    offline: entry,
                    first: first.flatMap { firsts[$0] }
                )
            }
        }
    }

    // MARK: Signed codes

    public func signingKeys(eventId: String) async throws -> [SigningKey] {
        try await guarded { [self] in
            try await client.query(
                "SELECT key_id, public_key, private_key, created_at FROM signing_keys WHERE event_id = \(eventId) ORDER BY key_id",
                logger: logger
            ).collect().map { row in
                let (id, publicKey, privateKey, createdAt) = try row.decode((Int32, ByteBuffer, ByteBuffer, Int64).self)
                return SigningKey(
                    id: Int(id),
                    publicKey: Array(buffer: publicKey),
                    privateKey: Array(buffer: privateKey),
                    createdAt: Date(millis: createdAt)
                )
            }
        }
    }

    public func addSigningKey(eventId: String, publicKey: [UInt8], privateKey: [UInt8], at: Date) async throws -> SigningKey {
        try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                // The event row, locked: two rotations at once get consecutive ids.
                let event = try await connection.query("SELECT id FROM events WHERE id = \(eventId) FOR UPDATE", logger: logger).collect()
                guard !event.isEmpty else { throw StoreError.notFound("event \(eventId)") }
                let next =
                    try await connection.query(
                        "SELECT coalesce(max(key_id), 0) + 1 FROM signing_keys WHERE event_id = \(eventId)",
                        logger: logger
                    ).collect().first?.decode(Int32.self) ?? 1
                guard next <= 255 else { throw StoreError.invalid("the event has 255 signing keys, the most a code can name") }
                try await connection.query(
                    """
                    INSERT INTO signing_keys (event_id, key_id, public_key, private_key, created_at)
                    VALUES (\(eventId), \(next), \(ByteBuffer(bytes: publicKey)), \(ByteBuffer(bytes: privateKey)), \(at.millis))
                    """,
                    logger: logger
                )
                return SigningKey(id: Int(next), publicKey: publicKey, privateKey: privateKey, createdAt: at.truncatedToMillis)
            }
        }
    }
}
