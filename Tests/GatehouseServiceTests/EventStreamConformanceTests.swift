import Foundation
import GatehouseCore
import GatehouseStorage
import Testing

@testable import GatehouseDomain

/// The check-in log in commit order (`GatehouseStore.checkinStream`), in every store: a reader
/// paging from its last place while eight scanners log at once gets every row once, in order;
/// a row marked an offline conflict later comes again at a new place.
@Suite struct EventStreamConformanceTests {
    @Test(arguments: StoreKind.available)
    func a_reader_paging_while_scanners_log_gets_every_row_once(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 300))
        let scanners = 8
        let perScanner = 50
        let reader = Task {
            var seen: [StreamedCheckin] = []
            let deadline = ContinuousClock.now + .seconds(60)
            while seen.count < scanners * perScanner, ContinuousClock.now < deadline {
                let page = try await f.gatehouse.checkinStream(eventId: f.event.id, after: seen.last?.position, limit: 7)
                seen += page
                if page.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
            }
            return seen
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for scanner in 0..<scanners {
                group.addTask {
                    for index in 0..<perScanner {
                        // Some codes twice: refusals are logged too.
                        let ticket = tickets[(scanner * perScanner + index) % tickets.count]
                        _ = try await f.checkin(ticket.qrData, scanId: "s\(scanner)-\(index)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let seen = try await reader.value
        #expect(seen.count == scanners * perScanner)
        #expect(Set(seen.map(\.entry.id)).count == seen.count, "none twice")
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.position < $1.position }, "in order")
        let log = try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter(limit: 1000))
        #expect(Set(log.map(\.id)) == Set(seen.map(\.entry.id)))
        #expect(seen.filter { $0.entry.result == .alreadyUsed }.count == scanners * perScanner - tickets.count)

        // Nothing more, from the last place.
        try await f.feedSettled()
        #expect(try await f.gatehouse.checkinStream(eventId: f.event.id, after: seen.last?.position, limit: 10).isEmpty)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func a_row_marked_offline_later_comes_again_at_a_new_place(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let ticket = try await f.issue()
        _ = try await f.checkin(ticket.qrData, scanId: "gate-1")
        _ = try await f.checkin(ticket.qrData, scanId: "gate-2")
        try await f.feedSettled()
        let first = try await f.gatehouse.checkinStream(eventId: f.event.id, after: nil, limit: 10)
        #expect(first.map(\.entry.scanId) == ["gate-1", "gate-2"])
        let second = try #require(first.last)
        try await f.store.markOffline(deviceId: f.device.id, scanId: "gate-2", at: second.entry.at, clock: "synchronized", conflict: .alreadyUsed)
        try await f.feedSettled()
        let again = try await f.gatehouse.checkinStream(eventId: f.event.id, after: second.position, limit: 10)
        #expect(again.count == 1)
        #expect(again.first?.entry.id == second.entry.id && again.first?.entry.conflict == .alreadyUsed && again.first?.entry.offline == true)
        #expect(again.first.map { $0.position > second.position } == true)
        // From the start, the row is where it is now, once.
        let whole = try await f.gatehouse.checkinStream(eventId: f.event.id, after: nil, limit: 10)
        #expect(whole.map(\.entry.scanId) == ["gate-1", "gate-2"] && whole.last?.entry.conflict == .alreadyUsed)
        await f.stop()
    }
}

/// Webhooks in every store: one starts at the end of its event's stream, a claim holds it from
/// a second deliverer until it is settled, a failure keeps its place and waits.
@Suite struct WebhookConformanceTests {
    @Test(arguments: StoreKind.available)
    func a_webhook_is_claimed_once_and_moves_on_only_when_delivered(_ kind: StoreKind) async throws {
        // Alone: a service running beside it (FleetRouteTests) shares its clock and would claim
        // this webhook between the test's own claims.
        let folder = try TemporaryFolder()
        let f = try await Fixture(store: try await kind.makeAlone(in: folder), folder: folder)
        let early = try await f.issue()
        _ = try await f.checkin(early.qrData, scanId: "before")
        try await f.feedSettled()
        let added = try await f.gatehouse.addWebhook(eventId: f.event.id, url: "https://signage.example.org/in", secret: nil)
        #expect(added.secret.hasPrefix("whsec_"))
        let later = try await f.issue()
        _ = try await f.checkin(later.qrData, scanId: "after")
        try await f.feedSettled()

        let now = f.clock.now
        let claimed = try await f.store.claimWebhooks(at: now, leaseUntil: now.addingTimeInterval(60), limit: 10)
            .filter { $0.webhook.id == added.webhook.id }
        let claim = try #require(claimed.first)
        #expect(claim.secret == added.secret && claim.deviceStates == "{}")
        // Another deliverer finds it taken.
        #expect(
            try await f.store.claimWebhooks(at: now, leaseUntil: now.addingTimeInterval(60), limit: 10).allSatisfy {
                $0.webhook.id != added.webhook.id
            }
        )
        // It starts after what was logged before it existed.
        let rows = try await f.gatehouse.checkinStream(eventId: f.event.id, after: claim.cursor, limit: 10)
        #expect(rows.map(\.entry.scanId) == ["after"])

        // The receiver was down: the place stays, the next try waits.
        try await f.store.settleWebhook(id: added.webhook.id, .failed(error: "HTTP 503", next: now.addingTimeInterval(4)))
        #expect(
            try await f.store.claimWebhooks(at: now.addingTimeInterval(1), leaseUntil: now.addingTimeInterval(60), limit: 10).allSatisfy {
                $0.webhook.id != added.webhook.id
            }
        )
        let failed = try #require(try await f.store.webhook(id: added.webhook.id))
        #expect(failed.failures == 1 && failed.lastError == "HTTP 503" && failed.deliveredAt == nil)
        let again = try #require(
            try await f.store.claimWebhooks(at: now.addingTimeInterval(5), leaseUntil: now.addingTimeInterval(65), limit: 10)
                .first { $0.webhook.id == added.webhook.id }
        )
        #expect(again.cursor == claim.cursor)

        // Taken: it moves on, and its failures are forgotten.
        try await f.store.settleWebhook(
            id: added.webhook.id,
            .delivered(cursor: rows[0].position, deviceStates: #"{"D1":"ok "}"#, at: now.addingTimeInterval(5), next: now.addingTimeInterval(5))
        )
        let moved = try #require(
            try await f.store.claimWebhooks(at: now.addingTimeInterval(6), leaseUntil: now.addingTimeInterval(66), limit: 10)
                .first { $0.webhook.id == added.webhook.id }
        )
        #expect(moved.cursor == rows[0].position && moved.deviceStates == #"{"D1":"ok "}"#)
        #expect(moved.webhook.failures == 0 && moved.webhook.lastError == nil && moved.webhook.deliveredAt != nil)
        #expect(try await f.gatehouse.checkinStream(eventId: f.event.id, after: moved.cursor, limit: 10).isEmpty)

        #expect(try await f.gatehouse.webhooks(eventId: f.event.id).map(\.id) == [added.webhook.id])
        try await f.gatehouse.deleteWebhook(id: added.webhook.id)
        await #expect(throws: NotFoundError.self) { try await f.gatehouse.deleteWebhook(id: added.webhook.id) }
        #expect(try await f.gatehouse.webhooks(eventId: f.event.id).isEmpty)
        await f.stop()
    }
}
