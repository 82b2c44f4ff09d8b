import Foundation
import GatehouseCore
import GatehouseStore
import Logging

/// Offline gates: the snapshot a gate keeps (pulled page by page from a cursor), the admissions
/// it made during an outage (uploaded afterwards), and the conflicts organizers must see.
extension Gatehouse {
    public static let defaultSyncPage = 5000
    public static let maximumSyncPage = 20_000

    /// One page of the device's event's ticket changes after `cursor` (everything from nil).
    public func syncTickets(bearerToken: String, after cursor: String?, limit: Int?) async throws -> TicketSyncPage {
        let limit = limit ?? Self.defaultSyncPage
        guard (1...Self.maximumSyncPage).contains(limit) else { throw InvalidInputError("limit must be between 1 and \(Self.maximumSyncPage)") }
        var position: Int64?
        if let cursor {
            guard let value = Int64(cursor), value >= 0 else { throw InvalidInputError("after must be a cursor this service gave") }
            position = value
        }
        guard let device = try await store.device(tokenHash: TokenHash.of(bearerToken)) else { throw CheckinError.unauthorized }
        // The time is read before the page: every change in the page is at or before it.
        let serverTime = now()
        let changes = try await store.ticketChanges(eventId: device.eventId, after: position, limit: limit)
        let keys = try await publicKeys(eventId: device.eventId).map { SyncedKey(id: $0.id, publicKey: Base64URL.encode($0.publicKey)) }
        return TicketSyncPage(
            eventId: device.eventId,
            serverTime: serverTime.millis,
            cursor: String(changes.cursor),
            complete: changes.complete,
            tickets: changes.tickets.map { ticket in
                SyncedTicket(
                    number: ticket.number,
                    hash: Base64URL.encode(ticket.tokenHash),
                    status: SyncedTicket.Status(rawValue: ticket.status.rawValue) ?? .revoked,
                    expiresAt: ticket.expiresAt?.millis,
                    usedAt: ticket.usedAt?.millis,
                    usedGate: ticket.usedGate
                )
            },
            keys: keys
        )
    }

    /// Records a gate's offline admissions, in the order it made them. Each is checked before any
    /// is stored: one bad entry refuses the upload whole (the gate keeps it and can say why).
    public func uploadOffline(_ upload: OfflineUpload, bearerToken: String, logger: Logger) async throws -> OfflineUploadAnswer {
        try Self.checkIdentifier(upload.deviceId, field: "deviceId")
        try Self.checkIdentifier(upload.gateId, field: "gateId")
        guard upload.checkins.count <= OfflineUpload.maximumCount else {
            throw InvalidInputError("checkins: at most \(OfflineUpload.maximumCount) in one upload")
        }
        let received = now()
        // A gate's clock is trusted only as far as this: not before the year 2000, not a day ahead.
        let earliest = Date(timeIntervalSince1970: 946_684_800)
        let latest = received.addingTimeInterval(86_400)
        var seen = Set<String>()
        let admissions = try upload.checkins.enumerated().map { index, checkin in
            try Self.checkIdentifier(checkin.scanId, field: "checkins[\(index)].scanId")
            guard seen.insert(checkin.scanId).inserted else { throw InvalidInputError("checkins[\(index)].scanId appears twice") }
            guard let hash = Base64URL.decode(checkin.hash), hash.count == 32 else {
                throw InvalidInputError("checkins[\(index)].hash must be a base64url SHA-256")
            }
            let at = Date(millis: checkin.at)
            guard at >= earliest, at <= latest else { throw InvalidInputError("checkins[\(index)].at is not a time this gate can have seen") }
            return OfflineAdmissions.Admission(scanId: checkin.scanId, tokenHash: hash, at: at, clock: checkin.clock.rawValue)
        }
        let outcome = try await store.recordOffline(
            OfflineAdmissions(
                deviceId: upload.deviceId,
                deviceTokenHash: TokenHash.of(bearerToken),
                gateId: upload.gateId,
                admissions: admissions
            )
        )
        switch outcome {
        case .unauthorized: throw CheckinError.unauthorized
        case .wrongGate(let registered): throw CheckinError.wrongGate(registered: registered)
        case .recorded(let recordings):
            let results = zip(upload.checkins, recordings).map { checkin, recording in
                switch recording {
                case .recorded: OfflineCheckinResult(scanId: checkin.scanId, outcome: .recorded, result: .valid)
                case .replayed(let result): OfflineCheckinResult(scanId: checkin.scanId, outcome: .replayed, result: result)
                case .conflict(let result): OfflineCheckinResult(scanId: checkin.scanId, outcome: .conflict, result: result)
                }
            }
            let conflicts = results.filter { $0.outcome == .conflict }.count
            logger.log(
                level: conflicts > 0 ? .warning : .info,
                "Offline check-ins uploaded",
                metadata: [
                    "gate.id": "\(upload.gateId)", "device.id": "\(upload.deviceId)", "offline.count": "\(results.count)",
                    "offline.recorded": "\(results.filter { $0.outcome == .recorded }.count)",
                    "offline.replayed": "\(results.filter { $0.outcome == .replayed }.count)", "offline.conflicts": "\(conflicts)",
                ]
            )
            return OfflineUploadAnswer(results: results)
        }
    }

    /// Offline admissions of the event that collided with another, oldest first.
    public func conflicts(eventId: String) async throws -> [Conflict] {
        _ = try await event(id: eventId)
        return try await store.conflicts(eventId: eventId)
    }
}
