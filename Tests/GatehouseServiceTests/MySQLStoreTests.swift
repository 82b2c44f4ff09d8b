import Foundation
import GatehouseCore
import GatehouseStorage
import GatehouseTestSupport
import Logging
import Synchronization
import Testing

@testable import GatehouseAPI
@testable import GatehouseDomain
@testable import GatehouseMySQL
@testable import GatehouseService
@testable import GatehouseWeb

/// The `mysql://` forms, checked before anything connects: no server needed.
@Suite struct MySQLURLTests {
    @Test func accepted_forms() throws {
        let tcp = try MySQLTarget(url: "mysql://gate:pw@db.example:3307/gatehouse?ssl-mode=required", environment: [:])
        #expect(tcp.endpoint == .tcp(host: "db.example", port: 3307) && tcp.user == "gate" && tcp.password == "pw")
        #expect(tcp.database == "gatehouse" && tcp.tls == .required)
        let defaults = try MySQLTarget(url: "mariadb://gate@10.0.0.5/gh", environment: ["MYSQL_PWD": "from-env"])
        #expect(defaults.endpoint == .tcp(host: "10.0.0.5", port: 3306) && defaults.tls == .preferred && defaults.password == "from-env")
        let socket = try MySQLTarget(url: "mysql://gate:pw@localhost/gh?socket=/run/mysqld/mysqld.sock", environment: [:])
        #expect(socket.endpoint == .socket(path: "/run/mysqld/mysqld.sock"))
        // A password with every character a URL reserves, percent-encoded; and 4-byte UTF-8.
        let odd = try MySQLTarget(url: "mysql://gate:p%40ss%3Aw%2Fo%3Frd%23%F0%9F%94%91@[::1]:3306/gh", environment: [:])
        #expect(odd.password == "p@ss:w/o?rd#🔑" && odd.endpoint == .tcp(host: "::1", port: 3306))
        let verified = try MySQLTarget(url: "mysql://gate:pw@db/gh?ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/ssl/db-ca.pem", environment: [:])
        #expect(verified.tls == .verifyIdentity && verified.tlsCA == "/etc/ssl/db-ca.pem")
        #expect(try DatabaseLocation.parse("mysql://gate:pw@db/gh") == .mysql(url: "mysql://gate:pw@db/gh"))
    }

    @Test(arguments: [
        ("mysql://gate:secret@db/gh%00x", "database name contains control characters"),
        ("mysql://gate:secret@db/gh\nx", "contains control characters"),
        ("mysql://gate:sec%0Aret@db/gh", "password contains control characters"),
        ("mysql://gate:secret@db:0/gh", "port must be between 1 and 65535"),
        ("mysql://gate:secret@db:70000/gh", "port"),
        ("mysql://gate:secret@db/", "names no database"),
        ("mysql://gate:secret@db/a%2Fb", "database name must be 1 to 64 characters"),
        ("mysql://:secret@db/gh", "names no user"),
        ("mysql://gate:secret@db/gh?sslmode=maybe", "ssl-mode 'maybe' is not one of disabled, preferred, required, verify-ca, verify-identity"),
        ("mysql://gate:secret@db/gh?ssl-mode=verify-ca", "needs ssl-ca"),
        ("mysql://gate:secret@db/gh?charset=latin1", "parameter 'charset' is not one of"),
        ("mysql://gate:secret@localhost/gh?socket=mysqld.sock", "socket must be an absolute path"),
        ("mysql://gate:secret@db/gh?socket=/s&socket=/t", "given twice"),
        ("mysql://gate:secret@db;rm -rf/gh", "is not a valid"),
        ("mysql://gate:secret@db%20x/gh", "host must be a name or an address"),
    ])
    func refused_forms_name_the_part_and_never_the_password(_ url: String, _ expected: String) {
        #expect {
            _ = try MySQLTarget(url: url, environment: [:])
        } throws: { error in
            let text = "\(error)"
            return text.contains(expected) && !text.contains("secret") && text.hasPrefix("--db")
        }
    }
}

/// What only the MySQL/MariaDB store has to show; the conformance suites run against it too.
@Suite(.enabled(if: StoreKind.mysqlURL != nil, "no MariaDB: run under scripts/with-mariadb.sh (make test does) to test the MySQL store"))
struct MySQLStoreTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func the_conformance_suite_covers_mysql() {
        #expect(StoreKind.available.contains(.mysql))
    }

    /// A connection as the server's root, for making databases and reading settings.
    func root() throws -> MySQLConnection {
        let url = try #require(ProcessInfo.processInfo.environment["GATEHOUSE_TEST_MYSQL_ROOT"])
        return try MySQLConnection(MySQLTarget(url: url))
    }

    /// A fresh database the test user may use, and the test user's URL for it.
    func freshDatabase() throws -> String {
        let name = "gatehouse_m_\(UInt32.random(in: 0...UInt32.max))"
        let db = try root()
        try db.execute("CREATE DATABASE \(name) CHARACTER SET utf8mb4")
        try db.execute("GRANT ALL ON \(name).* TO 'gatehouse'@'127.0.0.1'")
        return StoreKind.mysqlURL!.replacingOccurrences(of: "/gatehouse_test", with: "/\(name)")
    }

    @Test func eight_processes_starting_at_once_migrate_once_and_a_newer_schema_is_refused() async throws {
        let url = try freshDatabase()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { await RunningStore(try await MySQLStore.open(url: url, poolSize: 2, logger: Self.logger)).stop() } }
            try await group.waitForAll()
        }
        let db = try MySQLConnection(MySQLTarget(url: url))
        #expect(try db.firstRow("SELECT version FROM gatehouse_schema WHERE id = 1", [], { $0.int(0) }) == Int64(MySQLSchema.currentVersion))
        #expect(try db.firstRow("SELECT count(*) FROM gatehouse_changes", [], { $0.int(0) }) == 1)
        // Every table InnoDB and utf8mb4.
        let tables = try db.rows(
            "SELECT table_name, engine, table_collation FROM information_schema.tables WHERE table_schema = DATABASE()",
            [],
            { ($0.text(0), $0.text(1), $0.text(2)) }
        )
        #expect(tables.count == 22)
        for (name, engine, collation) in tables {
            #expect(engine == "InnoDB" && collation.hasPrefix("utf8mb4"), "\(name): \(engine) \(collation)")
        }
        // Ids compare byte for byte, trailing spaces too: a no-pad binary collation on every id column.
        let ids = try db.rows(
            """
            SELECT c.table_name, c.column_name, c.collation_name FROM information_schema.columns c
            WHERE c.table_schema = DATABASE() AND c.collation_name IS NOT NULL AND (c.column_name IN ('id', 'event_id', 'ticket_id', 'device_id', 'gate_id', 'scan_id', 'used_gate', 'used_device'))
            """,
            [],
            { ("\($0.text(0)).\($0.text(1))", $0.text(2)) }
        )
        #expect(ids.count >= 15)
        for (column, collation) in ids {
            #expect(["utf8mb4_nopad_bin", "utf8mb4_0900_bin"].contains(collation), "\(column) compares with \(collation)")
        }
        try db.run("UPDATE gatehouse_schema SET version = 99 WHERE id = 1")
        await #expect {
            _ = try await MySQLStore.open(url: url, poolSize: 1, logger: Self.logger)
        } throws: { error in
            "\(error)".contains("newer than this gatehouse knows")
        }
    }

    @Test func sessions_are_durable_read_committed_and_utf8mb4() throws {
        let db = try MySQLConnection(MySQLTarget(url: StoreKind.mysqlURL!))
        let settings = try db.firstRow(
            "SELECT @@innodb_flush_log_at_trx_commit, @@tx_isolation, @@character_set_client, @@character_set_results, @@sql_mode",
            [],
            { ($0.int(0), $0.text(1), $0.text(2), $0.text(3), $0.text(4)) }
        )
        #expect(settings?.0 == 1)
        #expect(settings?.1 == "READ-COMMITTED")
        #expect(settings?.2 == "utf8mb4" && settings?.3 == "utf8mb4")
        #expect(settings?.4.contains("STRICT_ALL_TABLES") == true)
    }

    /// NUL bytes, 4-byte UTF-8 and quotes come back as they went in; a value too long for its
    /// column is refused on its own, naming the column, while the batch it shared commits.
    @Test func hostile_values_are_data_and_one_too_long_fails_alone() async throws {
        let fixture = try await Fixture(.mysql)
        let odd = "nul\u{0}inside 𝄞😀 'quote\" \\back ` %_"
        let tickets = try await fixture.store.issueTickets(
            eventId: fixture.event.id,
            tickets: [
                NewTicket(id: "T-odd-\(UUID().uuidString)", tokenHash: Array(repeating: 0, count: 31) + [UInt8.random(in: 0...255)], holderName: odd)
            ],
            at: Date()
        )
        #expect(try await fixture.store.ticket(id: tickets[0].id)?.holderName == odd)
        let search = try await fixture.store.tickets(eventId: fixture.event.id, query: TicketQuery(search: "😀 'QUOTE"))
        #expect(search.map(\.id) == [tickets[0].id], "LIKE finds 4-byte text, case-insensitively, wildcards escaped")
        #expect(try await fixture.store.tickets(eventId: fixture.event.id, query: TicketQuery(search: "%")).map(\.id) == [tickets[0].id])

        async let tooLong = Result {
            try await fixture.store.issueTickets(
                eventId: fixture.event.id,
                tickets: [
                    NewTicket(
                        id: "T-long-\(UUID().uuidString)",
                        tokenHash: (0..<32).map { _ in UInt8.random(in: 0...255) },
                        holderName: String(repeating: "x", count: 300)
                    )
                ],
                at: Date()
            )
        }
        async let fine = Result { try await fixture.issue() }
        let (long, good) = await (tooLong, fine)
        #expect(throws: StoreError.self) { try long.get() }
        if case .failure(StoreError.invalid(let why)) = long { #expect(why.contains("holder_name"), "\(why)") }
        #expect(try await fixture.checkin(good.get().qrData).result == .valid)
        await fixture.stop()
    }

    @Test func the_socket_form_connects() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["GATEHOUSE_TEST_MYSQL_SOCKET"])
        let store = try await MySQLStore.open(url: url, poolSize: 1, logger: Self.logger)
        #expect(store.target.endpoint == .socket(path: try #require(URLComponents(string: url)?.queryItems?.first { $0.name == "socket" }?.value)))
        let running = RunningStore(store)
        try await store.healthCheck()
        #expect(try await store.events().count >= 0)
        await running.stop()
    }

    /// A scanId that another process logs while our batch decides (its transaction commits after
    /// our replay check): our savepoint is rolled back and the scan answered with that decision.
    @Test func a_scan_id_decided_concurrently_is_answered_as_first_decided() async throws {
        let fixture = try await Fixture(.mysql)
        let ticket = try await fixture.issue()
        let other = try MySQLConnection(MySQLTarget(url: StoreKind.mysqlURL!))
        let holder = OtherProcess(other)
        let payload = TokenHash.of(ticket.qrData)
        let committed = holder.logAndHold(event: fixture.event.id, device: fixture.device.id, scanId: "S-1", payload: payload, seconds: 0.6)
        try await Task.sleep(for: .milliseconds(250))
        let answer = try await fixture.checkin(ticket.qrData, scanId: "S-1")
        #expect(try await committed.value)
        #expect(answer.result == .notFound, "answered as the first decision of S-1")
        #expect(try await fixture.store.ticket(id: ticket.ticket.id)?.status == .unused, "our UPDATE was rolled back")
        #expect(try await fixture.checkin(ticket.qrData, scanId: "S-2").result == .valid)
        await fixture.stop()
    }

    /// The server drops every connection while the store is idle (a restart, `wait_timeout`, a
    /// proxy): the next check-in and the next read are answered as if nothing happened, each run
    /// once on a new connection. A writer has no START TRANSACTION to find a dead connection
    /// with: its batch's first statement finds it, before the server answered anything of the
    /// batch.
    @Test func connections_dropped_while_idle_are_replaced_unnoticed() async throws {
        let url = try freshDatabase()
        let name = String(try #require(url.split(separator: "/").last).prefix { $0 != "?" })
        let fixture = try await Fixture(store: try await MySQLStore.open(url: url, poolSize: 2, logger: Self.logger))
        let tickets = try await fixture.gatehouse.issueTickets(eventId: fixture.event.id, [.init(), .init()])
        #expect(try await fixture.checkin(tickets[0].qrData, scanId: "S-1").result == .valid)

        let root = try root()
        let idle = try root.rows("SELECT id FROM information_schema.PROCESSLIST WHERE db = ?", [.text(name)]) { $0.int(0) }
        #expect(idle.count >= 2, "a reader and a writer were connected")
        for id in idle { try root.execute("KILL CONNECTION \(id)") }

        #expect(try await fixture.checkin(tickets[1].qrData, scanId: "S-2").result == .valid)
        #expect(try await fixture.store.ticket(id: tickets[1].ticket.id)?.status == .used)
        #expect(try await fixture.checkin(tickets[0].qrData, scanId: "S-3").result == .alreadyUsed)
        await fixture.stop()
    }

    /// A scan of `ticket` at the fixture's gate, as the batcher hands it to the store.
    func attempt(_ ticket: IssuedTicket, scanId: String, in fixture: Fixture) -> CheckinAttempt {
        CheckinAttempt(
            deviceId: fixture.device.id,
            deviceTokenHash: TokenHash.of(fixture.deviceToken),
            gateId: fixture.device.gateId,
            scanId: scanId,
            mode: .commit,
            payloadHash: TokenHash.of(ticket.qrData),
            code: TicketCode.parse(ticket.qrData).map { ($0.eventID, TokenHash.of($0.token)) },
            at: fixture.clock.now
        )
    }

    /// A batch's log rows are numbered by their ids when one INSERT's ids are sure to be
    /// consecutive, and found by a read when they may not be (a step of 2 here, as a cluster
    /// sets); as the last job of its transaction, a batch holds its writes back and stores each
    /// row once, with its number. Every way, every ticket and log row of the batch reaches the
    /// feed and the stream.
    @Test(arguments: [1, 2], [false, true])
    func a_batch_numbers_every_change_whatever_the_id_step(step: Int, heldForNumbering: Bool) async throws {
        let fixture = try await Fixture(.mysql)
        let tickets = try await fixture.gatehouse.issueTickets(eventId: fixture.event.id, Array(repeating: .init(), count: 4))
        let event = fixture.event.id
        let feedBefore = try await fixture.store.ticketChanges(eventId: event, after: nil, limit: 1000)
        let streamBefore = try await fixture.store.checkinStream(eventId: event, after: nil, limit: 1000).last?.position
        let attempts = tickets.enumerated().map { index, ticket in attempt(ticket, scanId: "step-\(index)", in: fixture) }
        // libmariadb blocks: on a thread of its own, as the store's workers run it, never in the
        // cooperative pool, where a lock wait would stall every other test's tasks with it.
        let batch = try await onOwnThread {
            let db = try MySQLConnection(MySQLTarget(url: StoreKind.mysqlURL!))
            try db.execute("SET SESSION auto_increment_increment = \(step)")
            let outcomes = try db.transaction {
                db.forgetChanges()
                db.mayHoldWritesForNumbering = heldForNumbering
                let outcomes = try MySQLStore.decideTogether(attempts, in: db)
                db.mayHoldWritesForNumbering = false
                #expect(db.numberedWrites.isEmpty != heldForNumbering)
                try MySQLSchema.numberChanges(db)
                return outcomes
            }
            return (
                consecutive: db.insertIdsAreConsecutive,
                results: outcomes.map { outcome -> CheckinResult? in
                    guard case .decided(let decision) = outcome else { return nil }
                    return decision.result
                },
                ids: try db.rows("SELECT id FROM checkins WHERE event_id = ? ORDER BY id", [.text(event)]) { $0.int(0) },
                unnumbered: try db.firstRow("SELECT COUNT(*) FROM checkins WHERE event_id = ? AND stream_seq = 0", [.text(event)]) { $0.int(0) }
            )
        }
        #expect(batch.consecutive == (step == 1))
        #expect(batch.results == Array(repeating: .valid, count: 4))
        let ids = batch.ids
        #expect(ids.count == 4 && ids.last! - ids.first! == Int64(3 * step), "one INSERT's ids, \(step) apart")
        #expect(batch.unnumbered == 0)
        let feed = try await fixture.store.ticketChanges(eventId: event, after: feedBefore.cursor, limit: 1000)
        #expect(Set(feed.tickets.map(\.number)) == Set(tickets.map(\.ticket.number)))
        let stream = try await fixture.store.checkinStream(eventId: event, after: streamBefore, limit: 1000)
        #expect(stream.map(\.entry.scanId) == attempts.map(\.scanId), "every log row, in the batch's order")
        await fixture.stop()
    }

    /// A ticket another process is changing when a batch reads it is decided as that change
    /// leaves it, never written over: the batch's read (locking, shared) waits for the change to
    /// commit, and the batch's other scans are answered as usual.
    @Test func a_ticket_another_process_is_changing_is_read_as_it_commits() async throws {
        let fixture = try await Fixture(.mysql)
        let revoked = try await fixture.issue()
        let untouched = try await fixture.issue()
        let store = try #require(fixture.store as? MySQLStore)
        let holder = OtherProcess(try MySQLConnection(MySQLTarget(url: StoreKind.mysqlURL!)))
        let hold = TransactionHold()
        let committed = holder.revokeAndHold(ticketId: revoked.ticket.id, until: hold)
        await hold.untilHolding()
        let attempts = [attempt(revoked, scanId: "R-1", in: fixture), attempt(untouched, scanId: "U-1", in: fixture)]
        let decided = Task { try await store.writer.perform(limit: .seconds(30)) { db in try MySQLStore.decideInWriter(attempts, in: db) } }
        try await Task.sleep(for: .milliseconds(300))
        hold.release()
        #expect(try await committed.value)
        let results = try await decided.value.map { outcome -> CheckinResult? in
            guard case .decided(let decision) = outcome else { return nil }
            return decision.result
        }
        #expect(results == [.revoked, .valid])
        #expect(try await fixture.store.ticket(id: revoked.ticket.id)?.status == .revoked, "not written over")
        #expect(try await fixture.store.ticket(id: untouched.ticket.id)?.status == .used)
        await fixture.stop()
    }

    /// The writers take the check-ins that wait themselves (`MySQLScanQueue`), so at shutdown
    /// they must answer every scan they accepted and refuse the rest at once: a scan answered
    /// `valid` used its ticket, one refused left it unused, and none waits for its limit.
    @Test func scans_waiting_at_shutdown_are_answered_and_later_ones_refused_at_once() async throws {
        let fixture = try await Fixture(.mysql)
        let store = try #require(fixture.store as? MySQLStore)
        var scans: [(ticketId: String, attempt: CheckinAttempt)] = []
        for index in 0..<24 {
            let ticket = try await fixture.issue()
            scans.append((ticket.ticket.id, attempt(ticket, scanId: "SD-\(index)", in: fixture)))
        }
        let attempts = scans.map(\.attempt)
        let answers = Task {
            await withTaskGroup(of: (Int, Result<CheckinOutcome, any Error>).self) { group in
                for (index, attempt) in attempts.enumerated() {
                    group.addTask {
                        do {
                            return (index, .success(try await store.checkin(attempt)))
                        } catch {
                            return (index, .failure(error))
                        }
                    }
                }
                var answers = [Result<CheckinOutcome, any Error>?](repeating: nil, count: attempts.count)
                for await (index, answer) in group { answers[index] = answer }
                return answers.compactMap { $0 }
            }
        }
        await fixture.stop()
        let answered = await answers.value
        #expect(answered.count == scans.count)
        await #expect(throws: StoreError.unavailable("the MySQL writers have stopped")) { try await store.checkin(attempts[0]) }
        let target = try MySQLTarget(url: StoreKind.mysqlURL!)
        let ticketIds = scans.map(\.ticketId)
        let used = try await onOwnThread { () throws -> Set<String> in
            let db = try MySQLConnection(target)
            let ids = ticketIds.map { MySQLValue.text($0) }
            let sql = "SELECT id FROM tickets WHERE status = 'used' AND id IN (" + ids.map { _ in "?" }.joined(separator: ", ") + ")"
            return Set(try db.rows(sql, ids) { $0.text(0) })
        }
        for (scan, answer) in zip(scans, answered) {
            switch answer {
            case .success(.decided(let decision)):
                #expect(decision.result == .valid)
                #expect(used.contains(scan.ticketId), "answered valid, so its ticket is used")
            case .failure(let error):
                #expect(error as? StoreError == .unavailable("the MySQL writers have stopped"), "refused at once, not left to time out")
                #expect(!used.contains(scan.ticketId), "refused, so its ticket is unused")
            default:
                Issue.record("unexpected answer \(answer)")
            }
        }
    }

    /// What the batch's writes rely on: its read locks each ticket it finds until the batch's
    /// transaction ends, so no other process changes one between the read and the write.
    @Test func a_batchs_read_holds_its_tickets_until_its_transaction_ends() async throws {
        let fixture = try await Fixture(.mysql)
        let ticket = try await fixture.issue()
        let attempts = [attempt(ticket, scanId: "L-1", in: fixture), attempt(ticket, scanId: "L-2", in: fixture)]
        let target = try MySQLTarget(url: StoreKind.mysqlURL!)
        let (whileRead, afterwards) = try await onOwnThread { () throws -> (UInt32?, Int) in
            let batch = try MySQLConnection(target)
            let other = try MySQLConnection(target)
            try other.execute("SET SESSION innodb_lock_wait_timeout = 1")
            let change = "UPDATE tickets SET holder_name = 'changed' WHERE id = ?"
            let whileRead = try batch.transaction { () throws -> UInt32? in
                #expect(try MySQLStore.firstReads(attempts[...], in: batch).allSatisfy { $0?.ticket?.id == ticket.ticket.id })
                do {
                    _ = try other.run(change, [.text(ticket.ticket.id)])
                    return nil
                } catch {
                    return (error as? MySQLError)?.number
                }
            }
            return (whileRead, try other.run(change, [.text(ticket.ticket.id)]))
        }
        #expect(whileRead == 1205, "another client's change waits for the batch (lock wait timeout)")
        #expect(afterwards == 1, "and goes through once the batch has ended")
        await fixture.stop()
    }

    /// Two batches that read one ticket at the same instant (one code at two gates) each hold it
    /// shared; when both then write it, each waits for the other (one for the change counter,
    /// one for the row). InnoDB rolls one back as a deadlock victim, its writer runs it again,
    /// and that run finds the ticket used: admitted once, both scans answered, nothing failed.
    @Test func two_batches_reading_one_ticket_at_once_admit_it_once_and_both_are_answered() async throws {
        // A store opened first: its schema has the change counter the numbering takes.
        let fixture = try await Fixture(.mysql)
        let ticket = try await fixture.issue()
        let writer = MySQLWorkers(target: try MySQLTarget(url: StoreKind.mysqlURL!), threads: 2, batching: true, name: "twice-test")
        let running = Task { try await writer.run() }
        let meeting = Meeting()
        func batch(_ scanId: String) -> [CheckinAttempt] { [attempt(ticket, scanId: scanId, in: fixture)] }
        let first = batch("T-1")
        let second = batch("T-2")
        // Each on a writer thread of its own, one transaction each: both read before either writes.
        async let one = writer.perform(limit: .seconds(30)) { db in
            let outcomes = try MySQLStore.decideTogether(first, in: db)
            meeting.arriveAndWait()
            return outcomes
        }
        await meeting.untilArrived(1)
        async let two = writer.perform(limit: .seconds(30)) { db in
            let outcomes = try MySQLStore.decideTogether(second, in: db)
            meeting.arriveAndWait()
            return outcomes
        }
        let results = try await (one + two).map { outcome -> CheckinResult? in
            guard case .decided(let decision) = outcome else { return nil }
            return decision.result
        }
        #expect(results.sorted(by: { "\($0!)" < "\($1!)" }) == [.alreadyUsed, .valid], "admitted once")
        #expect(meeting.arrivals == 3, "both met with the ticket read, and one ran again")
        #expect(try await fixture.store.ticket(id: ticket.ticket.id)?.status == .used)
        let logged = try await fixture.store.checkinStream(eventId: fixture.event.id, after: nil, limit: 100).map(\.entry.scanId)
        #expect(Set(logged) == ["T-1", "T-2"] && logged.count == 2, "each scan logged once")
        running.cancel()
        _ = await running.result
        await fixture.stop()
    }

    /// Two worker threads meeting once: the first to arrive waits (10 s at most) for the second;
    /// later arrivals pass.
    final class Meeting: Sendable {
        private let count = Mutex(0)

        func arriveAndWait() {
            let arrived = count.withLock { count in
                count += 1
                return count
            }
            guard arrived == 1 else { return }
            let giveUp = Date().addingTimeInterval(10)
            while arrivals < 2 && Date() < giveUp { Thread.sleep(forTimeInterval: 0.001) }
        }

        var arrivals: Int { count.withLock { $0 } }

        func untilArrived(_ wanted: Int) async {
            let giveUp = ContinuousClock.now + .seconds(10)
            while arrivals < wanted && .now < giveUp { try? await Task.sleep(for: .milliseconds(5)) }
        }
    }

    /// A write the transaction's last job held back for the numbering that fails by itself
    /// fails that job alone: the batch runs again with savepoints, where nothing is held back,
    /// and the other jobs of the transaction are answered as they would be without it.
    @Test func a_held_write_that_fails_by_itself_is_its_jobs_failure() async throws {
        // A store opened first: its schema has the change counter the numbering takes.
        let fixture = try await Fixture(.mysql)
        let writer = MySQLWorkers(target: try MySQLTarget(url: StoreKind.mysqlURL!), threads: 1, batching: true, name: "held-test")
        // Outside a service group its run ends at cancellation, the queue answered first.
        let running = Task { try await writer.run() }
        struct Refused: Error {}
        // The one writer thread busy for a while, so the two jobs after it meet in one batch.
        async let busy = writer.perform(limit: .seconds(30)) { _ in Thread.sleep(forTimeInterval: 1) }
        try await Task.sleep(for: .milliseconds(50))
        async let other = writer.perform(limit: .seconds(30)) { _ in "answered" }
        try await Task.sleep(for: .milliseconds(50))
        let last = try await writer.perform(limit: .seconds(30)) { db -> String in
            guard db.mayHoldWritesForNumbering else { return "run again alone" }
            db.holdForNumbering(.init(count: 1) { _, _ in throw Refused() })
            return "held"
        }
        #expect(last == "run again alone")
        #expect(try await other == "answered", "not failed with the held write's error")
        try await busy
        running.cancel()
        _ = await running.result
        await fixture.stop()
    }

    /// A server that does not answer in time is a 503 at the limit, while the worker still waits
    /// for it; the worker then serves the next job. The server's wait is ended by the test (`KILL
    /// QUERY`), not by a clock, so a loaded machine that answers the limit late cannot fail it.
    @Test(arguments: [false, true])
    func a_job_past_its_limit_is_answered_unavailable_while_the_server_still_works(batching: Bool) async throws {
        let workers = MySQLWorkers(target: try MySQLTarget(url: StoreKind.mysqlURL!), threads: 1, batching: batching, name: "limit-test")
        let running = Task { try await workers.run() }
        // The thread running and connected first: the job under test must start well within its limit.
        _ = try await workers.perform(limit: .seconds(30)) { db in try db.firstRow("SELECT 1", []) { $0.int(0) } }
        let job = SleepingJob()
        await #expect {
            try await workers.perform(limit: .milliseconds(300)) { db in try job.run(on: db) }
        } throws: { error in
            guard case StoreError.unavailable(let message) = error else { return false }
            return message.contains("did not answer within")
        }
        let answeredWhileWaiting = !job.hasEnded
        #expect(answeredWhileWaiting, "answered at the limit, not when the server was done")
        let root = try root()
        let giveUp = ContinuousClock.now + .seconds(30)
        while !job.hasEnded && .now < giveUp {
            if let id = job.connectionID { try root.execute("KILL QUERY \(id)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let next = try await workers.perform(limit: .seconds(30)) { db in try db.firstRow("SELECT 7", []) { $0.int(0) } }
        #expect(next == 7 && job.hasEnded)
        running.cancel()
        _ = await running.result
    }

    /// A job that keeps the server busy until its query is killed, and tells when it has ended.
    final class SleepingJob: Sendable {
        private let connection = Mutex<Int64?>(nil)
        private let ended = Atomic<Bool>(false)

        func run(on db: MySQLConnection) throws {
            defer { ended.store(true, ordering: .relaxed) }
            let id = try db.firstRow("SELECT CONNECTION_ID()", []) { $0.int(0) }
            connection.withLock { $0 = id }
            try db.execute("DO SLEEP(60)")
        }

        var connectionID: Int64? { connection.withLock { $0 } }
        var hasEnded: Bool { ended.load(ordering: .relaxed) }
    }

    /// The change counter is taken at a transaction's end: a long write transaction holds no
    /// check-in back, and its change, numbered when it commits, reaches a pull made after that
    /// even when an earlier pull ran while it was open.
    @Test func a_long_transaction_holds_no_checkin_and_its_change_is_not_missed() async throws {
        let fixture = try await Fixture(.mysql)
        let slow = try await fixture.issue()
        let quick = try await fixture.issue()
        let settled = try await fixture.store.ticketChanges(eventId: fixture.event.id, after: nil, limit: 1000)
        let holder = OtherProcess(try MySQLConnection(MySQLTarget(url: StoreKind.mysqlURL!)))
        // Held open until this test has checked in and pulled, however slow a loaded machine is:
        // a check-in that waited for it would run into the store's 3 s limit instead.
        let hold = TransactionHold()
        let committed = holder.revokeAndHold(ticketId: slow.ticket.id, until: hold)
        await hold.untilHolding()
        #expect(try await fixture.checkin(quick.qrData, scanId: "Q-1").result == .valid)
        #expect(holder.committedAt.load(ordering: .acquiring) == 0, "the long transaction ended before the check-in was answered")
        // A pull while the long transaction is open: the check-in, not the revocation yet.
        let during = try await fixture.store.ticketChanges(eventId: fixture.event.id, after: settled.cursor, limit: 1000)
        #expect(during.tickets.map(\.number) == [quick.ticket.number])
        hold.release()
        #expect(try await committed.value)
        // Numbered when it committed, after the check-in: the next pull from that cursor has it.
        let after = try await fixture.store.ticketChanges(eventId: fixture.event.id, after: during.cursor, limit: 1000)
        #expect(after.tickets.map(\.number) == [slow.ticket.number], "a change that committed after a pull reaches the next pull")
        #expect(after.tickets.first?.status == .revoked)
        await fixture.stop()
    }
}

/// A test's say over how long another client's transaction stays open.
final class TransactionHold: Sendable {
    private let holding = Atomic<Bool>(false)
    private let released = Atomic<Bool>(false)

    /// On the holder's thread, inside the transaction: waits for `release()`, at most 60 s.
    func holdOpen() {
        holding.store(true, ordering: .releasing)
        let deadline = Date().addingTimeInterval(60)
        while !released.load(ordering: .acquiring) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    }

    /// Returns once the holder is inside its transaction, its change made (or after 60 s, when
    /// it failed before: the test's expectations then say so).
    func untilHolding() async {
        let deadline = ContinuousClock.now + .seconds(60)
        while !holding.load(ordering: .acquiring) && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
    }

    func release() { released.store(true, ordering: .releasing) }
}

/// Another database client on a thread of its own, holding a transaction open for a while
/// before committing it.
final class OtherProcess: @unchecked Sendable {
    let connection: MySQLConnection
    /// Set (to 1) once the held transaction has committed.
    let committedAt = Atomic<Int>(0)
    init(_ connection: MySQLConnection) { self.connection = connection }

    /// Revokes a ticket as the store does, numbering the change at the end, with the transaction
    /// held open between the change and the numbering until `hold` is released.
    func revokeAndHold(ticketId: String, until hold: TransactionHold) -> Task<Bool, any Error> {
        inTransaction { connection in
            let changed = try connection.run(
                "UPDATE tickets SET status = 'revoked', change_seq = ? WHERE id = ?",
                [.integer(MySQLConnection.unnumbered), .text(ticketId)]
            )
            connection.changed(ticket: ticketId)
            hold.holdOpen()
            try MySQLSchema.numberChanges(connection)
            return changed == 1
        }
    }

    /// Inserts a log row and holds the transaction open for `seconds`.
    func logAndHold(event: String, device: String, scanId: String, payload: [UInt8], seconds: Double) -> Task<Bool, any Error> {
        inTransaction { connection in
            try connection.run(
                """
                INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash)
                VALUES (0, ?, NULL, 'north-1', ?, 'not_found', 'commit', ?, ?)
                """,
                [.text(event), .text(device), .text(scanId), .bytes(payload)]
            )
            Thread.sleep(forTimeInterval: seconds)
            return true
        }
    }

    /// Runs `body` in a transaction and commits; a deadlock (other tests share the database, and
    /// the change counter) is rolled back and run again, as the store itself would.
    private func attempts(_ limit: Int, on connection: MySQLConnection, _ body: (MySQLConnection) throws -> Bool) throws -> Bool {
        var attempt = 1
        while true {
            do {
                try connection.execute("START TRANSACTION")
                let answer = try body(connection)
                try connection.execute("COMMIT")
                committedAt.store(1, ordering: .releasing)
                return answer
            } catch {
                try? connection.execute("ROLLBACK")
                guard attempt < limit, Self.isRetryable(error) else { throw error }
                attempt += 1
            }
        }
    }

    private static func isRetryable(_ error: any Error) -> Bool { (error as? MySQLError)?.isRetryable == true }

    /// Runs `body` in a transaction on a thread of its own (the connection blocks), then commits.
    private func inTransaction(_ body: @escaping @Sendable (MySQLConnection) throws -> Bool) -> Task<Bool, any Error> {
        Task.detached { [self] in
            try await withCheckedThrowingContinuation { (done: CheckedContinuation<Bool, any Error>) in
                Thread {
                    let connection = self.connection
                    done.resume(with: Result { try self.attempts(3, on: connection, body) })
                }.start()
            }
        }
    }
}
