import Foundation
import GatehouseCore
import GatehouseStorage
import Logging
import Testing

@testable import GatehouseAPI
@testable import GatehouseDomain
@testable import GatehouseService
@testable import GatehouseWeb

/// The offline-gate parts of the store, the same on every store: the change feed (cursor,
/// pages, commit order), uploaded admissions (recorded once, replayed, conflicts) and the report.
@Suite struct OfflineConformanceTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func pull(_ f: Fixture, after cursor: String? = nil, limit: Int? = nil) async throws -> TicketSyncPage {
        try await f.gatehouse.syncTickets(bearerToken: f.deviceToken, after: cursor, limit: limit)
    }

    /// Pulls pages until complete, as a gate does.
    func pullAll(_ f: Fixture, after cursor: String? = nil, limit: Int) async throws -> (tickets: [SyncedTicket], cursor: String) {
        var cursor = cursor
        var tickets: [SyncedTicket] = []
        while true {
            let page = try await pull(f, after: cursor, limit: limit)
            tickets += page.tickets
            cursor = page.cursor
            if page.complete { return (tickets, page.cursor) }
        }
    }

    @Test(arguments: StoreKind.available)
    func the_change_feed_pages_from_a_cursor_and_carries_every_change(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let issued = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(holderName: "Private Person"), count: 25))
        let other = try await f.gatehouse.createEvent(name: "Other", startsAt: nil, endsAt: nil)
        _ = try await f.gatehouse.issueTickets(eventId: other.id, [.init()])

        // The first pull, in pages of 10: every ticket of the device's event once, no others.
        try await f.feedSettled()
        let first = try await pullAll(f, limit: 10)
        #expect(first.tickets.map(\.number).sorted() == Array(1...25))
        #expect(first.tickets.allSatisfy { $0.status == .unused && $0.usedAt == nil })
        let byNumber = Dictionary(uniqueKeysWithValues: first.tickets.map { ($0.number, $0) })
        for ticket in issued {
            let code = try #require(TicketCode.parse(ticket.qrData))
            #expect(byNumber[ticket.ticket.number]?.hash == Base64URL.encode(TokenHash.of(code.token)), "the token's hash, never the token")
        }
        // Nothing new: an empty, complete page with the same cursor.
        let idle = try await pull(f, after: first.cursor)
        #expect(idle.tickets.isEmpty && idle.complete && idle.cursor == first.cursor)
        #expect(abs(Double(idle.serverTime) - f.clock.now.timeIntervalSince1970 * 1000) < 2)

        // Changes after the cursor: a check-in, a revoke, a re-issue; each ticket once, as it is now.
        _ = try await f.checkin(issued[0].qrData)
        _ = try await f.gatehouse.revokeTicket(id: issued[1].ticket.id)
        let reissued = try await f.gatehouse.reissueTicket(id: issued[2].ticket.id)
        try await f.feedSettled()
        let delta = try await pullAll(f, after: first.cursor, limit: 2)
        #expect(delta.tickets.map(\.number).sorted() == [1, 2, 3])
        let changed = Dictionary(uniqueKeysWithValues: delta.tickets.map { ($0.number, $0) })
        #expect(changed[1]?.status == .used && changed[1]?.usedGate == "north-1" && changed[1]?.usedAt == f.clock.now.millis)
        #expect(changed[2]?.status == .revoked)
        let newCode = try #require(TicketCode.parse(reissued.qrData))
        #expect(changed[3]?.hash == Base64URL.encode(TokenHash.of(newCode.token)))

        // A revoked device pulls nothing; a made-up cursor or limit is a clear error.
        await #expect(throws: InvalidInputError.self) { try await pull(f, after: "not-a-cursor") }
        await #expect(throws: InvalidInputError.self) { try await pull(f, limit: 0) }
        _ = try await f.gatehouse.revokeDevice(id: f.device.id)
        await #expect(throws: Gatehouse.CheckinError.unauthorized) { try await pull(f) }
        await f.stop()
    }

    /// Pulls from the start that find nothing cost nothing: a gate of an event without tickets
    /// yet (or whose first changes the feed still holds back) keeps asking every 2 s. Pulls that
    /// hand out the event are limited.
    @Test(arguments: StoreKind.available)
    func empty_pulls_from_the_start_are_not_limited(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        for _ in 0..<10 {
            let page = try await pull(f)
            #expect(page.tickets.isEmpty && page.complete)
        }
        _ = try await f.issue()
        try await f.feedSettled()
        for _ in 0..<3 { #expect(try await pull(f).tickets.count == 1) }
        await #expect(throws: Gatehouse.RateLimited.self) { try await pull(f) }
        await f.stop()
    }

    /// The key gates sign their peer records with: the same on every page, another event's
    /// differs, and revoking one of the event's kiosks (not a phone) makes a new one.
    @Test(arguments: StoreKind.available)
    func the_peer_key_comes_with_every_page_and_changes_when_a_kiosk_is_revoked(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let key = try #require(try await pull(f).peerKey)
        #expect(Base64URL.decode(key.key)?.count == 32 && key.id != key.key)
        #expect(try await pull(f).peerKey == key)
        let other = try await f.gatehouse.createEvent(name: "Other", startsAt: nil, endsAt: nil)
        #expect(try await f.gatehouse.peerKey(eventId: other.id) != key)
        let (phone, _) = try await f.gatehouse.addDevice(name: "phone", gateId: "door-1", eventId: f.event.id, kind: .scanner)
        _ = try await f.gatehouse.revokeDevice(id: phone.id)
        #expect(try await pull(f).peerKey == key, "a phone never held the key")
        let (south, _) = try await f.gatehouse.addDevice(name: "south", gateId: "south-1", eventId: f.event.id)
        _ = try await f.gatehouse.revokeDevice(id: south.id)
        let rotated = try #require(try await pull(f).peerKey)
        #expect(rotated.id != key.id && rotated.key != key.key)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func uploads_record_once_replay_and_report_conflicts(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 5))
        let (south, southToken) = try await f.gatehouse.addDevice(name: "south", gateId: "south-1", eventId: f.event.id)
        func hash(_ ticket: IssuedTicket) -> String { Base64URL.encode(TokenHash.of(TicketCode.parse(ticket.qrData)!.token)) }
        let outage = f.clock.now
        func admission(_ ticket: IssuedTicket, _ scanId: String, secondsIntoOutage: Double) -> OfflineCheckin {
            OfflineCheckin(
                scanId: scanId,
                code: ticket.qrData,
                hash: hash(ticket),
                ticketNumber: ticket.ticket.number,
                at: outage.addingTimeInterval(secondsIntoOutage).millis,
                clock: .serverMonotonic
            )
        }
        // Online before the outage: ticket 0 at north-1, with a scanId (its answer was lost).
        _ = try await f.checkin(tickets[0].qrData, scanId: "lost-answer")
        f.clock.advance(60)

        let northUpload = OfflineUpload(
            deviceId: f.device.id,
            gateId: "north-1",
            checkins: [
                admission(tickets[0], "lost-answer", secondsIntoOutage: 1),  // the gate decided offline too
                admission(tickets[1], "n-1", secondsIntoOutage: 2),
                admission(tickets[2], "n-2", secondsIntoOutage: 3),
            ]
        )
        let north = try await f.gatehouse.uploadOffline(northUpload, bearerToken: f.deviceToken, logger: Self.logger)
        #expect(north.results.map(\.outcome) == [.replayed, .recorded, .recorded])
        #expect(north.results[0].result == .valid)
        // The same upload again (an answer lost on the way back): nothing is written twice.
        let again = try await f.gatehouse.uploadOffline(northUpload, bearerToken: f.deviceToken, logger: Self.logger)
        #expect(again.results.map(\.outcome) == [.replayed, .replayed, .replayed])

        // South admitted ticket 2 during the same outage, and ticket 3, revoked meanwhile.
        _ = try await f.gatehouse.revokeTicket(id: tickets[3].ticket.id)
        let southUpload = OfflineUpload(
            deviceId: south.id,
            gateId: "south-1",
            checkins: [admission(tickets[2], "s-1", secondsIntoOutage: 5), admission(tickets[3], "s-2", secondsIntoOutage: 6)]
        )
        let southAnswer = try await f.gatehouse.uploadOffline(southUpload, bearerToken: southToken, logger: Self.logger)
        #expect(southAnswer.results.map(\.outcome) == [.conflict, .conflict])
        #expect(southAnswer.results.map(\.result) == [.alreadyUsed, .revoked])

        // The tickets: used at the offline gate and time; the revoked one stays revoked.
        let second = try await f.gatehouse.ticket(id: tickets[2].ticket.id)
        #expect(second.status == .used && second.usedGate == "north-1" && second.usedAt == outage.addingTimeInterval(3).truncatedToMillis)
        #expect(try await f.gatehouse.ticket(id: tickets[3].ticket.id).status == .revoked)

        // The report: each conflict names both admissions; the log keeps every row.
        let conflicts = try await f.gatehouse.conflicts(eventId: f.event.id)
        #expect(conflicts.count == 2)
        let used = try #require(conflicts.first { $0.reason == .alreadyUsed })
        #expect(used.ticketNumber == tickets[2].ticket.number)
        #expect(used.offline.gateId == "south-1" && used.offline.offline && used.offline.at == outage.addingTimeInterval(5).truncatedToMillis)
        #expect(used.first?.gateId == "north-1" && used.first?.offline == true && used.first?.scanId == "n-2")
        #expect(conflicts.contains { $0.reason == .revoked && $0.first == nil })
        #expect(try await f.gatehouse.event(id: f.event.id).conflicts == 2)
        let log = try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter(limit: 100))
        #expect(log.filter { $0.ticketId == tickets[2].ticket.id }.count == 2, "both admissions are in the log")
        #expect(log.filter { $0.scanId == "lost-answer" }.count == 1, "a lost online answer is not logged twice")

        // Refused one by one (the rest of the upload goes on): a hash that is not the code's, no
        // code at all, a scanId twice, a time from nowhere or ahead of the service's clock.
        var bad = northUpload
        var noCode = admission(tickets[4], "b-2", secondsIntoOutage: 1)
        noCode.code = nil
        var mismatched = admission(tickets[4], "b-3", secondsIntoOutage: 1)
        mismatched.hash = hash(tickets[0])
        bad.checkins = [
            OfflineCheckin(scanId: "b-1", code: tickets[4].qrData, hash: "nope", ticketNumber: 1, at: 0, clock: .synchronized),
            noCode, mismatched,
            admission(tickets[4], "b-4", secondsIntoOutage: 1), admission(tickets[4], "b-4", secondsIntoOutage: 2),
            admission(tickets[4], "b-5", secondsIntoOutage: 10 * 86_400),
            admission(tickets[4], "b-6", secondsIntoOutage: 60 + 180),
        ]
        let refused = try await f.gatehouse.uploadOffline(bad, bearerToken: f.deviceToken, logger: Self.logger)
        #expect(refused.results.map(\.scanId) == ["b-1", "b-2", "b-3", "b-4", "b-4", "b-5", "b-6"])
        #expect(refused.results.map(\.outcome) == [.refused, .refused, .refused, .recorded, .refused, .refused, .refused])
        #expect(refused.results.allSatisfy { $0.outcome != .refused || $0.detail?.isEmpty == false }, "each refusal says why")
        #expect(try await f.gatehouse.ticket(id: tickets[4].ticket.id).status == .used, "the good entry among them was recorded")
        await #expect(throws: Gatehouse.CheckinError.wrongGate(registered: "north-1")) {
            try await f.gatehouse.uploadOffline(
                OfflineUpload(deviceId: f.device.id, gateId: "south-1", checkins: []),
                bearerToken: f.deviceToken,
                logger: Self.logger
            )
        }
        await f.stop()
    }

    /// The snapshot gives every device every ticket's hash, so an upload of hashes proved nothing:
    /// any gate box or paired phone could mark the whole event used. The scanned code is the proof.
    @Test(arguments: StoreKind.available)
    func a_device_cannot_burn_tickets_it_never_saw(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 20))
        let at = f.clock.now.millis
        try await f.feedSettled()
        let snapshot = try await pullAll(f, limit: 1000).tickets
        let hashesOnly = snapshot.enumerated().map { index, ticket in
            OfflineCheckin(scanId: "h-\(index)", code: nil, hash: ticket.hash, ticketNumber: ticket.number, at: at, clock: .synchronized)
        }
        let answer = try await f.gatehouse.uploadOffline(
            OfflineUpload(deviceId: f.device.id, gateId: "north-1", checkins: hashesOnly),
            bearerToken: f.deviceToken,
            logger: Self.logger
        )
        #expect(answer.results.count == 20 && answer.results.allSatisfy { $0.outcome == .refused })

        // Codes made up for the event: answered as naming no ticket, and nothing is written.
        let logBefore = try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter(limit: 1000)).count
        let madeUp = (0..<200).map { index in
            OfflineCheckin(
                scanId: "m-\(index)",
                code: TicketCode(eventID: f.event.id, token: Secret.newTicketToken()).text,
                ticketNumber: index + 1,
                at: at,
                clock: .synchronized
            )
        }
        let junk = try await f.gatehouse.uploadOffline(
            OfflineUpload(deviceId: f.device.id, gateId: "north-1", checkins: madeUp),
            bearerToken: f.deviceToken,
            logger: Self.logger
        )
        #expect(junk.results.allSatisfy { $0.outcome == .conflict && $0.result == .notFound })
        #expect(try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter(limit: 1000)).count == logBefore, "no row per made-up code")
        #expect(try await f.gatehouse.conflicts(eventId: f.event.id).isEmpty)
        for ticket in tickets { #expect(try await f.gatehouse.ticket(id: ticket.ticket.id).status == .unused) }

        // A staff scanner's phone neither uploads nor pulls the snapshot.
        let (phone, phoneToken) = try await f.gatehouse.addDevice(name: "phone", gateId: "door-1", eventId: f.event.id, kind: .scanner)
        await #expect(throws: Gatehouse.CheckinError.kioskOnly) {
            try await f.gatehouse.uploadOffline(
                OfflineUpload(deviceId: phone.id, gateId: "door-1", checkins: []),
                bearerToken: phoneToken,
                logger: Self.logger
            )
        }
        await #expect(throws: Gatehouse.CheckinError.kioskOnly) {
            try await f.gatehouse.syncTickets(bearerToken: phoneToken, after: nil, limit: nil)
        }
        await f.stop()
    }

    /// Two gates admitted one ticket during an outage; the later admission uploaded first. The
    /// ticket's use is the earlier one, and the conflict lists the pair in time order — also
    /// when the later admission was an online check-in.
    @Test(arguments: StoreKind.available)
    func a_tickets_use_is_its_earliest_admission_whatever_order_the_uploads_arrive_in(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 2))
        let (south, southToken) = try await f.gatehouse.addDevice(name: "south", gateId: "south-1", eventId: f.event.id)
        let outage = f.clock.now
        func upload(_ device: Device, _ token: String, _ ticket: IssuedTicket, _ scanId: String, seconds: Double) async throws -> OfflineCheckinResult
        {
            let checkin = OfflineCheckin(
                scanId: scanId,
                code: ticket.qrData,
                ticketNumber: ticket.ticket.number,
                at: outage.addingTimeInterval(seconds).millis,
                clock: .serverMonotonic
            )
            let answer = try await f.gatehouse.uploadOffline(
                OfflineUpload(deviceId: device.id, gateId: device.gateId, checkins: [checkin]),
                bearerToken: token,
                logger: Self.logger
            )
            return try #require(answer.results.first)
        }
        f.clock.advance(30)
        // South admitted at 3.5 s and uploads first; north admitted at 1 s and uploads second.
        #expect(try await upload(south, southToken, tickets[0], "s-1", seconds: 3.5).outcome == .recorded)
        #expect(try await upload(f.device, f.deviceToken, tickets[0], "n-1", seconds: 1).outcome == .recorded)
        let ticket = try await f.gatehouse.ticket(id: tickets[0].ticket.id)
        #expect(ticket.usedGate == "north-1" && ticket.usedAt == outage.addingTimeInterval(1).truncatedToMillis)
        var conflicts = try await f.gatehouse.conflicts(eventId: f.event.id)
        #expect(conflicts.count == 1)
        #expect(conflicts.first?.first?.gateId == "north-1" && conflicts.first?.offline.gateId == "south-1")
        #expect(conflicts.first?.reason == .alreadyUsed)
        #expect(try await f.checkin(tickets[0].qrData).firstUsedGate == "north-1", "a later scan names the first gate")

        // Online at 20 s (north stayed connected), south's offline admission at 12 s uploads later.
        f.clock.advance(-10)
        _ = try await f.checkin(tickets[1].qrData, scanId: "online")
        f.clock.advance(30)
        #expect(try await upload(south, southToken, tickets[1], "s-2", seconds: 12).outcome == .recorded)
        let second = try await f.gatehouse.ticket(id: tickets[1].ticket.id)
        #expect(second.usedGate == "south-1" && second.usedAt == outage.addingTimeInterval(12).truncatedToMillis)
        conflicts = try await f.gatehouse.conflicts(eventId: f.event.id)
        let pair = try #require(conflicts.first { $0.ticketNumber == tickets[1].ticket.number })
        #expect(pair.first?.gateId == "south-1" && pair.first?.offline == true)
        #expect(pair.offline.gateId == "north-1" && pair.offline.scanId == "online")
        #expect(try #require(pair.first?.at) < pair.offline.at, "the pair in time order")
        await f.stop()
    }

    /// An offline admission of a code whose ticket was re-issued during the outage: a conflict
    /// that names the ticket (its old code is kept as retired), never a silent success.
    @Test(arguments: StoreKind.available)
    func an_old_code_of_a_reissued_ticket_admitted_offline_is_a_conflict_naming_its_ticket(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let ticket = try await f.issue()
        _ = try await f.gatehouse.reissueTicket(id: ticket.ticket.id)
        let answer = try await f.gatehouse.uploadOffline(
            OfflineUpload(
                deviceId: f.device.id,
                gateId: "north-1",
                checkins: [
                    OfflineCheckin(
                        scanId: "old",
                        code: ticket.qrData,
                        ticketNumber: ticket.ticket.number,
                        at: f.clock.now.millis,
                        clock: .synchronized
                    )
                ]
            ),
            bearerToken: f.deviceToken,
            logger: Self.logger
        )
        #expect(answer.results.first?.outcome == .conflict && answer.results.first?.result == .notFound)
        let conflicts = try await f.gatehouse.conflicts(eventId: f.event.id)
        #expect(conflicts.count == 1 && conflicts.first?.ticketNumber == ticket.ticket.number && conflicts.first?.reason == .notFound)
        #expect(try await f.gatehouse.ticket(id: ticket.ticket.id).status == .unused, "the new code still admits")
        await f.stop()
    }

    /// One device cannot keep the service busy with uploads: past a burst, it is told to wait.
    @Test func uploads_are_rate_limited_per_device() async throws {
        let f = try await Fixture(.sqlite)
        let (other, otherToken) = try await f.gatehouse.addDevice(name: "other", gateId: "west-1", eventId: f.event.id)
        func flood(_ device: Device, _ token: String, _ round: Int) async throws -> OfflineUploadAnswer {
            let checkins = (0..<1000).map { index in
                OfflineCheckin(
                    scanId: "\(round)-\(index)",
                    code: TicketCode(eventID: f.event.id, token: Secret.newTicketToken()).text,
                    ticketNumber: 1,
                    at: f.clock.now.millis,
                    clock: .synchronized
                )
            }
            return try await f.gatehouse.uploadOffline(
                OfflineUpload(deviceId: device.id, gateId: device.gateId, checkins: checkins),
                bearerToken: token,
                logger: Self.logger
            )
        }
        var limited: Gatehouse.RateLimited?
        for round in 0..<10 where limited == nil {
            do { _ = try await flood(f.device, f.deviceToken, round) } catch let error as Gatehouse.RateLimited { limited = error }
        }
        #expect(limited != nil && (limited?.retryAfter ?? 0) >= 1, "a flood of uploads is told to wait")
        #expect(try await flood(other, otherToken, 99).results.count == 1000, "another device is not held up by it")
        await f.stop()
    }

    /// Ids are compared byte for byte in every store: `scan-1` and `scan-1 ` are two scans (a
    /// store that padded them made one upload leave a ticket unused that was then admitted twice).
    @Test(arguments: StoreKind.available)
    func scan_ids_differing_only_by_a_trailing_space_are_two_scans(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 3))
        let at = f.clock.now.millis
        let answer = try await f.gatehouse.uploadOffline(
            OfflineUpload(
                deviceId: f.device.id,
                gateId: "north-1",
                checkins: [
                    OfflineCheckin(scanId: "scan-1", code: tickets[0].qrData, ticketNumber: 1, at: at, clock: .synchronized),
                    OfflineCheckin(scanId: "scan-1 ", code: tickets[1].qrData, ticketNumber: 2, at: at, clock: .synchronized),
                ]
            ),
            bearerToken: f.deviceToken,
            logger: Self.logger
        )
        #expect(answer.results.map(\.outcome) == [.recorded, .recorded])
        for ticket in tickets.prefix(2) { #expect(try await f.gatehouse.ticket(id: ticket.ticket.id).status == .used) }
        #expect(try await f.checkin(tickets[0].qrData).result == .alreadyUsed)
        // Online too: the same scanId with a space is another scan, not a retry of the first.
        #expect(try await f.checkin(tickets[2].qrData, scanId: "scan-2").result == .valid)
        #expect(try await f.checkin(tickets[0].qrData, scanId: "scan-2 ").result == .alreadyUsed)
        await f.stop()
    }

    /// Tokens never seen before cost a database read each: at most two such reads run at once,
    /// so a flood of made-up tokens cannot take the pool from the gates (whose tokens are known).
    @Test func made_up_tokens_are_looked_up_a_few_at_a_time() async throws {
        let directory = DeviceDirectory(strangerWait: .milliseconds(50))
        let releases = [AsyncStream<Void>.makeStream(), AsyncStream<Void>.makeStream()]
        let started = AsyncStream<Void>.makeStream()
        async let first: Device? = directory.device(tokenHash: [1]) {
            started.continuation.yield()
            for await _ in releases[0].stream { break }
            return nil
        }
        async let second: Device? = directory.device(tokenHash: [2]) {
            started.continuation.yield()
            for await _ in releases[1].stream { break }
            return nil
        }
        var iterator = started.stream.makeAsyncIterator()
        _ = await iterator.next()
        _ = await iterator.next()
        await #expect(throws: DeviceDirectory.Busy.self) { _ = try await directory.device(tokenHash: [3]) { nil } }
        for release in releases { release.continuation.finish() }
        _ = try await (first, second)
        #expect(try await directory.device(tokenHash: [3]) { nil } == nil, "free again once those ended")
    }

    /// A restart makes every gate's token new at once: lookups past the two running wait their
    /// turn and are answered, none is told "busy".
    @Test func a_burst_of_new_tokens_waits_its_turn() async throws {
        // A wait long enough for a loaded test machine: what is tested is waiting, not its length.
        let directory = DeviceDirectory(strangerWait: .seconds(60))
        let device = Device(id: "D1", name: "gate", gateId: "g", eventId: "E1", revoked: false, createdAt: Date())
        let found = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask {
                    try await directory.device(tokenHash: [UInt8(index % 4)]) {
                        try await Task.sleep(for: .milliseconds(5))
                        return device
                    } != nil
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(found == 64)
    }

    /// Ticket changes numbered while others commit: a pull never skips a change that commits
    /// after it (the counter is handed out in commit order).
    @Test(arguments: StoreKind.available)
    func concurrent_changes_are_never_skipped(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 200))
        try await f.feedSettled()
        var cursor = try await pullAll(f, limit: 1000).cursor
        var seenUsed = Set<Int>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for chunk in stride(from: 0, to: tickets.count, by: 25) {
                group.addTask {
                    for ticket in tickets[chunk..<min(chunk + 25, tickets.count)] { _ = try await f.checkin(ticket.qrData) }
                }
            }
            // Pull while the check-ins commit.
            for _ in 0..<20 {
                let page = try await pullAll(f, after: cursor, limit: 50)
                for ticket in page.tickets where ticket.status == .used { seenUsed.insert(ticket.number) }
                cursor = page.cursor
                try await Task.sleep(for: .milliseconds(5))
            }
            try await group.waitForAll()
        }
        try await f.feedSettled()
        let rest = try await pullAll(f, after: cursor, limit: 50)
        for ticket in rest.tickets where ticket.status == .used { seenUsed.insert(ticket.number) }
        #expect(seenUsed == Set(tickets.map(\.ticket.number)), "every check-in reached the feed: \(tickets.count - seenUsed.count) missed")
        await f.stop()
    }
}

@Suite struct ChangeCursorTests {
    /// A gate keeps the cursor as digits and sends it back unescaped; a cursor from before
    /// PostgreSQL stamped transactions reads as transaction 0.
    @Test func cursors_are_digits_and_read_back_as_written() {
        let plain = ChangeCursor(position: 1234)
        #expect(plain.description == "1234" && ChangeCursor(text: "1234") == plain)
        let stamped = ChangeCursor(transaction: 987_654, position: 42)
        #expect(stamped.description == "987654" + String(repeating: "0", count: 17) + "42")
        #expect(ChangeCursor(text: stamped.description) == stamped)
        #expect(ChangeCursor(transaction: 1, position: Int64.max) > ChangeCursor(transaction: 0, position: Int64.max))
        for made in ["", "-1", "12a", " 12", String(repeating: "9", count: 39), "99999999999999999999" + String(repeating: "0", count: 19)] {
            #expect(ChangeCursor(text: made) == nil, "\(made)")
        }
    }
}
