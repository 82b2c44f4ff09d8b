import Crypto
import Foundation
import GatehouseCore
import KioskCore
import Logging
import SQLiteSupport
import Synchronization
import Testing

@testable import KioskOffline

/// A clock the test sets: boot id, monotonic time, synchronised flag, wall clock.
final class FakeClock: Sendable {
    struct Now: Sendable {
        var boot = "boot-1"
        var bootTime: Int64 = 5_000_000_000
        var synchronized = false
        var wall: Int64 = 1_000
    }
    let now = Mutex(Now())

    var trusted: TrustedClock {
        TrustedClock(
            bootID: { self.now.withLock { $0.boot } },
            bootTime: { self.now.withLock { $0.bootTime } },
            isSynchronized: { self.now.withLock { $0.synchronized } },
            wallClock: { self.now.withLock { $0.wall } }
        )
    }

    func advance(seconds: Int64) { now.withLock { $0.bootTime += seconds * 1_000_000_000 } }
}

/// A folder removed when the test ends.
final class Folder: @unchecked Sendable {
    let path = NSTemporaryDirectory() + "/kiosk-offline-" + UUID().uuidString
    init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

struct Tickets {
    static let event = "EABCDEFG"
    static func code(_ n: Int) -> TicketCode {
        TicketCode(eventID: event, token: Secret.newTicketToken())
    }
    static func synced(_ code: TicketCode, number: Int, status: SyncedTicket.Status = .unused, expiresAt: Int64? = nil) -> SyncedTicket {
        SyncedTicket(number: number, hash: Base64URL.encode(SnapshotDecider.sha256(Array(code.token.utf8))), status: status, expiresAt: expiresAt)
    }
}

@Suite struct OfflineSnapshotTests {
    /// A hostile service or a tampered state file must not trap the daemon (it would crash-loop,
    /// even while online): a serverTime of Int64.max is refused with the page, and a file with a
    /// meta key twice or a boot time of Int64.min reads as "no trusted contact".
    @Test func hostile_times_and_a_tampered_file_are_refused_without_a_trap() throws {
        let rig = try SnapshotDeciderTests.Rig()
        let page = TicketSyncPage(eventId: Tickets.event, serverTime: Int64.max, cursor: "1", complete: true, tickets: [])
        #expect(throws: SnapshotError.self) { try rig.snapshot.apply(page, contact: rig.clock.trusted.contact(serverTime: Int64.max)) }
        try rig.sync()
        // Tamper with the file as an attacker with the SD card would.
        let raw = try SQLiteConnection(path: rig.snapshot.path)
        try raw.execute(
            """
            CREATE TABLE meta2 (key TEXT, value TEXT NOT NULL); INSERT INTO meta2 SELECT key, value FROM meta;
            DROP TABLE meta; ALTER TABLE meta2 RENAME TO meta;
            INSERT INTO meta (key, value) VALUES ('event_id', 'EOTHER'), ('sync_boot_time', '-9223372036854775808');
            UPDATE meta SET value = '-9223372036854775808' WHERE key = 'sync_boot_time';
            """
        )
        let reopened = try OfflineSnapshot(path: rig.snapshot.path)
        let state = try reopened.syncState
        #expect(state.eventID == Tickets.event && state.lastSync == nil)
        let decision = SnapshotDecider(snapshot: reopened, clock: rig.clock.trusted, maxAge: .seconds(3600), gateID: "north-1")
            .decide(qrData: rig.codes[0].text, scanId: "x")
        guard case .cannotDecide = decision else {
            Issue.record("an admission on a contact that does not add up: \(decision)")
            return
        }
        // Overflow-safe arithmetic on whatever a contact holds.
        let clock = rig.clock.trusted
        #expect(clock.now(since: OfflineSnapshot.Contact(serverTime: Int64.max, bootID: "boot-1", bootTime: 0))?.at == nil)
        #expect(clock.age(of: OfflineSnapshot.Contact(serverTime: Int64.min, bootID: "boot-1", bootTime: Int64.min)) == nil)
    }

    @Test func a_bad_page_is_refused_whole_and_the_snapshot_stays() throws {
        let folder = try Folder()
        let snapshot = try OfflineSnapshot(path: folder.path + "/s.sqlite")
        let clock = FakeClock()
        let codes = (1...3).map(Tickets.code)
        let good = TicketSyncPage(
            eventId: Tickets.event,
            serverTime: 1_000_000,
            cursor: "3",
            complete: true,
            tickets: codes.enumerated().map { Tickets.synced($1, number: $0 + 1) }
        )
        try snapshot.apply(good, contact: clock.trusted.contact(serverTime: good.serverTime))
        #expect(try snapshot.state.tickets == 3 && snapshot.state.complete && snapshot.state.cursor == "3")
        // Each of these is refused, and nothing of it is applied (ticket 1 would become revoked).
        var bad = good
        bad.cursor = "4"
        bad.tickets = [Tickets.synced(codes[0], number: 1, status: .revoked), SyncedTicket(number: 2, hash: "short", status: .unused)]
        #expect(throws: SnapshotError.self) { try snapshot.apply(bad, contact: clock.trusted.contact(serverTime: 2_000_000)) }
        bad.tickets = [Tickets.synced(codes[0], number: 1, status: .revoked), Tickets.synced(codes[1], number: 0)]
        #expect(throws: SnapshotError.self) { try snapshot.apply(bad, contact: clock.trusted.contact(serverTime: 2_000_000)) }
        bad.tickets = [Tickets.synced(codes[0], number: 1, status: .revoked)]
        for cursor in ["-1", "", String(repeating: "9", count: 39), "12 3"] {
            bad.cursor = cursor
            #expect(throws: SnapshotError.self) { try snapshot.apply(bad, contact: clock.trusted.contact(serverTime: 2_000_000)) }
        }
        let state = try snapshot.state
        #expect(state.cursor == "3" && state.lastSync?.serverTime == 1_000_000)
        #expect(try snapshot.ticket(hash: SnapshotDecider.sha256(Array(codes[0].token.utf8)))?.status == .unused)
        // PostgreSQL's cursors: a transaction id, then a 19-digit position (more than an Int64).
        var postgres = good
        postgres.cursor = "123456" + "0000000000000004711"
        try snapshot.apply(postgres, contact: clock.trusted.contact(serverTime: 1_000_000))
        #expect(try snapshot.state.cursor == postgres.cursor)
        // Truncated data never reaches the snapshot: it does not decode.
        let bytes = try JSONEncoder().encode(good)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(TicketSyncPage.self, from: bytes.prefix(bytes.count / 2)) }
    }

    @Test func a_device_moved_to_another_event_starts_a_new_snapshot() throws {
        let folder = try Folder()
        let snapshot = try OfflineSnapshot(path: folder.path + "/s.sqlite")
        let contact = FakeClock().trusted.contact(serverTime: 1)
        try snapshot.apply(
            TicketSyncPage(eventId: Tickets.event, serverTime: 1, cursor: "1", complete: true, tickets: [Tickets.synced(Tickets.code(1), number: 1)]),
            contact: contact
        )
        try snapshot.apply(TicketSyncPage(eventId: "EOTHERXX", serverTime: 2, cursor: "9", complete: false, tickets: []), contact: contact)
        let state = try snapshot.state
        #expect(state.eventID == "EOTHERXX" && state.tickets == 0 && !state.complete)
    }
}

@Suite struct SnapshotDeciderTests {
    struct Rig {
        let folder: Folder
        let snapshot: OfflineSnapshot
        let clock = FakeClock()
        let codes = (1...5).map(Tickets.code)

        init(maxAgeMinutes: Int = 60) throws {
            folder = try Folder()
            snapshot = try OfflineSnapshot(path: folder.path + "/s.sqlite")
        }

        func sync(serverTime: Int64 = 1_700_000_000_000, gateList: SyncedGateList? = nil) throws {
            let tickets = [
                Tickets.synced(codes[0], number: 1),
                Tickets.synced(codes[1], number: 2, status: .used),
                Tickets.synced(codes[2], number: 3, status: .revoked),
                Tickets.synced(codes[3], number: 4, expiresAt: serverTime + 60_000),
            ]
            try apply(
                TicketSyncPage(eventId: Tickets.event, serverTime: serverTime, cursor: "4", complete: true, tickets: tickets, gateList: gateList)
            )
        }

        /// As the sync loop does: a page of another list empties the snapshot, and the whole
        /// snapshot is pulled again (here: the same page, from the start).
        func apply(_ page: TicketSyncPage) throws {
            let contact = clock.trusted.contact(serverTime: page.serverTime)
            if try !snapshot.apply(page, contact: contact) { try snapshot.apply(page, contact: contact, fromStart: true) }
        }

        func decider(maxAge: Duration = .seconds(3600), direction: ScanDirection = .entry) -> SnapshotDecider {
            SnapshotDecider(snapshot: snapshot, clock: clock.trusted, maxAge: maxAge, gateID: "north-1", direction: direction)
        }

        func result(_ decision: OfflineDecision) -> CheckinResult? {
            if case .decided(let answer) = decision { return answer.result }
            return nil
        }
    }

    @Test func decides_as_the_service_would_and_admits_once() throws {
        let rig = try Rig()
        try rig.sync()
        let decider = rig.decider()
        #expect(rig.result(decider.decide(qrData: rig.codes[0].text, scanId: "s1")) == .valid)
        #expect(rig.result(decider.decide(qrData: rig.codes[0].text, scanId: "s2")) == .alreadyUsed, "admitted once")
        #expect(rig.result(decider.decide(qrData: rig.codes[1].text, scanId: "s3")) == .alreadyUsed)
        #expect(rig.result(decider.decide(qrData: rig.codes[2].text, scanId: "s4")) == .revoked)
        #expect(rig.result(decider.decide(qrData: rig.codes[4].text, scanId: "s5")) == .notFound)
        #expect(
            rig.result(decider.decide(qrData: TicketCode(eventID: "EOTHERXX", token: Secret.newTicketToken()).text, scanId: "s6"))
                == .wrongEvent
        )
        #expect(rig.result(decider.decide(qrData: "WIFI:S:x;;", scanId: "s7")) == .invalid)
        // Expiry by the trusted clock: the server's time at the sync plus the monotonic clock.
        rig.clock.advance(seconds: 30)
        #expect(rig.result(decider.decide(qrData: rig.codes[3].text, scanId: "s8")) == .valid)
        // The journal: one admission each, with the scanId, the clock and the server-based time.
        let pending = try rig.snapshot.pendingUploads(limit: 10)
        #expect(pending.map(\.scanId) == ["s1", "s8"])
        #expect(pending.allSatisfy { $0.clock == .serverMonotonic })
        #expect(pending[1].at == 1_700_000_000_000 + 30_000)
        // A sync that still says "unused" (the upload has not landed yet) does not re-open it.
        try rig.sync()
        #expect(rig.result(decider.decide(qrData: rig.codes[0].text, scanId: "s9")) == .alreadyUsed)
    }

    @Test func a_list_gate_without_its_rules_admits_no_entry_offline_and_lets_people_out() throws {
        let rig = try Rig()
        // A service that names the list but sends no rules (from before they were synced).
        try rig.sync(gateList: SyncedGateList(id: "LHALL001", name: "VIP door"))
        #expect(try rig.snapshot.syncState.gateList == "VIP door")
        // The plain rule would let in whom the list keeps out.
        guard case .cannotDecide(let why) = rig.decider().decide(qrData: rig.codes[0].text, scanId: "l1") else {
            Issue.record("an entry at a list's gate was decided offline")
            return
        }
        #expect(why.contains("VIP door"))
        #expect(rig.result(rig.decider(direction: .exit).decide(qrData: rig.codes[0].text, scanId: "l2")) == .exit)
        #expect(try rig.snapshot.pendingUploads(limit: 10).isEmpty, "nothing admitted, nothing journaled")
        // Taken out of the list: the next sync says so, and the plain rule applies again.
        try rig.sync()
        #expect(try rig.snapshot.syncState.gateList == nil)
        #expect(rig.result(rig.decider().decide(qrData: rig.codes[0].text, scanId: "l3")) == .valid)
        // A hostile list name is refused with the whole page.
        #expect(throws: SnapshotError.self) {
            try rig.sync(gateList: SyncedGateList(id: "LHALL001", name: "VIP\u{1B}[2J"))
        }
    }

    /// A page for a list's gate: the tickets' types and passes of that list, and its rules.
    static func listPage(_ rig: Rig, list: SyncedGateList, serverTime: Int64 = 1_700_000_000_000, _ tickets: [(Int, String, Bool)]) -> TicketSyncPage
    {
        TicketSyncPage(
            eventId: Tickets.event,
            serverTime: serverTime,
            cursor: "9",
            complete: true,
            tickets: tickets.map { index, type, inside in
                var ticket = Tickets.synced(rig.codes[index], number: index + 1, status: inside ? .used : .unused)
                ticket.type = type
                ticket.inside = inside
                ticket.usedAt = inside ? serverTime - 60_000 : nil
                ticket.usedGate = inside ? "hall-2" : nil
                return ticket
            },
            gateList: list
        )
    }

    @Test func a_list_gate_decides_its_rules_offline_as_the_service_does() throws {
        let rig = try Rig()
        let hall = SyncedGateList(
            id: "LHALL001",
            name: "Hall",
            ticketTypes: ["standard", "vip"],
            entry: .reentry,
            capacity: 2,
            inside: 1,
            utcOffsets: [.init(from: 0, seconds: 3600)]
        )
        let page = Self.listPage(rig, list: hall, [(0, "standard", false), (1, "vip", true), (2, "child", false), (3, "vip", false)])
        try rig.apply(page)
        let entry = rig.decider()
        let exit = rig.decider(direction: .exit)
        #expect(rig.result(entry.decide(qrData: rig.codes[2].text, scanId: "e1")) == .notOnList)
        #expect(rig.result(entry.decide(qrData: rig.codes[1].text, scanId: "e2")) == .alreadyInside)
        #expect(rig.result(entry.decide(qrData: rig.codes[0].text, scanId: "e3")) == .valid)
        #expect(try rig.snapshot.syncState.listInside == 2)
        #expect(rig.result(entry.decide(qrData: rig.codes[3].text, scanId: "e4")) == .full)
        #expect(rig.result(exit.decide(qrData: rig.codes[1].text, scanId: "x1")) == .exit)
        #expect(rig.result(entry.decide(qrData: rig.codes[3].text, scanId: "e5")) == .valid)
        #expect(rig.result(entry.decide(qrData: rig.codes[0].text, scanId: "e6")) == .alreadyInside)
        #expect(rig.result(exit.decide(qrData: rig.codes[0].text, scanId: "x2")) == .exit)
        #expect(rig.result(entry.decide(qrData: rig.codes[0].text, scanId: "e7")) == .valid, "re-entry after an exit")
        // Only what passed is journaled, exits with their direction, in order.
        let pending = try rig.snapshot.pendingUploads(limit: 10)
        #expect(pending.map(\.scanId) == ["e3", "x1", "e5", "x2", "e7"])
        #expect(pending.map { $0.direction ?? .entry } == [.entry, .exit, .entry, .exit, .entry])
        #expect(pending.allSatisfy { $0.code != nil })

        // A sync before the upload landed (the service still has the old passes and count) keeps
        // what this gate decided: ticket 1 is inside, and so are ticket 4 and the service's one.
        try rig.apply(page)
        #expect(rig.result(entry.decide(qrData: rig.codes[0].text, scanId: "e8")) == .alreadyInside)
        #expect(try rig.snapshot.syncState.listInside == 1 + 1 - 1 + 1 - 1 + 1)
        #expect(rig.result(entry.decide(qrData: rig.codes[1].text, scanId: "e9")) == .full, "two inside of two")

        // Hours, by the trusted clock.
        var closed = hall
        closed.closesAt = 1_700_000_000_000 + 10_000
        try rig.apply(Self.listPage(rig, list: closed, [(4, "standard", false)]))
        rig.clock.advance(seconds: 11)
        #expect(rig.result(entry.decide(qrData: rig.codes[4].text, scanId: "c1")) == .closed)
    }

    @Test func a_daily_list_counts_days_in_the_organizers_zone_offline() throws {
        let rig = try Rig()
        // 23:30 in a zone one hour ahead of UTC: half an hour before the day ends there.
        let nextLocalMidnight: Int64 = ((1_700_000_000_000 + 3_600_000) / 86_400_000 + 1) * 86_400_000
        let start = nextLocalMidnight - 3_600_000 - 1_800_000
        let daily = SyncedGateList(id: "LDAYS001", name: "Days", entry: .daily, utcOffsets: [.init(from: 0, seconds: 3600)])
        try rig.apply(Self.listPage(rig, list: daily, serverTime: start, [(0, "standard", false)]))
        let entry = rig.decider()
        #expect(rig.result(entry.decide(qrData: rig.codes[0].text, scanId: "d1")) == .valid)
        #expect(rig.result(entry.decide(qrData: rig.codes[0].text, scanId: "d2")) == .alreadyUsed)
        rig.clock.advance(seconds: 1_800)
        #expect(rig.result(entry.decide(qrData: rig.codes[0].text, scanId: "d3")) == .valid, "a new day at midnight there")
        // Without the zone's offsets for the day, a daily list's entry waits for the service.
        let unknown = SyncedGateList(id: "LDAYS001", name: "Days", entry: .daily, utcOffsets: [])
        try rig.apply(Self.listPage(rig, list: unknown, serverTime: start, [(1, "standard", false)]))
        guard case .cannotDecide = entry.decide(qrData: rig.codes[1].text, scanId: "d4") else {
            Issue.record("a daily entry decided without knowing the day")
            return
        }
    }

    @Test func a_gate_moved_to_another_list_pulls_its_snapshot_again() throws {
        let rig = try Rig()
        let first = SyncedGateList(id: "LHALL001", name: "Hall", entry: .reentry)
        let contact = rig.clock.trusted.contact(serverTime: 1_700_000_000_000)
        #expect(try rig.snapshot.apply(Self.listPage(rig, list: first, [(0, "vip", true)]), contact: contact, fromStart: true))
        // A page of another list, on from the old cursor: its passes are not the old list's.
        var moved = Self.listPage(rig, list: SyncedGateList(id: "LVIP0001", name: "VIP", entry: .once), [(1, "vip", false)])
        #expect(try rig.snapshot.apply(moved, contact: contact) == false)
        var state = try rig.snapshot.state
        #expect(state.tickets == 0 && !state.complete && state.cursor == nil)
        moved.tickets = Self.listPage(rig, list: first, [(0, "vip", false), (1, "vip", false)]).tickets
        #expect(try rig.snapshot.apply(moved, contact: contact, fromStart: true))
        state = try rig.snapshot.state
        #expect(state.tickets == 2 && state.complete && state.gateList == "VIP")
        #expect(rig.result(rig.decider().decide(qrData: rig.codes[0].text, scanId: "m1")) == .valid)
        // Rules no service sends are refused with the page.
        var hostile = moved
        hostile.gateList?.capacity = -1
        #expect(throws: SnapshotError.self) { try rig.snapshot.apply(hostile, contact: contact) }
    }

    @Test func an_expired_ticket_is_refused_by_the_trusted_clock_not_the_wall_clock() throws {
        let rig = try Rig()
        try rig.sync()
        // The wall clock is far in the past (no RTC), the trusted clock says 61 s after the sync.
        rig.clock.now.withLock { $0.wall = 0 }
        rig.clock.advance(seconds: 61)
        #expect(rig.result(rig.decider().decide(qrData: rig.codes[3].text, scanId: "e1")) == .expired)
    }

    @Test func declines_without_a_complete_fresh_snapshot_or_a_trusted_clock() throws {
        let rig = try Rig()
        guard case .cannotDecide(let none) = rig.decider().decide(qrData: rig.codes[0].text, scanId: "x") else {
            Issue.record("decided without a snapshot")
            return
        }
        #expect(none.contains("no complete snapshot"))
        try rig.sync()
        rig.clock.advance(seconds: 3601)
        guard case .cannotDecide(let old) = rig.decider().decide(qrData: rig.codes[0].text, scanId: "x") else {
            Issue.record("decided on an old snapshot")
            return
        }
        #expect(old.contains("offline_max_age"))
        // Another boot: without timesyncd the age is unknown; with it, the wall clock counts.
        rig.clock.now.withLock { $0.boot = "boot-2" }
        guard case .cannotDecide(let untrusted) = rig.decider().decide(qrData: rig.codes[0].text, scanId: "x") else {
            Issue.record("decided with an untrusted clock")
            return
        }
        #expect(untrusted.contains("no trusted clock"))
        rig.clock.now.withLock {
            $0.synchronized = true
            $0.wall = 1_700_000_000_000 + 120_000
        }
        #expect(rig.result(rig.decider().decide(qrData: rig.codes[0].text, scanId: "y")) == .valid)
        #expect(try rig.snapshot.pendingUploads(limit: 1).first?.clock == .synchronized, "the clock used is recorded")
        #expect(try rig.snapshot.pendingUploads(limit: 1).first?.at == 1_700_000_000_000 + 120_000)
    }

    @Test func a_journal_that_cannot_be_written_shuts_the_gate() throws {
        let rig = try Rig()
        try rig.sync()
        #expect(rig.result(rig.decider().decide(qrData: rig.codes[0].text, scanId: "dup")) == .valid)
        // The same scanId again cannot be journaled (primary key): no second admission.
        try rig.snapshot.markUploaded([])
        let second = rig.decider().decide(qrData: rig.codes[3].text, scanId: "dup")
        guard case .cannotDecide(let why) = second else {
            Issue.record("admitted without a journal row: \(second)")
            return
        }
        #expect(why.contains("journal"))
    }
}

@Suite struct OfflineSyncServiceTests {
    /// A service that answers from a script.
    final class ScriptedTransport: SyncTransport, Sendable {
        let pages = Mutex<[Result<TicketSyncPage, SyncFailure>]>([])
        let uploads = Mutex<[OfflineUpload]>([])
        let uploadAnswer = Mutex<Result<Void, SyncFailure>>(.success(()))

        func pull(after cursor: String?, limit: Int) async -> Result<TicketSyncPage, SyncFailure> {
            pages.withLock { $0.isEmpty ? .failure(SyncFailure("no script")) : $0.removeFirst() }
        }

        let annuls = Mutex<[String]>([])
        let annulAnswer = Mutex<Result<AnnulDelivery, SyncFailure>>(.success(.annulled))

        let heartbeats = Mutex<[Heartbeat]>([])
        func heartbeat(_ heartbeat: Heartbeat) async -> Result<Void, SyncFailure> {
            heartbeats.withLock { $0.append(heartbeat) }
            return .success(())
        }

        let laneReports = Mutex<[LaneReport]>([])
        func reportLane(_ report: LaneReport) async -> Result<Void, SyncFailure> {
            laneReports.withLock { $0.append(report) }
            return .success(())
        }

        func annul(scanId: String, _ request: AnnulRequest) async -> Result<AnnulDelivery, SyncFailure> {
            annuls.withLock { $0.append(scanId) }
            return annulAnswer.withLock { $0 }
        }

        /// scanIds the service refuses (each time it sees them).
        let refusing = Mutex<Set<String>>([])

        func upload(_ upload: OfflineUpload) async -> Result<OfflineUploadAnswer, SyncFailure> {
            if case .failure(let failure) = uploadAnswer.withLock({ $0 }) { return .failure(failure) }
            uploads.withLock { $0.append(upload) }
            let refusing = refusing.withLock { $0 }
            return .success(
                OfflineUploadAnswer(
                    results: upload.checkins.map {
                        refusing.contains($0.scanId)
                            ? OfflineCheckinResult(scanId: $0.scanId, outcome: .refused, result: .invalid, detail: "at is in the future")
                            : OfflineCheckinResult(scanId: $0.scanId, outcome: .recorded, result: .valid)
                    }
                )
            )
        }
    }

    /// One entry the service refuses no longer holds up the others, and after a few refusals it
    /// is set aside and reported instead of being sent for ever.
    @Test func a_refused_entry_is_set_aside_after_repeated_refusals_and_the_rest_upload() async throws {
        let rig = try SnapshotDeciderTests.Rig()
        try rig.sync()
        _ = rig.decider().decide(qrData: rig.codes[0].text, scanId: "bad")
        rig.clock.advance(seconds: 1)
        _ = rig.decider().decide(qrData: rig.codes[3].text, scanId: "good")
        let pending = try rig.snapshot.pendingUploads(limit: 10)
        #expect(pending.map(\.code) == [rig.codes[0].text, rig.codes[3].text], "the scanned code travels as the proof")
        let transport = ScriptedTransport()
        transport.refusing.withLock { $0 = ["bad"] }
        transport.pages.withLock {
            $0 = Array(repeating: .success(TicketSyncPage(eventId: Tickets.event, serverTime: 6, cursor: "4", complete: true, tickets: [])), count: 5)
        }
        let service = OfflineSyncService(
            snapshot: rig.snapshot,
            transport: transport,
            clock: rig.clock.trusted,
            timekeeper: SystemTimekeeper(),
            health: KioskHealth(),
            deviceID: "D1",
            gateID: "north-1",
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        _ = await service.syncOnce()
        #expect(try rig.snapshot.state.pendingUploads == 1, "the good entry went through beside the refused one")
        for _ in 1..<OfflineSnapshot.refusalsBeforeQuarantine { _ = await service.syncOnce() }
        let state = try rig.snapshot.state
        #expect(state.pendingUploads == 0 && state.quarantined == 1)
        #expect(OfflineSyncService.describe(state, clock: rig.clock.trusted).contains("1 set aside"))
        let sent = transport.uploads.withLock { $0.flatMap { $0.checkins.map(\.scanId) } }
        #expect(sent.filter { $0 == "bad" }.count == OfflineSnapshot.refusalsBeforeQuarantine && sent.filter { $0 == "good" }.count == 1)
        _ = await service.syncOnce()
        #expect(transport.uploads.withLock { $0.count } == OfflineSnapshot.refusalsBeforeQuarantine, "nothing sent once it is set aside")
    }

    /// The turnstile did not turn: an offline decision is taken back on the box, and the
    /// service hears of it only if it had it.
    @Test func an_offline_decision_taken_back_is_dropped_or_annulled_on_the_service() async throws {
        let rig = try SnapshotDeciderTests.Rig()
        let hall = SyncedGateList(id: "LHALL001", name: "Hall", entry: .reentry, capacity: 5, inside: 0, utcOffsets: [.init(from: 0, seconds: 0)])
        try rig.apply(SnapshotDeciderTests.listPage(rig, list: hall, [(0, "standard", false), (1, "standard", false)]))
        let entry = rig.decider()
        // Not yet uploaded: gone from the journal, the ticket and the count as before.
        #expect(rig.result(entry.decide(qrData: rig.codes[0].text, scanId: "a1")) == .valid)
        #expect(try rig.snapshot.syncState.listInside == 1)
        #expect(try rig.snapshot.annul(scanID: "a1") == .dropped)
        #expect(try rig.snapshot.syncState.listInside == 0)
        #expect(try rig.snapshot.pendingUploads(limit: 10).isEmpty)
        #expect(try rig.snapshot.annul(scanID: "a1") == .unknown)
        #expect(rig.result(entry.decide(qrData: rig.codes[0].text, scanId: "a2")) == .valid, "the guest scans again")
        // A later scan of the same ticket decided on this one: it stays.
        #expect(rig.result(rig.decider(direction: .exit).decide(qrData: rig.codes[0].text, scanId: "a3")) == .exit)
        #expect(try rig.snapshot.annul(scanID: "a2") == .changedSince)

        // Uploaded already: the snapshot goes back at once, and the annul goes up next round.
        #expect(rig.result(entry.decide(qrData: rig.codes[1].text, scanId: "b1")) == .valid)
        let transport = ScriptedTransport()
        transport.pages.withLock {
            $0 = Array(
                repeating: .success(TicketSyncPage(eventId: Tickets.event, serverTime: 6, cursor: "9", complete: true, tickets: [], gateList: hall)),
                count: 5
            )
        }
        let service = OfflineSyncService(
            snapshot: rig.snapshot,
            transport: transport,
            clock: rig.clock.trusted,
            timekeeper: SystemTimekeeper(),
            health: KioskHealth(),
            deviceID: "D1",
            gateID: "north-1",
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        #expect(await service.syncOnce() == nil)
        #expect(try rig.snapshot.annul(scanID: "b1") == .queued)
        #expect(rig.result(entry.decide(qrData: rig.codes[1].text, scanId: "b2")) == .valid, "back as before it")
        #expect(try rig.snapshot.annul(scanID: "b2") == .dropped)
        // The service away: the annul waits; back: it is sent once.
        transport.annulAnswer.withLock { $0 = .failure(SyncFailure("connection refused")) }
        #expect(await service.syncOnce() != nil)
        #expect(try rig.snapshot.pendingAnnuls(limit: 10) == ["b1"])
        transport.annulAnswer.withLock { $0 = .success(.annulled) }
        #expect(await service.syncOnce() == nil)
        #expect(try rig.snapshot.pendingAnnuls(limit: 10).isEmpty)
        #expect(transport.annuls.withLock { $0 } == ["b1", "b1"])
        _ = await service.syncOnce()
        #expect(transport.annuls.withLock { $0.count } == 2, "not sent again")
    }

    /// The passage sensor's ledger: admissions still waiting when the kiosk stopped had no
    /// passage; at the next start each is taken back — an offline one dropped from the journal,
    /// an online one annulled on the service by the sync.
    @Test func admissions_waiting_for_a_passage_are_taken_back_after_a_restart() throws {
        let rig = try SnapshotDeciderTests.Rig()
        try rig.sync()
        #expect(rig.result(rig.decider().decide(qrData: rig.codes[0].text, scanId: "o1")) == .valid)
        try rig.snapshot.expect(scanId: "o1", offline: true, code: Array(rig.codes[0].text.utf8), direction: .entry)
        try rig.snapshot.expect(scanId: "n1", offline: false, code: Array(rig.codes[3].text.utf8), direction: .entry)
        try rig.snapshot.expect(scanId: "n2", offline: false, code: Array(rig.codes[3].text.utf8), direction: .entry)
        try rig.snapshot.passed(scanId: "n2")
        // The power goes; the kiosk starts again.
        let reopened = try OfflineSnapshot(path: rig.snapshot.path)
        #expect(try reopened.takeBackUnconfirmed() == 2)
        #expect(try reopened.pendingUploads(limit: 10).isEmpty, "the offline admission is gone from the upload")
        #expect(try reopened.ticket(hash: SnapshotDecider.sha256(Array(rig.codes[0].token.utf8)))?.status == .unused)
        #expect(try reopened.pendingAnnuls(limit: 10) == ["n1"], "the online one is annulled on the service; n2 passed")
        try reopened.markAnnul(scanID: "n1", done: true)
        #expect(try reopened.pendingAnnuls(limit: 10).isEmpty)
        #expect(try reopened.takeBackUnconfirmed() == 0)
    }

    /// An online admission nobody passed on: until the service has the annul, its pages still
    /// say the ticket was used; the snapshot shows it as before, so if the service goes away now
    /// the holder is admitted offline. The service's own page after the annul settles it; an
    /// annul the service refuses leaves its word standing.
    @Test func an_online_admission_taken_back_shows_its_ticket_as_before_until_the_service_says() throws {
        let rig = try SnapshotDeciderTests.Rig()
        let list = SyncedGateList(id: "LHALL001", name: "Hall", entry: .reentry, inside: 3)
        try rig.sync(gateList: list)
        let hash = SnapshotDecider.sha256(Array(rig.codes[0].token.utf8))
        func page(_ cursor: String, used: Bool, inside: Int) throws {
            var ticket = Tickets.synced(rig.codes[0], number: 1, status: used ? .used : .unused)
            if used { (ticket.usedAt, ticket.usedGate, ticket.inside) = (1_700_000_001_000, "north-1", true) }
            var counted = list
            counted.inside = inside
            try rig.apply(
                TicketSyncPage(
                    eventId: Tickets.event,
                    serverTime: 1_700_000_002_000,
                    cursor: cursor,
                    complete: true,
                    tickets: [ticket],
                    gateList: counted
                )
            )
        }
        // Admitted online; a page brings the service's word on it before the arm's timeout.
        try rig.snapshot.expect(scanId: "n1", offline: false, code: Array(rig.codes[0].text.utf8), direction: .entry)
        try page("5", used: true, inside: 4)
        #expect(try rig.snapshot.ticket(hash: hash)?.status == .used)
        #expect(try rig.snapshot.takeBack(scanId: "n1") == "annul queued for the service")
        #expect(try rig.snapshot.ticket(hash: hash)?.status == .unused)
        // The service has not heard the annul: its pages still count the admission.
        try page("6", used: true, inside: 4)
        let shown = try #require(try rig.snapshot.ticket(hash: hash))
        #expect(shown.status == .unused && shown.usedAt == nil && shown.usedGate == nil && !shown.inside)
        #expect(try rig.snapshot.syncState.listInside == 3)
        // Acknowledged: shown as before until a page brings the ticket; that page is the word.
        try rig.snapshot.markAnnul(scanID: "n1", done: true)
        #expect(try rig.snapshot.ticket(hash: hash)?.status == .unused)
        try page("7", used: false, inside: 3)
        #expect(try rig.snapshot.syncState.listInside == 3)
        // The holder scans again while the service is away, and is admitted offline.
        #expect(rig.result(rig.decider().decide(qrData: rig.codes[0].text, scanId: "o2")) == .valid)
        #expect(try rig.snapshot.syncState.listInside == 4)

        // An annul the service refuses: its pages' word stands again.
        let other = SnapshotDecider.sha256(Array(rig.codes[3].token.utf8))
        try rig.snapshot.expect(scanId: "n2", offline: false, code: Array(rig.codes[3].text.utf8), direction: .entry)
        try rig.apply(
            TicketSyncPage(
                eventId: Tickets.event,
                serverTime: 1_700_000_003_000,
                cursor: "8",
                complete: true,
                tickets: [
                    SyncedTicket(
                        number: 4,
                        hash: Base64URL.encode(other),
                        status: .used,
                        usedAt: 1_700_000_002_500,
                        usedGate: "north-1",
                        inside: true
                    )
                ],
                gateList: list
            )
        )
        _ = try rig.snapshot.takeBack(scanId: "n2")
        #expect(try rig.snapshot.ticket(hash: other)?.status == .unused)
        try rig.snapshot.markAnnul(scanID: "n2", done: false)
        #expect(try rig.snapshot.ticket(hash: other)?.status == .used)
    }

    @Test func uploads_once_then_pulls_and_a_refused_page_changes_nothing() async throws {
        let rig = try SnapshotDeciderTests.Rig()
        try rig.sync()
        _ = rig.decider().decide(qrData: rig.codes[0].text, scanId: "s1")
        let transport = ScriptedTransport()
        let health = KioskHealth()
        let service = OfflineSyncService(
            snapshot: rig.snapshot,
            transport: transport,
            clock: rig.clock.trusted,
            timekeeper: SystemTimekeeper(),
            health: health,
            deviceID: "D1",
            gateID: "north-1",
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        // The service is away: the upload fails, the admission stays pending.
        transport.uploadAnswer.withLock { $0 = .failure(SyncFailure("connection refused")) }
        #expect(await service.syncOnce()?.contains("upload") == true)
        #expect(try rig.snapshot.state.pendingUploads == 1)
        // Back: uploaded once; then a bad page is refused and the snapshot stays.
        transport.uploadAnswer.withLock { $0 = .success(()) }
        transport.pages.withLock {
            $0 = [.success(TicketSyncPage(eventId: Tickets.event, serverTime: 5, cursor: "x", complete: true, tickets: []))]
        }
        #expect(await service.syncOnce()?.contains("refused") == true)
        #expect(transport.uploads.withLock { $0.map { $0.checkins.map(\.scanId) } } == [["s1"]])
        #expect(try rig.snapshot.state.pendingUploads == 0 && rig.snapshot.state.cursor == "4")
        // A good round: nothing to upload again, the change is applied.
        transport.pages.withLock {
            $0 = [
                .success(
                    TicketSyncPage(
                        eventId: Tickets.event,
                        serverTime: 6,
                        cursor: "5",
                        complete: true,
                        tickets: [Tickets.synced(rig.codes[4], number: 5)]
                    )
                )
            ]
        }
        #expect(await service.syncOnce() == nil)
        #expect(transport.uploads.withLock { $0.count } == 1, "nothing uploaded twice")
        #expect(try rig.snapshot.state.tickets == 5 && rig.snapshot.state.cursor == "5")
    }
}

/// Signed codes at an offline gate: a ticket sold after the last sync (not in the snapshot)
/// verifies with the event's synced public key and is admitted once within its window; forged,
/// altered, wrong-key and expired codes are refused; a rotated key verifies beside the old one.
@Suite struct SignedCodeOfflineTests {
    let keys = [Curve25519.Signing.PrivateKey(), Curve25519.Signing.PrivateKey()]

    func sign(
        _ key: Curve25519.Signing.PrivateKey,
        id: UInt8,
        event: String = Tickets.event,
        until: UInt16 = SignedTicketCode.noEnd
    ) throws -> SignedTicketCode {
        try SignedTicketCode.make(eventID: event, keyID: id, serial: UInt64.random(in: 0...0xFF_FFFF_FFFF), validFromHour: 0, validUntilHour: until) {
            Array(try key.signature(for: $0))
        }
    }

    func rig(keyCount: Int) throws -> SnapshotDeciderTests.Rig {
        let rig = try SnapshotDeciderTests.Rig()
        let synced = (0..<keyCount).map { SyncedKey(id: $0 + 1, publicKey: Base64URL.encode(Array(keys[$0].publicKey.rawRepresentation))) }
        try rig.snapshot.apply(
            TicketSyncPage(eventId: Tickets.event, serverTime: 1_800_000_000_000, cursor: "1", complete: true, tickets: [], keys: synced),
            contact: rig.clock.trusted.contact(serverTime: 1_800_000_000_000)
        )
        return rig
    }

    @Test func a_ticket_sold_after_the_last_sync_is_admitted_once() throws {
        let rig = try rig(keyCount: 1)
        let decider = rig.decider()
        let code = try sign(keys[0], id: 1)
        #expect(rig.result(decider.decide(qrData: code.text, scanId: "a")) == .valid)
        #expect(rig.result(decider.decide(qrData: code.text, scanId: "b")) == .alreadyUsed)
        let pending = try rig.snapshot.pendingUploads(limit: 5)
        #expect(pending.count == 1 && pending[0].hash == Base64URL.encode(SnapshotDecider.sha256(Array(code.blob.utf8))))
    }

    @Test func forged_altered_wrong_key_and_expired_codes_are_refused() throws {
        let rig = try rig(keyCount: 1)
        let decider = rig.decider()
        var altered = Array(try sign(keys[0], id: 1).text)
        altered[20] = altered[20] == "A" ? "B" : "A"
        #expect(rig.result(decider.decide(qrData: String(altered), scanId: "1")) == .invalid)
        #expect(rig.result(decider.decide(qrData: try sign(Curve25519.Signing.PrivateKey(), id: 1).text, scanId: "2")) == .invalid, "forged")
        #expect(rig.result(decider.decide(qrData: try sign(keys[1], id: 2).text, scanId: "3")) == .invalid, "a key this gate does not have")
        let pastHour = SignedTicketCode.hour(ofMillis: 1_800_000_000_000) - 1
        #expect(rig.result(decider.decide(qrData: try sign(keys[0], id: 1, until: pastHour).text, scanId: "4")) == .expired)
        #expect(rig.result(decider.decide(qrData: try sign(keys[0], id: 1, event: "EOTHERXX").text, scanId: "5")) == .wrongEvent)
        #expect(try rig.snapshot.pendingUploads(limit: 5).isEmpty, "nothing admitted")
    }

    @Test func a_rotated_key_verifies_beside_the_old_one() throws {
        let rig = try rig(keyCount: 2)
        let decider = rig.decider()
        #expect(rig.result(decider.decide(qrData: try sign(keys[0], id: 1).text, scanId: "old")) == .valid)
        #expect(rig.result(decider.decide(qrData: try sign(keys[1], id: 2).text, scanId: "new")) == .valid)
        // The keys swapped under the ids: refused.
        #expect(rig.result(decider.decide(qrData: try sign(keys[1], id: 1).text, scanId: "swapped")) == .invalid)
    }
}
