import Foundation
import GatehouseCore
import GatehouseStorage
import Logging

/// Offline gates: the snapshot a gate keeps (pulled page by page from a cursor), the admissions
/// it made during an outage (uploaded afterwards), and the conflicts organizers must see.
extension Gatehouse {
    /// What kiosks ask for (1,000 tickets, about 90 KB of JSON): bigger pages only made the sync
    /// route a way to keep the service busy.
    public static let defaultSyncPage = 1000
    public static let maximumSyncPage = 1000
    /// Admissions recorded per transaction: other gates' check-ins run between them.
    package static let offlineChunk = 25
    /// How far ahead of the service's clock an offline admission's time may be.
    package static let offlineClockSkew: TimeInterval = 120

    /// One page of the device's event's ticket changes after `cursor` (everything from nil).
    public func syncTickets(bearerToken: String, after cursor: String?, limit: Int?) async throws -> TicketSyncPage {
        let limit = limit ?? Self.defaultSyncPage
        guard (1...Self.maximumSyncPage).contains(limit) else { throw InvalidInputError("limit must be between 1 and \(Self.maximumSyncPage)") }
        var position: ChangeCursor?
        if let cursor {
            guard let value = ChangeCursor(text: cursor) else { throw InvalidInputError("after must be a cursor this service gave") }
            position = value
        }
        let device = try await kiosk(bearerToken: bearerToken)
        if let wait = syncPageLimiter.take(1, for: device.id) {
            throw RateLimited(retryAfter: wait, what: "snapshot pages")
        }
        // A pull from the start costs the whole event; one that finds nothing there (an event
        // without tickets yet, or changes the feed still holds back) costs nothing, and the gate
        // asks again from the start.
        let fromStart = position ?? ChangeCursor(position: 0) == ChangeCursor(position: 0)
        if fromStart, let wait = fullPullLimiter.exhausted(for: device.id) {
            throw RateLimited(retryAfter: wait, what: "pulls of the whole snapshot")
        }
        // The time is read before the page: every change in the page is at or before it.
        let serverTime = now()
        let changes = try await store.ticketChanges(eventId: device.eventId, after: position, limit: limit)
        if fromStart, !changes.tickets.isEmpty { _ = fullPullLimiter.take(1, for: device.id) }
        let keys = try await publicKeys(eventId: device.eventId).map { SyncedKey(id: $0.id, publicKey: Base64URL.encode($0.publicKey)) }
        let gateList = try await store.lists(eventId: device.eventId).first { $0.gates.contains(device.gateId) }
        return TicketSyncPage(
            eventId: device.eventId,
            serverTime: serverTime.millis,
            cursor: changes.cursor.description,
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
            keys: keys,
            gateList: gateList.map { SyncedGateList(id: $0.id, name: $0.name) }
        )
    }

    /// Refuses an upload before its body is read when the device has nothing left of its
    /// allowance (the device as `enrolledDevice` last found it).
    public func checkUploadAllowance(bearerToken: String) throws {
        guard let device = devices.remembered(tokenHash: TokenHash.of(bearerToken)) else { return }
        if let wait = uploadLimiter.exhausted(for: device.id) { throw RateLimited(retryAfter: wait, what: "offline check-ins") }
    }

    /// The gate kiosk a token belongs to; a staff scanner's token is refused (it decides online only).
    package func kiosk(bearerToken: String) async throws -> Device {
        let device = try await enrolledDevice(bearerToken: bearerToken)
        guard device.kind == .kiosk else { throw CheckinError.kioskOnly }
        return device
    }

    /// Records a gate's offline admissions, in the order it made them.
    ///
    /// Each entry must carry the code the gate scanned: its hash finds the ticket, so a device
    /// cannot mark used a ticket it never saw (the snapshot holds hashes only). Each entry is
    /// judged on its own: a bad one is answered `refused` and the rest go on. Codes that name no
    /// ticket are answered without a write; the others are recorded a few per transaction, so
    /// other gates' check-ins run in between. When the database fails half-way, the entries
    /// recorded so far are answered and the rest left out (the gate sends them again).
    public func uploadOffline(_ upload: OfflineUpload, bearerToken: String, logger: Logger) async throws -> OfflineUploadAnswer {
        try Self.checkIdentifier(upload.deviceId, field: "deviceId")
        try Self.checkIdentifier(upload.gateId, field: "gateId")
        guard upload.checkins.count <= OfflineUpload.maximumCount else {
            throw InvalidInputError("checkins: at most \(OfflineUpload.maximumCount) in one upload")
        }
        let device = try await kiosk(bearerToken: bearerToken)
        guard device.id == upload.deviceId else { throw CheckinError.unauthorized }
        guard device.gateId == upload.gateId else { throw CheckinError.wrongGate(registered: device.gateId) }
        if let wait = uploadLimiter.take(Double(max(1, upload.checkins.count)), for: device.id) {
            throw RateLimited(retryAfter: wait, what: "offline check-ins")
        }
        let received = now()
        let judged = try await judgeOfflineEntries(upload.checkins, eventId: device.eventId, received: received)
        var answers = judged.answers
        let known = try await store.knownTokenHashes(eventId: device.eventId, judged.admissions.map(\.admission.tokenHash))
        var toRecord: [(index: Int, admission: OfflineAdmissions.Admission)] = []
        for entry in judged.admissions {
            if known.contains(entry.admission.tokenHash) {
                toRecord.append(entry)
            } else {
                // A code that names no ticket of this event: nothing to record, no row written.
                answers[entry.index] = OfflineCheckinResult(scanId: entry.admission.scanId, outcome: .conflict, result: .notFound)
            }
        }
        var failure: (any Error)?
        for start in stride(from: 0, to: toRecord.count, by: Self.offlineChunk) {
            let chunk = Array(toRecord[start..<min(start + Self.offlineChunk, toRecord.count)])
            let outcome: OfflineUploadOutcome
            do {
                outcome = try await store.recordOffline(
                    OfflineAdmissions(
                        deviceId: upload.deviceId,
                        deviceTokenHash: TokenHash.of(bearerToken),
                        gateId: upload.gateId,
                        admissions: chunk.map(\.admission)
                    )
                )
            } catch {
                failure = error
                break
            }
            switch outcome {
            case .unauthorized: throw CheckinError.unauthorized
            case .wrongGate(let registered): throw CheckinError.wrongGate(registered: registered)
            case .recorded(let recordings):
                for (entry, recording) in zip(chunk, recordings) {
                    answers[entry.index] =
                        switch recording {
                        case .recorded: OfflineCheckinResult(scanId: entry.admission.scanId, outcome: .recorded, result: .valid)
                        case .replayed(let result): OfflineCheckinResult(scanId: entry.admission.scanId, outcome: .replayed, result: result)
                        case .conflict(let result): OfflineCheckinResult(scanId: entry.admission.scanId, outcome: .conflict, result: result)
                        }
                }
            }
            await Task.yield()
        }
        let results = answers.sorted { $0.key < $1.key }.map(\.value)
        if let failure {
            // Nothing answered: the request failed as a whole. Else the part that was answered; the
            // gate sends the rest again.
            guard !results.isEmpty else { throw failure }
            logger.warning(
                "Offline upload cut short",
                metadata: ["device.id": "\(upload.deviceId)", "offline.answered": "\(results.count)", "error": "\(failure)"]
            )
        }
        let count = { (outcome: OfflineCheckinResult.Outcome) in results.filter { $0.outcome == outcome }.count }
        logger.log(
            level: count(.conflict) + count(.refused) > 0 ? .warning : .info,
            "Offline check-ins uploaded",
            metadata: [
                "gate.id": "\(upload.gateId)", "device.id": "\(upload.deviceId)", "offline.count": "\(upload.checkins.count)",
                "offline.recorded": "\(count(.recorded))", "offline.replayed": "\(count(.replayed))",
                "offline.conflicts": "\(count(.conflict))", "offline.refused": "\(count(.refused))",
            ]
        )
        return OfflineUploadAnswer(results: results)
    }

    /// Each uploaded entry checked on its own: refused ones answered, the rest as admissions to
    /// record (with their place in the upload).
    private func judgeOfflineEntries(
        _ checkins: [OfflineCheckin],
        eventId: String,
        received: Date
    ) async throws -> (
        answers: [Int: OfflineCheckinResult], admissions: [(index: Int, admission: OfflineAdmissions.Admission)]
    ) {
        // A gate's clock is trusted only as far as this: not before the year 2000, not ahead of ours
        // by more than a small skew.
        let earliest = Date(timeIntervalSince1970: 946_684_800)
        let latest = received.addingTimeInterval(Self.offlineClockSkew)
        var answers: [Int: OfflineCheckinResult] = [:]
        var admissions: [(index: Int, admission: OfflineAdmissions.Admission)] = []
        var seen = Set<String>()
        for (index, checkin) in checkins.enumerated() {
            // A thousand entries are a thousand hashes: other requests get their turn between.
            if index > 0, index % 50 == 0 { await Task.yield() }
            func refuse(_ detail: String) {
                answers[index] = OfflineCheckinResult(scanId: checkin.scanId, outcome: .refused, result: .invalid, detail: detail)
            }
            do {
                try Self.checkIdentifier(checkin.scanId, field: "scanId")
            } catch {
                refuse("\(error)")
                continue
            }
            guard seen.insert(checkin.scanId).inserted else {
                refuse("scanId appears twice in this upload")
                continue
            }
            guard let text = checkin.code, !text.isEmpty, text.utf8.count <= 512 else {
                refuse("code is required: the scanned code proves the admission")
                continue
            }
            guard let code = try await scannedCode(text) else {
                refuse("code is not a ticket code of this service")
                continue
            }
            guard code.eventId == eventId else {
                refuse("code is for another event than this gate's")
                continue
            }
            if let hash = checkin.hash, Base64URL.decode(hash) != code.tokenHash {
                refuse("hash does not match the code")
                continue
            }
            let at = Date(millis: checkin.at)
            guard at >= earliest, at <= latest else {
                refuse("at is not a time this gate can have seen (the service's clock: \(received.iso8601Millis))")
                continue
            }
            admissions.append(
                (index, OfflineAdmissions.Admission(scanId: checkin.scanId, tokenHash: code.tokenHash, at: at, clock: checkin.clock.rawValue))
            )
        }
        return (answers, admissions)
    }

    /// Offline admissions of the event that collided with another, oldest first.
    public func conflicts(eventId: String) async throws -> [Conflict] {
        _ = try await event(id: eventId)
        return try await store.conflicts(eventId: eventId)
    }
}
