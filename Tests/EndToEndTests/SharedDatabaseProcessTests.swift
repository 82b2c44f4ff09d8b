import Foundation
import GatehouseTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A database server several service processes share, as the test scripts start it:
/// `scripts/with-postgres.sh` and `scripts/with-mariadb.sh` (`make test` runs under both).
struct SharedDatabase: CustomTestStringConvertible, Sendable {
    let name: String
    let url: String
    /// A script taking `stop` or `start`.
    let control: String?
    var testDescription: String { name }

    static var available: [SharedDatabase] {
        let environment = ProcessInfo.processInfo.environment
        var found: [SharedDatabase] = []
        if let url = environment["GATEHOUSE_TEST_POSTGRES"] {
            found.append(SharedDatabase(name: "postgres", url: url, control: environment["GATEHOUSE_TEST_PGCTL"]))
        }
        if let url = environment["GATEHOUSE_TEST_MYSQL"] {
            found.append(SharedDatabase(name: "mariadb", url: url, control: environment["GATEHOUSE_TEST_MYCTL"]))
        }
        return found
    }
}

/// Several `gatehouse serve` processes on one PostgreSQL or MariaDB database: the database
/// decides, once per ticket.
@Suite(
    .serialized,
    .enabled(
        if: !SharedDatabase.available.isEmpty,
        "no database server: run under scripts/with-postgres.sh and scripts/with-mariadb.sh (make test does)"
    )
)
struct SharedDatabaseProcessTests {
    /// What the clients saw: for each ticket index, the (device, scanId) of every `valid` answer.
    final class Answers: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var valid: [Int: [(device: String, scanId: String)]] = [:]
        private(set) var counts: [String: Int] = [:]
        private(set) var failures: [String] = []
        func record(ticket: Int, result: String, device: String, scanId: String) {
            lock.withLock {
                counts[result, default: 0] += 1
                if result == "valid" { valid[ticket, default: []].append((device, scanId)) }
            }
        }
        func fail(_ text: String) { lock.withLock { failures.append(text) } }
        func count(_ result: String) -> Int { lock.withLock { counts[result] ?? 0 } }
    }

    struct Setup: @unchecked Sendable {
        let services: [ServiceProcess]
        let event: String
        let devices: [AdminClient.DeviceCredentials]
        let tickets: [(id: String, qrData: String)]
        let admin: AdminClient

        init(_ database: SharedDatabase, processes: Int, tickets count: Int, folder: TemporaryDirectory) throws {
            services = try (0..<processes).map { index in
                // One process on a single event loop, the others on three: the races below hold
                // whatever the count (`--event-loops`).
                try ServiceProcess(
                    databasePath: database.url,
                    extraEnvironment: ["GATEHOUSE_DATA_DIR": folder.file("data-\(index)")],
                    extraArguments: ["--event-loops", index == 0 ? "1" : "3"]
                )
            }
            let admin = try AdminClient(services[0])
            let event = try admin.createEvent("Two processes")
            self.admin = admin
            self.event = event
            devices = try (0..<4).map { try admin.addDevice(event: event, gate: "gate-\($0)") }
            var tickets: [(String, String)] = []
            while tickets.count < count { tickets += try admin.issue(event: event, quantity: min(1000, count - tickets.count)) }
            self.tickets = tickets
        }
    }

    /// `clients` threads each scan every ticket once, in their own shuffled order, against the
    /// process `client % processes` (or the next one alive). `midway` runs once, halfway.
    static func scan(_ setup: Setup, clients: Int, answers: Answers, midway: (@Sendable () -> Void)? = nil) {
        let done = DispatchGroup()
        let progress = Atomic<Int>(0)
        let total = clients * setup.tickets.count
        let midwayOnce = Atomic<Bool>(false)
        for client in 0..<clients {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                var order = Array(setup.tickets.indices)
                order.shuffle()
                let device = setup.devices[client % setup.devices.count]
                var serviceIndex = client % setup.services.count
                var connection = try? setup.services[serviceIndex].connection()
                for (step, ticket) in order.enumerated() {
                    let scanId = "c\(client)-\(step)"
                    var answered = false
                    // Retried for a while, as a kiosk does: a refused connection is answered 503 at
                    // once (MariaDB), a silent one after the service's 3 s limit (PostgreSQL).
                    let giveUp = Date().addingTimeInterval(30)
                    while !answered && Date() < giveUp {
                        do {
                            if connection == nil { connection = try setup.services[serviceIndex].connection() }
                            let response = try connection!.checkin(setup.tickets[ticket].qrData, device: device, scanId: scanId)
                            if response.status == 200 {
                                answers.record(ticket: ticket, result: try response.json()["result"] as! String, device: device.id, scanId: scanId)
                                answered = true
                            } else if response.status == 503 {
                                answers.record(ticket: ticket, result: "503", device: device.id, scanId: scanId)
                                Thread.sleep(forTimeInterval: 0.1)
                            } else {
                                answers.fail("HTTP \(response.status): \(response.text)")
                                answered = true
                            }
                        } catch {
                            // The process died or the connection broke: the same scan, same scanId,
                            // to the other process.
                            connection = nil
                            serviceIndex = (serviceIndex + 1) % setup.services.count
                            Thread.sleep(forTimeInterval: 0.05)
                        }
                    }
                    if !answered { answers.fail("client \(client): no answer for ticket \(ticket)") }
                    if progress.add(1, ordering: .relaxed).newValue >= total / 2, let midway, !midwayOnce.exchange(true, ordering: .relaxed) {
                        midway()
                    }
                }
            }
            thread.start()
        }
        done.wait()
    }

    /// Checks the database against what the clients heard: one `valid` per ticket at most, and
    /// each `valid` a client received has its used row and its log row.
    static func verify(_ setup: Setup, _ answers: Answers, everyTicketUsed: Bool) throws {
        let admin = try AdminClient(setup.services.first { $0.process.isRunning }!)
        let log = try admin.call("GET", "/api/events/\(setup.event)/checkins?limit=10000&after=0", expect: 200)["checkins"] as! [[String: Any]]
        var all = log
        while all.count % 10_000 == 0 && !all.isEmpty {
            let more =
                try admin.call("GET", "/api/events/\(setup.event)/checkins?limit=10000&after=\(all.last!["id"] as! Int)", expect: 200)["checkins"]
                as! [[String: Any]]
            if more.isEmpty { break }
            all += more
        }
        let validRows = all.filter { $0["result"] as? String == "valid" }
        let validByTicket = Dictionary(grouping: validRows, by: { $0["ticketId"] as! String })
        #expect(validByTicket.values.allSatisfy { $0.count == 1 }, "no ticket admitted twice")
        for (index, heard) in answers.valid {
            let ticket = setup.tickets[index]
            #expect(heard.count == 1 || Set(heard.map(\.scanId)).count == 1, "ticket \(index) answered valid to two scans")
            let row = validByTicket[ticket.id]?.first
            #expect(row != nil, "ticket \(index) was answered valid but has no log row")
            #expect(row?["scanId"] as? String == heard.first?.scanId)
            let status = try admin.call("GET", "/api/tickets/\(ticket.id)", expect: 200)["status"] as? String
            #expect(status == "used", "ticket \(index) answered valid but not used")
        }
        if everyTicketUsed {
            #expect(answers.valid.count == setup.tickets.count)
            #expect(validRows.count == setup.tickets.count)
            #expect(try admin.call("GET", "/api/events/\(setup.event)", expect: 200)["used"] as? Int == setup.tickets.count)
        }
    }

    @Test(arguments: SharedDatabase.available)
    func two_processes_one_database_admit_each_ticket_once(_ database: SharedDatabase) throws {
        let folder = try TemporaryDirectory()
        let setup = try Setup(database, processes: 2, tickets: 1000, folder: folder)
        let answers = Answers()
        Self.scan(setup, clients: 16, answers: answers)
        #expect(answers.failures.isEmpty, "\(answers.failures.prefix(3))")
        #expect(answers.count("valid") == 1000)
        #expect(answers.count("already_used") == 15 * 1000)
        try Self.verify(setup, answers, everyTicketUsed: true)
    }

    @Test(arguments: SharedDatabase.available)
    func a_process_killed_mid_load_admits_nothing_twice(_ database: SharedDatabase) throws {
        let folder = try TemporaryDirectory()
        let setup = try Setup(database, processes: 2, tickets: 1000, folder: folder)
        let answers = Answers()
        let victim = setup.services[1]
        Self.scan(setup, clients: 16, answers: answers, midway: { victim.kill() })
        #expect(!victim.process.isRunning)
        #expect(answers.failures.isEmpty, "\(answers.failures.prefix(3))")
        // Every scan was answered in the end (retries went to the survivor with the same scanId).
        try Self.verify(setup, answers, everyTicketUsed: true)
    }

    @Test(arguments: SharedDatabase.available.filter { $0.control != nil })
    func the_database_restarting_mid_load_is_a_503_then_recovery(_ database: SharedDatabase) throws {
        let folder = try TemporaryDirectory()
        let setup = try Setup(database, processes: 2, tickets: 400, folder: folder)
        let answers = Answers()
        let control = database.control!
        Self.scan(
            setup,
            clients: 8,
            answers: answers,
            midway: {
                // system(3), not Process: the server's control leaves a daemon behind, and the control script must
                // be reaped here, on this thread, before the test goes on.
                _ = system("bash '\(control)' stop")
                // Longer than the service's 3 s limit per database operation: requests meanwhile get 503.
                Thread.sleep(forTimeInterval: 4.5)
                _ = system("bash '\(control)' start")
            }
        )
        #expect(answers.count("503") > 0, "the outage was answered 503")
        #expect(answers.failures.isEmpty, "\(answers.failures.prefix(3))")
        if !answers.failures.isEmpty {
            // What the services said while a scan went unanswered: the cause is in their logs.
            for (index, service) in setup.services.enumerated() {
                print("service \(index) log, last 40 lines:\n" + service.log.split(separator: "\n").suffix(40).joined(separator: "\n"))
            }
        }
        // Health says so too, and is fine again now.
        #expect(try setup.services[0].connection().request("GET", "/healthz").status == 200)
        try Self.verify(setup, answers, everyTicketUsed: true)
        // Logged once per cause, at error, and its end once — not once per request
        // (hundreds were answered 503) nor per pool retry.
        let answered503 = answers.count("503")
        for service in setup.services {
            let log = service.log
            let outages = log.components(separatedBy: "Database unavailable").count - 1
            #expect((1...4).contains(outages) || answered503 < 2, "\(outages) outage lines for \(answered503) 503 answers")
            #expect(!log.contains("Connection creation failed"), "the pool's per-retry lines stay out of the log")
            for line in log.split(separator: "\n") where line.contains("Database unavailable") {
                #expect(line.contains(" error "), "logged at error: \(line)")
            }
        }
        #expect(setup.services.contains { $0.log.contains("Database available again") })
    }
}
