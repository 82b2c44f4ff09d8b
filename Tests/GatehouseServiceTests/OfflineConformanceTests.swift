import Foundation
import GatehouseCore
import GatehouseStore
import Logging
import Testing

@testable import GatehouseService

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

        // Refused whole: a bad hash, a duplicate scanId, a time from nowhere, another gate's device.
        var bad = northUpload
        bad.checkins = [
            admission(tickets[4], "b-1", secondsIntoOutage: 1),
            OfflineCheckin(scanId: "b-2", hash: "nope", ticketNumber: 1, at: 0, clock: .synchronized),
        ]
        await #expect(throws: InvalidInputError.self) { try await f.gatehouse.uploadOffline(bad, bearerToken: f.deviceToken, logger: Self.logger) }
        bad.checkins = [admission(tickets[4], "b-1", secondsIntoOutage: 1), admission(tickets[4], "b-1", secondsIntoOutage: 2)]
        await #expect(throws: InvalidInputError.self) { try await f.gatehouse.uploadOffline(bad, bearerToken: f.deviceToken, logger: Self.logger) }
        bad.checkins = [admission(tickets[4], "b-1", secondsIntoOutage: 10 * 86_400)]
        await #expect(throws: InvalidInputError.self) { try await f.gatehouse.uploadOffline(bad, bearerToken: f.deviceToken, logger: Self.logger) }
        await #expect(throws: Gatehouse.CheckinError.wrongGate(registered: "north-1")) {
            try await f.gatehouse.uploadOffline(
                OfflineUpload(deviceId: f.device.id, gateId: "south-1", checkins: []),
                bearerToken: f.deviceToken,
                logger: Self.logger
            )
        }
        #expect(try await f.gatehouse.ticket(id: tickets[4].ticket.id).status == .unused, "nothing of a refused upload was stored")
        await f.stop()
    }

    /// Ticket changes numbered while others commit: a pull never skips a change that commits
    /// after it (the counter is handed out in commit order).
    @Test(arguments: StoreKind.available)
    func concurrent_changes_are_never_skipped(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 200))
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
        let rest = try await pullAll(f, after: cursor, limit: 50)
        for ticket in rest.tickets where ticket.status == .used { seenUsed.insert(ticket.number) }
        #expect(seenUsed == Set(tickets.map(\.ticket.number)), "every check-in reached the feed: \(tickets.count - seenUsed.count) missed")
        await f.stop()
    }
}
