import Foundation
import GatehouseCore
import GatehousePostgres
import GatehouseStorage
import Logging
import SQLiteSupport
import Testing

@testable import GatehouseAPI
@testable import GatehouseDomain
@testable import GatehouseMySQL
@testable import GatehouseSQLite
@testable import GatehouseService
@testable import GatehouseWeb

/// Behaviour every store must have. Each test runs against every store this machine can offer;
/// the PostgreSQL store joins the list when it exists.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case sqlite
    case postgres
    case mysql
    var testDescription: String { rawValue }

    /// The MariaDB/MySQL database to test against (`scripts/with-mariadb.sh` sets it; CI always does).
    static var mysqlURL: String? { ProcessInfo.processInfo.environment["GATEHOUSE_TEST_MYSQL"] }

    /// The PostgreSQL database to test against (`scripts/with-postgres.sh` sets it; CI always does).
    static var postgresURL: String? { ProcessInfo.processInfo.environment["GATEHOUSE_TEST_POSTGRES"] }

    /// Set by `make test` (scripts/run-tests.sh): every store must be tested, none may be skipped.
    static var allStoresRequired: Bool { ProcessInfo.processInfo.environment["GATEHOUSE_TEST_ALL_STORES"] == "1" }

    /// The stores this machine can test: SQLite always, the servers when a database is given.
    static var available: [StoreKind] { [.sqlite] + (postgresURL == nil ? [] : [.postgres]) + (mysqlURL == nil ? [] : [.mysql]) }

    /// Limits for stores on the shared test servers. Every test of the parallel run works on the
    /// one server (and, on MySQL, numbers its changes on the one counter row) with two cores for
    /// all of them: on a loaded machine an answer then takes longer than the service's 3 s, and
    /// a test that fails for that is a timed test. The 503 itself is tested where it is the subject
    /// (`DeadlineTests`, `an_upload_answered_503_has_committed_nothing`, the end-to-end outages).
    static let sharedServerLimits = DatabaseLimits(operation: .seconds(30), registration: .seconds(30), issuance: .seconds(60))

    func make(in directory: TemporaryFolder) async throws -> any GatehouseStore {
        switch self {
        case .sqlite: return try SQLiteStore(path: directory.file("store.sqlite"))
        case .postgres:
            // Tests share one database; every test works in events of its own.
            return try await PostgresStore.open(
                url: Self.postgresURL!,
                poolSize: 4,
                limits: Self.sharedServerLimits,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        case .mysql:
            return try await MySQLStore.open(
                url: Self.mysqlURL!,
                poolSize: 4,
                limits: Self.sharedServerLimits,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        }
    }

    /// A database of its own on the server (nil for SQLite, whose stores are always alone), for
    /// tests whose claims or clocks would otherwise reach the rows of the tests beside them.
    func aloneURL() throws -> String? {
        let name = "gatehouse_alone_\(UInt32.random(in: 0...UInt32.max))"
        switch self {
        case .sqlite: return nil
        case .postgres:
            try psql(Self.postgresURL!, "CREATE DATABASE \(name)")
            return Self.postgresURL!.replacingOccurrences(of: "/gatehouse_test", with: "/\(name)")
        case .mysql:
            let root = try MySQLConnection(MySQLTarget(url: try #require(ProcessInfo.processInfo.environment["GATEHOUSE_TEST_MYSQL_ROOT"])))
            try root.execute("CREATE DATABASE \(name) CHARACTER SET utf8mb4")
            try root.execute("GRANT ALL ON \(name).* TO 'gatehouse'@'127.0.0.1'")
            return Self.mysqlURL!.replacingOccurrences(of: "/gatehouse_test", with: "/\(name)")
        }
    }

    /// A store in a database of its own (`aloneURL`).
    func makeAlone(in directory: TemporaryFolder) async throws -> any GatehouseStore {
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        switch self {
        case .sqlite: return try await make(in: directory)
        case .postgres: return try await PostgresStore.open(url: try aloneURL()!, poolSize: 4, limits: Self.sharedServerLimits, logger: logger)
        case .mysql: return try await MySQLStore.open(url: try aloneURL()!, poolSize: 4, limits: Self.sharedServerLimits, logger: logger)
        }
    }
}

/// A folder removed when the test ends.
final class TemporaryFolder: @unchecked Sendable {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "/gatehouse-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A gatehouse with one event, one device and a clock the test can move.
struct Fixture {
    let folder: TemporaryFolder
    let store: any GatehouseStore
    let running: RunningStore
    let gatehouse: Gatehouse
    let clock: TestClock
    let event: Event
    let device: Device
    let deviceToken: String
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    init(_ kind: StoreKind) async throws {
        let folder = try TemporaryFolder()
        try await self.init(store: try await kind.make(in: folder), folder: folder)
    }

    init(store: any GatehouseStore, folder: TemporaryFolder? = nil) async throws {
        self.folder = try folder ?? TemporaryFolder()
        self.store = store
        running = RunningStore(store)
        clock = TestClock()
        let clock = self.clock
        gatehouse = Gatehouse(store: store, now: { clock.now })
        event = try await gatehouse.createEvent(name: "Gala", startsAt: nil, endsAt: nil)
        (device, deviceToken) = try await gatehouse.addDevice(name: "kiosk", gateId: "north-1", eventId: event.id)
    }

    /// Returns once the PostgreSQL change feed hands out every change committed before the call:
    /// the feed holds changes back while an older transaction runs (another test's, in the
    /// shared database). Other stores hand them out at once.
    func feedSettled() async throws {
        guard store is PostgresStore, let url = StoreKind.postgresURL else { return }
        let now = try psql(url, "SELECT pg_current_xact_id()")
        let settled = "pg_snapshot_xmin(pg_current_snapshot()) > '\(now)'::xid8"
        // One session waits (each check takes a fresh snapshot), not a psql process per check:
        // many tests waiting at once would load the machine they wait on.
        try await psqlOffThePool(
            url,
            "DO $$ BEGIN FOR i IN 1..1500 LOOP IF \(settled) THEN RETURN; END IF; PERFORM pg_sleep(0.02); END LOOP; END $$"
        )
        guard try psql(url, "SELECT \(settled)") == "t" else {
            throw StoreError.unavailable("a transaction older than \(now) ran for 30 s")
        }
    }

    func checkin(
        _ qrData: String,
        scanId: String? = nil,
        mode: CheckinMode? = nil,
        device: Device? = nil,
        token: String? = nil,
        direction: ScanDirection? = nil
    ) async throws -> CheckinAnswer {
        let device = device ?? self.device
        return try await gatehouse.checkin(
            CheckinRequest(qrData: qrData, deviceId: device.id, gateId: device.gateId, scanId: scanId, mode: mode, direction: direction),
            bearerToken: token ?? deviceToken,
            logger: Self.logger
        )
    }

    /// Stops the store's services (what a process does at shutdown).
    func stop() async { await running.stop() }

    func issue(_ request: Gatehouse.TicketRequest = .init(), event: Event? = nil) async throws -> IssuedTicket {
        try await gatehouse.issueTickets(eventId: (event ?? self.event).id, [request])[0]
    }

    /// Committing scans of `codes` handed to the store all at once, so they meet in its batches;
    /// the result of each one decided, by its index in `codes`. A scan not decided is an issue
    /// of the test, naming why.
    func scanAtOnce(_ codes: [String], device: Device? = nil, token: String? = nil) async -> [Int: CheckinResult] {
        let device = device ?? self.device
        let attempts = codes.enumerated().map { index, code in
            let parsed = TicketCode.parse(code)
            return CheckinAttempt(
                deviceId: device.id,
                deviceTokenHash: TokenHash.of(token ?? deviceToken),
                gateId: device.gateId,
                scanId: "at-once-\(index)",
                mode: .commit,
                payloadHash: TokenHash.of(code),
                code: parsed.map { ($0.eventID, TokenHash.of($0.token)) },
                at: clock.now
            )
        }
        return await withTaskGroup(of: (Int, Result<CheckinOutcome, any Error>).self) { group in
            for (index, attempt) in attempts.enumerated() {
                group.addTask { (index, await Result(awaiting: { try await store.checkin(attempt) })) }
            }
            var all: [Int: CheckinResult] = [:]
            for await (index, outcome) in group {
                switch outcome {
                case .success(.decided(let decision)): all[index] = decision.result
                case .success(let other): Issue.record("scan \(index) was not decided: \(other)")
                case .failure(let error): Issue.record("scan \(index) failed: \(error)")
                }
            }
            return all
        }
    }
}

final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }
}

@Suite struct StoreConformanceTests {
    @Test(arguments: StoreKind.available)
    func a_ticket_admits_once(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let ticket = try await f.issue(.init(holderName: "Ada", ticketType: "VIP"))
        let first = try await f.checkin(ticket.qrData)
        #expect(first.result == .valid && first.ok)
        #expect(first.ticket?.holderName == "Ada")
        #expect(first.ticket?.ticketType == "VIP")
        #expect(first.firstUsedGate == "north-1")
        f.clock.advance(5)
        let second = try await f.checkin(ticket.qrData)
        #expect(second.result == .alreadyUsed && !second.ok)
        #expect(second.firstUsedAt == first.firstUsedAt)
        #expect(second.message.hasPrefix("Already used at north-1"))
        let stored = try await f.gatehouse.ticket(id: ticket.ticket.id)
        #expect(stored.status == .used && stored.usedDevice == f.device.id)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func every_refusal_reason(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        #expect(try await f.checkin("hello world").result == .invalid)
        #expect(try await f.checkin(TicketCode(eventID: f.event.id, token: Secret.newTicketToken()).text).result == .notFound)

        let other = try await f.gatehouse.createEvent(name: "Other", startsAt: nil, endsAt: nil)
        let foreign = try await f.issue(event: other)
        #expect(try await f.checkin(foreign.qrData).result == .wrongEvent)
        // A token of this event presented under another event's id is not a code we issued.
        let mine = try await f.issue()
        let tampered = TicketCode(eventID: other.id, token: TicketCode.parse(mine.qrData)!.token).text
        #expect(try await f.checkin(tampered).result == .notFound)

        let expiring = try await f.issue(.init(expiresAt: f.clock.now.addingTimeInterval(60)))
        f.clock.advance(61)
        #expect(try await f.checkin(expiring.qrData).result == .expired)

        let revoked = try await f.issue()
        _ = try await f.gatehouse.revokeTicket(id: revoked.ticket.id)
        #expect(try await f.checkin(revoked.qrData).result == .revoked)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func a_retried_scan_gets_the_first_answer(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let ticket = try await f.issue()
        #expect(try await f.checkin(ticket.qrData, scanId: "scan-1").result == .valid)
        #expect(try await f.checkin(ticket.qrData, scanId: "scan-1").result == .valid)
        #expect(try await f.checkin(ticket.qrData, scanId: "scan-2").result == .alreadyUsed)
        #expect(try await f.checkin(ticket.qrData, scanId: "scan-2").result == .alreadyUsed)
        let other = try await f.issue()
        await #expect(throws: Gatehouse.CheckinError.scanIdReused) { try await f.checkin(other.qrData, scanId: "scan-1") }
        let log = try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter())
        #expect(log.filter { $0.result == .valid }.count == 1)
        #expect(log.count == 2)
        await f.stop()
    }

    /// Scans submitted at once share a batch on the networked stores, where first entries are
    /// stored together: a ticket among them twice (two gates, one copied code) passes once, and
    /// every other ticket of the batch passes.
    @Test(arguments: StoreKind.available)
    func a_ticket_twice_in_one_batch_admits_once(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 24))
        let copied = tickets[7].qrData
        let codes = tickets.map(\.qrData) + [copied, copied]
        let outcomes = await f.scanAtOnce(codes)
        #expect(outcomes.count == codes.count, "every scan decided")
        let copiedScans = [7, tickets.count, tickets.count + 1].compactMap { outcomes[$0] }
        #expect(copiedScans.filter { $0 == .valid }.count == 1 && copiedScans.filter { $0 == .alreadyUsed }.count == 2)
        for index in tickets.indices where index != 7 { #expect(outcomes[index] == .valid, "scan \(index)") }
        let log = try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter())
        #expect(log.count == codes.count && log.filter { $0.result == .valid }.count == tickets.count)
        #expect(try await f.gatehouse.ticket(id: tickets[7].ticket.id).status == .used)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func validate_mode_changes_nothing(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let ticket = try await f.issue()
        #expect(try await f.checkin(ticket.qrData, mode: .validate).result == .valid)
        #expect(try await f.gatehouse.ticket(id: ticket.ticket.id).status == .unused)
        #expect(try await f.checkin(ticket.qrData).result == .valid)
        #expect(try await f.checkin(ticket.qrData, mode: .validate).result == .alreadyUsed)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func reissue_replaces_the_code(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let old = try await f.issue()
        let new = try await f.gatehouse.reissueTicket(id: old.ticket.id)
        #expect(new.qrData != old.qrData)
        #expect(new.ticket.number == old.ticket.number)
        #expect(try await f.checkin(old.qrData).result == .notFound)
        #expect(try await f.checkin(new.qrData).result == .valid)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func a_lost_ticket_is_revoked_then_reissued_and_admits_again(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let lost = try await f.issue(.init(holderName: "Ada"))
        #expect(try await f.gatehouse.revokeTicket(id: lost.ticket.id).status == .revoked)
        let replacement = try await f.gatehouse.reissueTicket(id: lost.ticket.id)
        #expect(replacement.ticket.status == .unused && replacement.ticket.holderName == "Ada")
        #expect(try await f.checkin(lost.qrData).result == .notFound)
        #expect(try await f.checkin(replacement.qrData).result == .valid)
        // A used ticket stays used when re-issued: the new code does not admit a second time.
        let again = try await f.gatehouse.reissueTicket(id: lost.ticket.id)
        #expect(again.ticket.status == .used)
        #expect(try await f.checkin(again.qrData).result == .alreadyUsed)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func devices_must_authenticate(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let ticket = try await f.issue()
        await #expect(throws: Gatehouse.CheckinError.unauthorized) { try await f.checkin(ticket.qrData, token: "ghd_wrong") }
        let (second, secondToken) = try await f.gatehouse.addDevice(name: "b", gateId: "south-1", eventId: f.event.id)
        // Another device's token does not vouch for this deviceId.
        await #expect(throws: Gatehouse.CheckinError.unauthorized) { try await f.checkin(ticket.qrData, token: secondToken) }
        _ = try await f.gatehouse.revokeDevice(id: second.id)
        await #expect(throws: Gatehouse.CheckinError.unauthorized) {
            try await f.checkin(ticket.qrData, device: second, token: secondToken)
        }
        #expect(try await f.gatehouse.ticket(id: ticket.ticket.id).status == .unused)
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func tickets_are_numbered_per_event_and_counted(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let batch = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 250))
        #expect(batch.map(\.ticket.number) == Array(1...250))
        #expect(Set(batch.map(\.qrData)).count == 250)
        _ = try await f.checkin(batch[0].qrData)
        let event = try await f.gatehouse.event(id: f.event.id)
        #expect(event.issued == 250 && event.used == 1)
        await #expect(throws: NotFoundError.self) { try await f.gatehouse.issueTickets(eventId: "ENOSUCHEVENT", [.init()]) }
        await #expect(throws: InvalidInputError.self) { try await f.gatehouse.issueTickets(eventId: f.event.id, []) }
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func the_log_records_every_attempt_and_filters(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let ticket = try await f.issue()
        let (south, southToken) = try await f.gatehouse.addDevice(name: "s", gateId: "south-1", eventId: f.event.id)
        _ = try await f.checkin(ticket.qrData)
        f.clock.advance(10)
        let middle = f.clock.now
        _ = try await f.checkin(ticket.qrData, device: south, token: southToken)
        _ = try await f.checkin("garbage", device: south, token: southToken)
        let all = try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter())
        #expect(all.map(\.result) == [.invalid, .alreadyUsed, .valid])
        #expect(all[2].ticketNumber == 1 && all[0].ticketId == nil)
        #expect(try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter(gateId: "south-1")).count == 2)
        #expect(try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter(since: middle)).count == 2)
        #expect(try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter(until: middle)).count == 1)
        #expect(try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter(afterId: all[1].id)).map(\.id) == [all[0].id])
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func concurrent_checkins_of_one_ticket_admit_exactly_once(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 20))
        for ticket in tickets {
            let results = try await withThrowingTaskGroup(of: CheckinResult.self) { group in
                for attempt in 0..<32 {
                    group.addTask { try await f.checkin(ticket.qrData, scanId: "\(ticket.ticket.id)-\(attempt)").result }
                }
                return try await group.reduce(into: [CheckinResult]()) { $0.append($1) }
            }
            #expect(results.filter { $0 == .valid }.count == 1)
            #expect(results.filter { $0 == .alreadyUsed }.count == 31)
        }
        await f.stop()
    }

    /// Scans that arrive together are decided together on the networked stores (one read for
    /// all, one INSERT for their log rows): each must get the answer it would get alone —
    /// repeats of one ticket, a retried scanId within the burst, unknown codes, a revoked device.
    @Test(arguments: StoreKind.available)
    func a_burst_of_scans_gets_the_answers_each_gets_alone(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 30))
        let (gone, goneToken) = try await f.gatehouse.addDevice(name: "gone", gateId: "north-1", eventId: f.event.id)
        _ = try await f.gatehouse.revokeDevice(id: gone.id)
        let unknown = (0..<3).map { _ in TicketCode(eventID: f.event.id, token: Secret.newTicketToken()).text }
        enum Kind: Hashable, Sendable {
            case first(Int)
            case again(Int)
            case retry, unknown, revoked
        }
        var burst: [(Kind, @Sendable () async throws -> CheckinAnswer)] = []
        for (index, ticket) in tickets.enumerated() { burst.append((.first(index), { try await f.checkin(ticket.qrData, scanId: "s-\(index)") })) }
        for again in 0..<5 { burst.append((.again(0), { try await f.checkin(tickets[0].qrData, scanId: "again-\(again)") })) }
        for _ in 0..<3 { burst.append((.retry, { try await f.checkin(tickets[1].qrData, scanId: "s-1") })) }
        for code in unknown { burst.append((.unknown, { try await f.checkin(code, scanId: "u-\(code.suffix(6))") })) }
        burst.append((.revoked, { try await f.checkin(tickets[2].qrData, scanId: "r-1", device: gone, token: goneToken) }))
        let answers = await withTaskGroup(of: (Kind, Result<CheckinAnswer, any Error>).self) { group in
            for (kind, scan) in burst.shuffled() { group.addTask { (kind, await Result(awaiting: scan)) } }
            return await group.reduce(into: [(Kind, Result<CheckinAnswer, any Error>)]()) { $0.append($1) }
        }
        func results(_ wanted: (Kind) -> Bool) -> [CheckinResult?] {
            answers.filter { wanted($0.0) }.map { try? $0.1.get().result }
        }
        // Ticket 0 goes in once, whichever of its six scans came first.
        let zero = results { if case .first(0) = $0 { true } else if case .again = $0 { true } else { false } }
        #expect(zero.filter { $0 == .valid }.count == 1 && zero.filter { $0 == .alreadyUsed }.count == 5, "\(zero)")
        for index in 1..<tickets.count {
            let mine = results { if case .first(let i) = $0 { i == index } else { false } }
            #expect(mine == [.valid], "ticket \(index): \(mine)")
        }
        #expect(results { $0 == .retry } == [.valid, .valid, .valid], "a retried scanId gets the first answer")
        #expect(results { $0 == .unknown } == [.notFound, .notFound, .notFound])
        let revoked = answers.first { $0.0 == .revoked }!.1
        #expect(throws: Gatehouse.CheckinError.self) { try revoked.get() }
        let log = try await f.gatehouse.checkins(eventId: f.event.id, filter: CheckinFilter())
        #expect(log.filter { $0.result == .valid }.count == tickets.count, "one admission per ticket in the log")
        #expect(log.count == tickets.count + 5 + 3, "a row per decided scan, none for a retry or a revoked device: \(log.count)")
        for ticket in tickets { #expect(try await f.gatehouse.ticket(id: ticket.ticket.id).status == .used) }
        await f.stop()
    }

    @Test(arguments: StoreKind.available)
    func admin_input_is_checked(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        await #expect(throws: InvalidInputError.self) { try await f.gatehouse.createEvent(name: "  ", startsAt: nil, endsAt: nil) }
        await #expect(throws: InvalidInputError.self) {
            try await f.gatehouse.createEvent(name: String(repeating: "x", count: 201), startsAt: nil, endsAt: nil)
        }
        await #expect(throws: InvalidInputError.self) {
            try await f.gatehouse.createEvent(name: "x", startsAt: Date(), endsAt: Date().addingTimeInterval(-1))
        }
        await #expect(throws: NotFoundError.self) { try await f.gatehouse.addDevice(name: "x", gateId: "g", eventId: "ENOPE") }
        // Quotes and SQL fragments are data, nothing more.
        let odd = try await f.gatehouse.createEvent(name: "Robert'); DROP TABLE tickets;-- ✨", startsAt: nil, endsAt: nil)
        #expect(try await f.gatehouse.event(id: odd.id).name == "Robert'); DROP TABLE tickets;-- ✨")
        await f.stop()
    }
}

@Suite struct PostgresStoreTests {
    /// Without a database the PostgreSQL and MySQL cases skip and say so; `make test` sets
    /// GATEHOUSE_TEST_ALL_STORES, and there a missing or unreachable server fails this test
    /// instead of leaving the conformance suite quietly on SQLite alone.
    @Test(
        .enabled(
            if: StoreKind.postgresURL != nil || StoreKind.allStoresRequired,
            "no PostgreSQL: run under scripts/with-postgres.sh (make test does) to test the PostgreSQL store"
        )
    )
    func the_conformance_suite_covers_postgres() async throws {
        #expect(StoreKind.available.contains(.postgres), "GATEHOUSE_TEST_POSTGRES is not set")
        guard StoreKind.postgresURL != nil else { return }
        let folder = try TemporaryFolder()
        let store = try await StoreKind.postgres.make(in: folder)
        #expect(store is PostgresStore)
        let running = RunningStore(store)
        let gatehouse = Gatehouse(store: store)
        let event = try await gatehouse.createEvent(name: "covered", startsAt: nil, endsAt: nil)
        #expect(try await gatehouse.event(id: event.id).name == "covered")
        await running.stop()
    }

    @Test(.enabled(if: StoreKind.mysqlURL != nil || StoreKind.allStoresRequired, "no MariaDB: run under scripts/with-mariadb.sh (make test does)"))
    func the_conformance_suite_covers_mysql() async throws {
        #expect(StoreKind.available.contains(.mysql), "GATEHOUSE_TEST_MYSQL is not set")
        guard StoreKind.mysqlURL != nil else { return }
        let folder = try TemporaryFolder()
        let store = try await StoreKind.mysql.make(in: folder)
        #expect(store is MySQLStore)
        let running = RunningStore(store)
        let gatehouse = Gatehouse(store: store)
        let event = try await gatehouse.createEvent(name: "covered", startsAt: nil, endsAt: nil)
        #expect(try await gatehouse.event(id: event.id).name == "covered")
        await running.stop()
    }

    /// A new event's first entries find each ticket by its token's unique index even before
    /// PostgreSQL has analyzed the table (a new database, or an event issued since the last
    /// autovacuum). Without statistics the (event, status) index looks as cheap, and taking it
    /// read every unused ticket of the event for each scan: 124 check-ins/s instead of 4,000.
    @Test(.enabled(if: StoreKind.postgresURL != nil, "no PostgreSQL"))
    func first_entries_read_one_ticket_each_before_any_analyze() async throws {
        let url = try #require(try StoreKind.postgres.aloneURL())
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let running = RunningStore(try await PostgresStore.open(url: url, poolSize: 2, logger: logger))
        // Autovacuum must not analyze the table while the test runs.
        try psql(url, "ALTER TABLE tickets SET (autovacuum_enabled = false)")
        let gatehouse = Gatehouse(store: running.store)
        let event = try await gatehouse.createEvent(name: "doors open", startsAt: nil, endsAt: nil)
        let (device, deviceToken) = try await gatehouse.addDevice(name: "gate", gateId: "north", eventId: event.id)
        let tickets = try await gatehouse.issueTickets(eventId: event.id, Array(repeating: .init(), count: 2_000))
        #expect(try psql(url, "SELECT count(*) FROM pg_stats WHERE tablename = 'tickets'") == "0", "the table is not analyzed")

        let code = try #require(TicketCode.parse(tickets[1_234].qrData))
        func bytea(_ bytes: [UInt8]) -> String { "'\\x" + bytes.map { String(format: "%02x", $0) }.joined() + "'::bytea" }
        let at = Int64(Date().timeIntervalSince1970 * 1000)
        // One scan, as `FirstEntries` sends it, then what the transaction fetched from tickets.
        let fetched = try psql(
            url,
            """
            SELECT count(*) FROM gatehouse_admit_unused(ARRAY[0], ARRAY[\(bytea(TokenHash.of(deviceToken)))], ARRAY['\(device.id)'],
                ARRAY['north'], ARRAY['\(event.id)'], ARRAY[\(bytea(TokenHash.of(code.token)))], ARRAY[\(at)::bigint], ARRAY['s-1'],
                ARRAY['\\x00'::bytea], ARRAY['used'], ARRAY[\(at)::bigint], ARRAY['north'], ARRAY['\(device.id)'], ARRAY[false],
                ARRAY['valid'], ARRAY[NULL::text]);
            SELECT idx_tup_fetch FROM pg_stat_xact_user_tables WHERE relname = 'tickets'
            """
        )
        #expect(try await gatehouse.ticket(id: tickets[1_234].ticket.id).status == .used, "the scan admitted its ticket")
        // The lookup by token and the UPDATE by id: one row each, not the event's 2,000.
        let rows = try #require(fetched.split(separator: "\n").last.flatMap { Int($0) })
        #expect(rows <= 4, "tickets rows fetched for one scan: \(rows)")
        await running.stop()
    }

    @Test(.enabled(if: StoreKind.postgresURL != nil, "no PostgreSQL"))
    func a_newer_schema_is_a_clear_error_and_migration_is_once() async throws {
        let url = StoreKind.postgresURL!
        let database = "gatehouse_schema_\(UInt32.random(in: 0...UInt32.max))"
        try psql(url, "CREATE DATABASE \(database)")
        let own = url.replacingOccurrences(of: "/gatehouse_test", with: "/\(database)")
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        // Eight processes' worth of stores starting at once: one migrates, none fails.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { await RunningStore(try await PostgresStore.open(url: own, poolSize: 2, logger: logger)).stop() } }
            try await group.waitForAll()
        }
        // Every version recorded exactly once.
        #expect(try psql(own, "SELECT count(*) = count(DISTINCT version) AND max(version) = count(*) FROM gatehouse_schema") == "t")
        try psql(own, "INSERT INTO gatehouse_schema VALUES (99)")
        await #expect {
            _ = try await PostgresStore.open(url: own, poolSize: 1, logger: logger)
        } throws: { error in
            "\(error)".contains("newer than this gatehouse knows")
        }
    }

    /// The change feed without a lock: a transaction that changed a ticket before a pull and
    /// commits after it still reaches the gate, although a later transaction's change committed
    /// first. (Numbered in start order and read by number, as before schema 10 without its lock,
    /// the pull in between would hand out the later change and move the cursor past the earlier.)
    @Test(.enabled(if: StoreKind.postgresURL != nil, "no PostgreSQL"))
    func a_change_committed_after_a_pull_reaches_a_later_pull() async throws {
        let url = StoreKind.postgresURL!
        let f = try await Fixture(.postgres)
        let early = try await f.issue()
        let late = try await f.issue()
        try await f.feedSettled()
        func pull(after cursor: String?) async throws -> TicketSyncPage {
            try await f.gatehouse.syncTickets(bearerToken: f.deviceToken, after: cursor, limit: 100)
        }
        let start = try await pull(after: nil)
        #expect(start.tickets.count == 2 && start.complete)

        // Another process revokes the first ticket and keeps its transaction open.
        let other = Process()
        other.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        other.arguments = [url, "-q", "-v", "ON_ERROR_STOP=1"]
        let name = "gatehouse-long-\(UUID().uuidString.prefix(8))"
        other.environment = ProcessInfo.processInfo.environment.merging(["PGAPPNAME": name]) { $1 }
        let input = Pipe()
        other.standardInput = input
        other.standardOutput = Pipe()
        try other.run()
        input.fileHandleForWriting.write(Data("BEGIN;\nUPDATE tickets SET status = 'revoked' WHERE id = '\(early.ticket.id)';\n".utf8))
        #expect(try await session(name, on: url, reaches: "state = 'idle in transaction'"), "the other transaction never changed the ticket")

        // A check-in of the second ticket commits meanwhile; the pull holds it back, as it
        // cannot yet know what the open transaction will commit before it in the feed.
        #expect(try await f.checkin(late.qrData).result == .valid)
        let during = try await pull(after: start.cursor)
        #expect(during.tickets.isEmpty, "nothing past the open transaction is handed out")

        input.fileHandleForWriting.write(Data("COMMIT;\n".utf8))
        try input.fileHandleForWriting.close()
        await exited(other)
        #expect(other.terminationStatus == 0)
        try await f.feedSettled()
        let after = try await pull(after: during.cursor)
        let byNumber = Dictionary(after.tickets.map { ($0.number, $0.status) }, uniquingKeysWith: { $1 })
        #expect(byNumber[early.ticket.number] == .revoked, "the change committed after the pull arrived")
        #expect(byNumber[late.ticket.number] == .used)
        await f.stop()
    }

    /// A scanId that another process logs while this batch is deciding (its transaction commits
    /// after our replay check): the batch is rolled back and run again, so the scan gets the
    /// first decision, and the ticket this batch had marked used is unused again — no ticket is
    /// ever used without its log row.
    @Test(.enabled(if: StoreKind.postgresURL != nil, "no PostgreSQL"))
    func a_scan_id_decided_concurrently_is_answered_as_first_decided() async throws {
        let url = StoreKind.postgresURL!
        let fixture = try await Fixture(.postgres)
        let ticket = try await fixture.issue()
        // The other "process": logs scan S-1 of our device and holds its transaction open.
        let other = Process()
        other.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        other.arguments = [
            url, "-q", "-c",
            """
            BEGIN;
            INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash)
              VALUES (0, '\(fixture.event.id)', NULL, 'north-1', '\(fixture.device.id)', 'not_found', 'commit', 'S-1', sha256('\(ticket.qrData)'::bytea));
            SELECT pg_sleep(2);
            COMMIT;
            """,
        ]
        let name = "gatehouse-other-\(UUID().uuidString.prefix(8))"
        other.environment = ProcessInfo.processInfo.environment.merging(["PGAPPNAME": name]) { $1 }
        other.standardOutput = Pipe()
        try other.run()
        // Not a fixed wait (a loaded machine starts psql slower than that): until its INSERT is
        // done and it sleeps inside the open transaction.
        #expect(try await session(name, on: url, reaches: "wait_event = 'PgSleep'"), "the other transaction never held S-1 open")
        // Same device, scanId and code (a retry that reached two processes): our UPDATE marks the
        // ticket used, then the log INSERT waits for the other transaction and finds its row.
        let answer = try await fixture.checkin(ticket.qrData, scanId: "S-1")
        await exited(other)
        #expect(other.terminationStatus == 0)
        #expect(answer.result == .notFound, "answered as the first decision of S-1")
        #expect(try await fixture.store.ticket(id: ticket.ticket.id)?.status == .unused, "this batch's UPDATE was rolled back")
        // And the ticket still admits once, under a new scanId.
        #expect(try await fixture.checkin(ticket.qrData, scanId: "S-2").result == .valid)
        await fixture.stop()
    }

    /// A rush of registrations for one event takes turns on the event's row. Those waiting
    /// their turn hold no connection: the rest of the process (here a plain read) still gets
    /// one at once, where before two registrations waiting on the row held the whole pool and
    /// every other request waited past its 3 s deadline.
    @Test(.enabled(if: StoreKind.postgresURL != nil, "no PostgreSQL"))
    func registrations_waiting_for_their_event_leave_connections_to_the_rest() async throws {
        let url = try #require(try StoreKind.postgres.aloneURL())
        let f = try await Fixture(store: try await PostgresStore.open(url: url, poolSize: 2, logger: Fixture.logger))
        let event = try await f.gatehouse.createEvent(
            name: "Rush",
            startsAt: nil,
            endsAt: nil,
            place: nil,
            registration: RegistrationSettings(open: true)
        )
        let holder = try await RowHolder.hold("SELECT 1 FROM events WHERE id = '\(event.id)' FOR UPDATE", on: url)

        let rush = Task {
            try await withThrowingTaskGroup(of: Gatehouse.RegistrationAnswer.self) { group in
                for number in 0..<4 {
                    group.addTask {
                        try await f.gatehouse.register(
                            eventId: event.id,
                            try Gatehouse.Registrant(name: "Guest \(number)", email: "g\(number)@example.org")
                        )
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        let waitingOnTheRow = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%reg_open%'"
        var waiting = "0"
        for _ in 0..<200 where waiting == "0" {
            try await Task.sleep(for: .milliseconds(25))
            waiting = try await psqlOffThePool(url, waitingOnTheRow)
        }
        #expect(waiting == "1", "a registration waits on the event's row")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await psqlOffThePool(url, waitingOnTheRow) == "1", "one registration holds a connection while it waits, not the pool")
        #expect(try await f.gatehouse.event(id: event.id).name == "Rush", "a read gets a connection while the rush waits")
        try await holder.release()
        let answers = try await rush.value
        #expect(answers.count == 4 && answers.allSatisfy { if case .registered = $0 { true } else { false } })
        await f.stop()
    }

    /// An offline upload that waits for a lock past the service's 3 s deadline used to be answered
    /// 503 and commit anyway. The server now gives the statement up first: 503, nothing written.
    @Test(.enabled(if: StoreKind.postgresURL != nil, "no PostgreSQL"))
    func an_upload_answered_503_has_committed_nothing() async throws {
        // A database of its own: the upload waits while the row is held, and other tests' work
        // must not wait with it.
        let database = "gatehouse_deadline_\(UInt32.random(in: 0...UInt32.max))"
        try psql(StoreKind.postgresURL!, "CREATE DATABASE \(database)")
        let url = StoreKind.postgresURL!.replacingOccurrences(of: "/gatehouse_test", with: "/\(database)")
        let f = try await Fixture(store: try await PostgresStore.open(url: url, poolSize: 2, logger: Fixture.logger))
        let ticket = try await f.issue()
        // Another session holds the ticket's row until the upload is answered.
        let holder = try await RowHolder.hold("SELECT 1 FROM tickets WHERE id = '\(ticket.ticket.id)' FOR UPDATE", on: url)
        let upload = OfflineUpload(
            deviceId: f.device.id,
            gateId: f.device.gateId,
            checkins: [
                OfflineCheckin(scanId: "late", code: ticket.qrData, ticketNumber: ticket.ticket.number, at: f.clock.now.millis, clock: .synchronized)
            ]
        )
        await #expect(throws: StoreError.self) { try await f.gatehouse.uploadOffline(upload, bearerToken: f.deviceToken, logger: Fixture.logger) }
        // The row free again: an upload still waiting for it would now write.
        try await holder.release()
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await f.gatehouse.ticket(id: ticket.ticket.id).status == .unused, "an upload answered 503 committed nothing")
        await f.stop()
    }
}

/// Another session holding a row (`lock`, a `SELECT … FOR UPDATE`) until `release()`, at most
/// 60 s: a fixed hold a little past a deadline let a loaded machine reach the row after it.
struct RowHolder {
    let process: Process
    let name: String
    let url: String

    static func hold(_ lock: String, on url: String) async throws -> RowHolder {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = [url, "-tAc", "BEGIN; \(lock); SELECT pg_sleep(60); COMMIT;"]
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        let name = "gatehouse-holder-\(UUID().uuidString.prefix(8))"
        process.environment = ProcessInfo.processInfo.environment.merging(["PGAPPNAME": name]) { $1 }
        try process.run()
        // Not a fixed wait (a loaded machine starts psql slower): until it sleeps holding the row.
        #expect(try await session(name, on: url, reaches: "wait_event = 'PgSleep'"), "the other session never held the row")
        return RowHolder(process: process, name: name, url: url)
    }

    /// Ends the session (its transaction rolls back) and waits for psql to exit.
    func release() async throws {
        try await psqlOffThePool(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '\(name)'")
        await exited(process)
    }
}

/// `psql` on a thread of its own: a statement that waits (seconds, not milliseconds) must not
/// hold one of the few threads every test's async work runs on.
@discardableResult func psqlOffThePool(_ url: String, _ sql: String) async throws -> String {
    try await withCheckedThrowingContinuation { (done: CheckedContinuation<String, any Error>) in
        Thread { done.resume(with: Result { try psql(url, sql) }) }.start()
    }
}

/// Whether the psql session named `name` (its PGAPPNAME) reaches `state` (a condition on
/// pg_stat_activity) within 10 s: a loaded machine starts psql slower than any fixed wait.
func session(_ name: String, on url: String, reaches state: String) async throws -> Bool {
    let query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = '\(name)' AND \(state)"
    for _ in 0..<400 {
        if try await psqlOffThePool(url, query) == "1" { return true }
        try await Task.sleep(for: .milliseconds(25))
    }
    return false
}

/// Waits for a process to end on a thread of its own (see `psqlOffThePool`).
func exited(_ process: Process) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        Thread {
            process.waitUntilExit()
            done.resume()
        }.start()
    }
}

/// One statement through the psql client; its output without alignment.
@discardableResult func psql(_ url: String, _ sql: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
    process.arguments = [url, "-tAc", sql]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = Pipe()
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite struct SQLiteStoreTests {
    @Test func data_survives_reopening_and_schema_is_versioned() async throws {
        let folder = try TemporaryFolder()
        let path = folder.file("g.sqlite")
        var running = RunningStore(try SQLiteStore(path: path))
        let gatehouse = Gatehouse(store: running.store)
        let event = try await gatehouse.createEvent(name: "Gala", startsAt: nil, endsAt: nil)
        let ticket = try await gatehouse.issueTickets(eventId: event.id, [.init()])[0]
        await running.stop()
        running = RunningStore(try SQLiteStore(path: path))
        #expect(try await running.store.ticket(id: ticket.ticket.id)?.status == .unused)
        await running.stop()

        // A file from a newer gatehouse is refused with a clear message, not misread.
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA user_version = 99")
        #expect {
            _ = try SQLiteStore(path: path)
        } throws: { error in
            "\(error)".contains("newer than this gatehouse knows")
        }
    }

    @Test func settings_make_commits_durable() async throws {
        let folder = try TemporaryFolder()
        let store = try SQLiteStore(path: folder.file("g.sqlite"))
        let running = RunningStore(store)
        // Read through the writer's own connection: synchronous is a per-connection setting.
        let settings = try await store.durabilitySettings()
        await running.stop()
        #expect(settings.journalMode == "wal")
        #expect(settings.synchronous == 2, "synchronous=FULL: the WAL is fsynced before COMMIT returns")
        #expect(settings.foreignKeys)
    }
}

@Suite struct PairingConformanceTests {
    @Test(arguments: StoreKind.available)
    func a_pairing_code_enrolls_once_and_expires(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let (code, _) = try await f.gatehouse.createPairing(eventId: f.event.id, gateId: "south-2", name: nil, timeToLive: 600)
        #expect(code.count == 19 && code.split(separator: "-").count == 4, "80 bits in four groups")
        let (device, token) = try await f.gatehouse.enroll(code: code.lowercased())
        #expect(device.gateId == "south-2" && device.eventId == f.event.id && device.name == "kiosk south-2")
        let ticket = try await f.issue()
        #expect(try await f.checkin(ticket.qrData, device: device, token: token).result == .valid)
        await #expect(throws: Gatehouse.EnrollmentError.codeAlreadyUsed) { try await f.gatehouse.enroll(code: code) }
        await #expect(throws: Gatehouse.EnrollmentError.unknownCode) { try await f.gatehouse.enroll(code: "AAAA-BBBB-CCCC") }
        await #expect(throws: Gatehouse.EnrollmentError.unknownCode) { try await f.gatehouse.enroll(code: "not a code at all") }
        // The kind a device enrolls as is kept: a phone's scanner page is a scanner.
        let (phoneCode, _) = try await f.gatehouse.createPairing(eventId: f.event.id, gateId: "east", name: nil, timeToLive: 600)
        let created = try #require(try await f.store.pairingCreatedAt(codeHash: TokenHash.of(phoneCode.filter { $0 != "-" })))
        #expect(abs(created.timeIntervalSince(f.clock.now)) < 0.002)
        #expect(try await f.store.pairingCreatedAt(codeHash: TokenHash.of("AAAABBBBCCCCDDDD")) == nil)
        let phone = try await f.gatehouse.enroll(code: phoneCode, kind: .scanner)
        #expect(phone.device.kind == .scanner && phone.device.gateId == "east")
        #expect(try await f.gatehouse.devices(eventId: f.event.id).first { $0.device.id == phone.device.id }?.device.kind == .scanner)
        let (late, _) = try await f.gatehouse.createPairing(eventId: f.event.id, gateId: "west", name: "West", timeToLive: 60)
        f.clock.advance(61)
        await #expect(throws: Gatehouse.EnrollmentError.codeExpired) { try await f.gatehouse.enroll(code: late) }
        await #expect(throws: NotFoundError.self) { try await f.gatehouse.createPairing(eventId: "ENOEVENT", gateId: "g", name: nil, timeToLive: 60) }
        await #expect(throws: InvalidInputError.self) {
            try await f.gatehouse.createPairing(eventId: f.event.id, gateId: "g", name: nil, timeToLive: 1)
        }
        await f.stop()
    }
}

/// A scan whose data a store cannot keep fails alone: the scans that shared its batch (or its
/// commit) get their real decisions. The service refuses such text at the edge already; this is
/// the second line, at the store, for whatever the edge does not know about.
@Suite struct PoisonedBatchTests {
    @Test(arguments: StoreKind.available)
    func one_unstorable_scan_fails_alone(_ kind: StoreKind) async throws {
        let f = try await Fixture(kind)
        let tickets = try await f.gatehouse.issueTickets(eventId: f.event.id, Array(repeating: .init(), count: 40))
        func attempt(_ code: String, scanId: String, gate: String? = nil) -> CheckinAttempt {
            let parsed = TicketCode.parse(code)
            return CheckinAttempt(
                deviceId: f.device.id,
                deviceTokenHash: TokenHash.of(f.deviceToken),
                gateId: gate ?? f.device.gateId,
                scanId: scanId,
                mode: .commit,
                payloadHash: TokenHash.of(code),
                code: parsed.map { ($0.eventID, TokenHash.of($0.token)) },
                at: f.clock.now
            )
        }
        // All at once, so they meet in one batch: a NUL that PostgreSQL cannot store in TEXT.
        let outcomes = await withTaskGroup(of: (Int, Result<CheckinOutcome, any Error>).self) { group in
            for (index, ticket) in tickets.enumerated() {
                group.addTask { (index, await Result(awaiting: { try await f.store.checkin(attempt(ticket.qrData, scanId: "s-\(index)")) })) }
                if index == 20 {
                    group.addTask {
                        (
                            -1,
                            await Result(awaiting: { try await f.store.checkin(attempt(ticket.qrData, scanId: "poison\u{0}", gate: "north-1\u{0}")) })
                        )
                    }
                }
            }
            var all: [Int: Result<CheckinOutcome, any Error>] = [:]
            for await (index, outcome) in group { all[index] = outcome }
            return all
        }
        for index in tickets.indices {
            guard case .success(.decided(let decision)) = outcomes[index] else {
                Issue.record("scan \(index) got \(String(describing: outcomes[index]))")
                continue
            }
            #expect(decision.result == .valid, "scan \(index)")
        }
        // The poisoned scan itself: refused or decided, but never taking the others with it.
        #expect(outcomes[-1] != nil)
    }
}

extension Result where Failure == any Error {
    init(awaiting body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
