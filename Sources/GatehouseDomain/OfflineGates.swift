import CoreMetrics
import Crypto
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
        let list = try await store.lists(eventId: device.eventId).first { $0.gates.contains(device.gateId) }
        let changes = try await store.ticketChanges(eventId: device.eventId, after: position, limit: limit, listId: list?.id)
        if fromStart, !changes.tickets.isEmpty { _ = fullPullLimiter.take(1, for: device.id) }
        let keys = try await publicKeys(eventId: device.eventId).map { SyncedKey(id: $0.id, publicKey: Base64URL.encode($0.publicKey)) }
        return TicketSyncPage(
            eventId: device.eventId,
            serverTime: serverTime.millis,
            cursor: changes.cursor.description,
            complete: changes.complete,
            tickets: changes.tickets.map { ticket in
                // As the gate's rules see it: at a list's gate, the ticket's pass of that list.
                let facts = ticket.facts(eventId: device.eventId, onList: list != nil)
                return SyncedTicket(
                    number: ticket.number,
                    hash: Base64URL.encode(ticket.tokenHash),
                    status: facts.status,
                    expiresAt: facts.expiresAt,
                    usedAt: facts.usedAt,
                    usedGate: facts.usedGate,
                    type: facts.ticketType,
                    inside: facts.inside,
                    lastEntryDay: facts.lastEntryDay
                )
            },
            keys: keys,
            gateList: list.map { synced($0, at: serverTime) },
            laneMode: try await store.laneState(deviceId: device.id)?.requested,
            peerKey: try await peerKey(eventId: device.eventId)
        )
    }

    /// The key an event's gates sign their used records with: made again from the service's key,
    /// the event and the kiosks revoked so far, so every process gives the same one and a
    /// revocation changes it (the revoked box keeps a key nobody accepts any more).
    func peerKey(eventId: String) async throws -> SyncedPeerKey {
        let revoked = try await store.devices(eventId: eventId).filter { $0.device.revoked && $0.device.kind == .kiosk }.map(\.device.id).sorted()
        let key = codeSeal.derivedSecret(purpose: "gatehouse gate peers", input: eventId + "\u{0}" + revoked.joined(separator: ","))
        let id = Array(SHA256.hash(data: key)).prefix(9)
        return SyncedPeerKey(id: Base64URL.encode(Array(id)), key: Base64URL.encode(key))
    }

    /// A list as a gate decides with it, and the organizer's UTC offsets from a day before `at`
    /// to a fortnight after (an outage longer than that keeps the last offset).
    private func synced(_ list: CheckinList, at: Date) -> SyncedGateList {
        var from = at.addingTimeInterval(-86_400)
        var offsets = [SyncedGateList.UTCOffset(from: from.millis, seconds: timeZone.secondsFromGMT(for: from))]
        let end = at.addingTimeInterval(14 * 86_400)
        while let change = timeZone.nextDaylightSavingTimeTransition(after: from), change < end {
            offsets.append(SyncedGateList.UTCOffset(from: change.millis, seconds: timeZone.secondsFromGMT(for: change)))
            from = change
        }
        return SyncedGateList(
            id: list.id,
            name: list.name,
            ticketTypes: list.ticketTypes,
            entry: list.entry,
            capacity: list.capacity,
            opensAt: list.opensAt?.millis,
            closesAt: list.closesAt?.millis,
            inside: list.inside,
            utcOffsets: offsets,
            attention: list.attention
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
        // Exits, and entries at a list's gate, are decided again by the rules as the service
        // sees them (`checkin` at the gate's time); plain entries are recorded as before. In the
        // gate's order: an entry and the exit after it must arrive so.
        let onList = try await store.lists(eventId: device.eventId).contains { $0.gates.contains(device.gateId) }
        var failure: (any Error)?
        var plain: [(index: Int, admission: OfflineAdmissions.Admission)] = []
        func recordPlain() async throws {
            defer { plain.removeAll() }
            guard !plain.isEmpty else { return }
            let outcome = try await store.recordOffline(
                OfflineAdmissions(
                    deviceId: upload.deviceId,
                    deviceTokenHash: TokenHash.of(bearerToken),
                    gateId: upload.gateId,
                    admissions: plain.map(\.admission)
                )
            )
            switch outcome {
            case .unauthorized: throw CheckinError.unauthorized
            case .wrongGate(let registered): throw CheckinError.wrongGate(registered: registered)
            case .recorded(let recordings):
                for (entry, recording) in zip(plain, recordings) {
                    answers[entry.index] = OfflineCheckinResult(scanId: entry.admission.scanId, recording: recording)
                }
            }
            await Task.yield()
        }
        do {
            for entry in toRecord {
                guard onList || entry.admission.direction == .exit else {
                    plain.append(entry)
                    if plain.count == Self.offlineChunk { try await recordPlain() }
                    continue
                }
                try await recordPlain()
                answers[entry.index] = try await recordRuled(entry.admission, device: device, bearerToken: bearerToken)
            }
            try await recordPlain()
        } catch let error as CheckinError {
            throw error
        } catch {
            failure = error
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
        for result in results {
            Counter(label: ServiceMeters.offlineCheckins, dimensions: [("outcome", result.outcome.rawValue)], factory: metrics).increment()
        }
        return OfflineUploadAnswer(results: results)
    }

    /// An offline exit, or an entry at a list's gate: decided with the rules and the state as the
    /// service has them, at the time the gate decided. An entry those rules refuse happened all
    /// the same: it is logged as the gate's admission with the refusal as its conflict, and
    /// changes nothing (the organizer sees it among the conflicts).
    private func recordRuled(_ admission: OfflineAdmissions.Admission, device: Device, bearerToken: String) async throws -> OfflineCheckinResult {
        let attempt = CheckinAttempt(
            deviceId: device.id,
            deviceTokenHash: TokenHash.of(bearerToken),
            gateId: device.gateId,
            scanId: admission.scanId,
            mode: .commit,
            payloadHash: admission.payloadHash,
            code: (device.eventId, admission.tokenHash),
            direction: admission.direction,
            at: admission.at,
            day: Self.day(of: admission.at, in: timeZone)
        )
        let decision: CheckinDecision
        switch try await store.checkin(attempt) {
        case .unauthorized: throw CheckinError.unauthorized
        case .wrongGate(let registered): throw CheckinError.wrongGate(registered: registered)
        case .scanIdReused:
            return OfflineCheckinResult(
                scanId: admission.scanId,
                outcome: .refused,
                result: .invalid,
                detail: "scanId was used before by this gate for another code"
            )
        case .decided(let decided): decision = decided
        }
        let conflict = decision.result.passes ? nil : decision.result
        // Also on a replay: the mark may be all that an interrupted upload left undone.
        try await store.markOffline(deviceId: device.id, scanId: admission.scanId, at: admission.at, clock: admission.clock, conflict: conflict)
        let recording: OfflineRecording =
            decision.replayed ? .replayed(decision.result) : conflict.map(OfflineRecording.conflict) ?? .recorded
        return OfflineCheckinResult(scanId: admission.scanId, recording: recording)
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
            let direction = checkin.direction ?? .entry
            admissions.append(
                (
                    index,
                    OfflineAdmissions.Admission(
                        scanId: checkin.scanId,
                        tokenHash: code.tokenHash,
                        at: at,
                        clock: checkin.clock.rawValue,
                        direction: direction,
                        payloadHash: Self.payloadHash(text, direction: direction)
                    )
                )
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

extension OfflineCheckinResult {
    init(scanId: String, recording: OfflineRecording) {
        switch recording {
        case .recorded: self.init(scanId: scanId, outcome: .recorded, result: .valid)
        case .replayed(let result): self.init(scanId: scanId, outcome: .replayed, result: result)
        case .conflict(let result): self.init(scanId: scanId, outcome: .conflict, result: result)
        }
    }
}
