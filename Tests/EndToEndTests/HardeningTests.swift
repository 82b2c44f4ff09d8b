import Foundation
import GatehouseTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

private var postgresURL: String? { ProcessInfo.processInfo.environment["GATEHOUSE_TEST_POSTGRES"] }

/// Attacks without credentials that used to shut gates, each against the real service process.
@Suite struct HardeningTests {
    struct Setup {
        let folder: TemporaryDirectory
        let service: ServiceProcess
        let admin: AdminClient
        let event: String
        let device: AdminClient.DeviceCredentials

        init(database: String? = nil, arguments: [String] = [], fileLimit: Int? = nil) throws {
            folder = try TemporaryDirectory()
            service = try ServiceProcess(databasePath: database ?? folder.file("h.sqlite"), extraArguments: arguments, fileLimit: fileLimit)
            admin = try AdminClient(service)
            event = try admin.createEvent()
            device = try admin.addDevice(event: event)
        }
    }

    // MARK: 1. Text no store can keep

    // (Control characters refused at the edge, each field on each store: HostileInputRouteTests.)

    @Test(.enabled(if: postgresURL != nil, "no PostgreSQL: run under scripts/with-postgres.sh (make test does)"))
    func one_clients_nul_bytes_never_fail_other_gates_postgres() throws {
        let setup = try Setup(database: postgresURL!)
        let tickets = try setup.admin.issue(event: setup.event, quantity: 400)
        let port = setup.service.port
        let device = setup.device
        let honest = Mutex<[Int: Int]>([:])
        let stop = Atomic<Bool>(false)
        // Two attackers with made-up tokens and NUL bytes, while eight honest gates scan.
        let attackers = (0..<2).map { n in
            Thread {
                guard let connection = try? HTTPConnection(port: port) else { return }
                var i = 0
                while !stop.load(ordering: .relaxed) {
                    i += 1
                    let body = (try? AdminClient.checkinBody("GH:x", device: device, scanId: "a\u{0}\(n)-\(i)", deviceId: "D\u{0}x")) ?? []
                    _ = try? connection.request("POST", "/api/checkin", body: body, headers: ["Authorization": "Bearer ghd_MADEUP\(n)"])
                }
            }
        }
        for attacker in attackers { attacker.start() }
        DispatchQueue.concurrentPerform(iterations: 8) { client in
            guard let connection = try? HTTPConnection(port: port) else { return }
            for index in stride(from: client, to: tickets.count, by: 8) {
                let status = (try? connection.checkin(tickets[index].qrData, device: device, scanId: "honest-\(index)").status) ?? -1
                honest.withLock { $0[status, default: 0] += 1 }
            }
        }
        stop.store(true, ordering: .relaxed)
        let counts = honest.withLock { $0 }
        #expect(counts == [200: tickets.count], "every honest check-in answered with its decision: \(counts)")
    }

    // MARK: 2. Connections: limits and timeouts

    @Test func idle_and_half_sent_connections_are_closed_and_give_way() throws {
        let setup = try Setup(arguments: ["--idle-timeout", "2", "--body-timeout", "2"])
        let port = setup.service.port
        // Half a request head, and a head whose body never comes: both closed within the bounds.
        let halfHead = try HTTPConnection(port: port)
        try halfHead.sendRaw(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow:".utf8))
        let halfBody = try HTTPConnection(port: port)
        try halfBody.sendRaw(Array("POST /api/checkin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"qr".utf8))
        let idle = try HTTPConnection(port: port)
        #expect(try idle.request("GET", "/healthz").status == 200)
        #expect(halfHead.closedByServer(within: 6), "half head closed")
        #expect(halfBody.closedByServer(within: 6), "half body closed")
        #expect(idle.closedByServer(within: 6), "idle keep-alive closed")
    }

    @Test func a_flood_of_idle_connections_neither_crashes_nor_locks_out_a_gate() throws {
        // 256 descriptors as soft and hard limit: the service fits its cap under it.
        let setup = try Setup(fileLimit: 256)
        let ticket = try setup.admin.issue(event: setup.event)[0]
        let before = setup.service.openDescriptors
        var flood: [HTTPConnection] = []
        for _ in 0..<400 {
            guard let connection = try? HTTPConnection(port: setup.service.port) else { break }
            _ = try? connection.request("GET", "/healthz")
            flood.append(connection)
        }
        #expect(setup.service.process.isRunning, "the service survived 400 idle connections under ulimit -n 256")
        // A gate's new connection gets its real answer: the longest-idle connection gave way.
        let gate = try setup.service.connection()
        #expect(try gate.checkinResult(ticket.qrData, device: setup.device) == "valid")
        #expect(try setup.service.connection().request("GET", "/healthz").status == 200)
        #expect(setup.service.openDescriptors < 256)
        flood.removeAll()
        Thread.sleep(forTimeInterval: 1)
        #expect(setup.service.openDescriptors <= before + 8, "descriptors back: \(before) → \(setup.service.openDescriptors)")
        #expect(!setup.service.log.contains("Request failed"))
    }

    // MARK: 3. A database that cannot write

    @Test(.enabled(if: getuid() == 0, "needs root to mount a small tmpfs"))
    func a_full_disk_is_503_and_a_failing_health_check_then_recovers() throws {
        let mountPoint = try TemporaryDirectory()
        guard system("mount -t tmpfs -o size=3m tmpfs '\(mountPoint.path)' 2>/dev/null") == 0 else {
            Issue.record("cannot mount a tmpfs here")
            return
        }
        defer { _ = system("umount -l '\(mountPoint.path)'") }
        let setup = try Setup(database: mountPoint.path + "/gh.sqlite")
        let tickets = try setup.admin.issue(event: setup.event, quantity: 200)
        #expect(try setup.service.connection().request("GET", "/healthz").status == 200)
        _ = system("dd if=/dev/zero of='\(mountPoint.path)/filler' bs=64k 2>/dev/null")
        let gate = try setup.service.connection()
        var statuses: [Int] = []
        for ticket in tickets.prefix(100) {
            let status = try gate.checkin(ticket.qrData, device: setup.device).status
            statuses.append(status)
            if status == 503 { break }
        }
        #expect(statuses.last == 503, "a check-in that cannot be stored is 503: \(Set(statuses))")
        #expect(!statuses.contains(500))
        #expect(try setup.service.connection().request("GET", "/healthz").status == 503, "health fails while writes fail")
        #expect(setup.service.log.contains("disk is full"), "SQLite's words in the log")
        unlink(mountPoint.path + "/filler")
        #expect(try setup.service.connection().request("GET", "/healthz").status == 200, "health passes again")
        #expect(try gate.checkinResult(tickets[150].qrData, device: setup.device) == "valid")
        #expect(setup.service.log.contains("Database available again"))
    }

    // MARK: 6. Enrollment guesses

    // (Parallel wrong codes from one address: EnrollmentRouteTests, in-process.)

    @Test func behind_a_trusted_proxy_each_client_has_its_own_allowance() throws {
        let setup = try Setup(arguments: ["--trusted-proxy", "127.0.0.1"])
        let connection = try setup.service.connection()
        func enroll(_ code: String, from client: String) throws -> Int {
            let body = Array(try JSONSerialization.data(withJSONObject: ["code": code]))
            return try connection.request("POST", "/api/enroll", body: body, headers: ["X-Forwarded-For": client]).status
        }
        for _ in 0..<5 { #expect(try enroll("ZZZZ-ZZZZ-ZZZZ", from: "203.0.113.9") == 404) }
        #expect(try enroll("ZZZZ-ZZZZ-ZZZZ", from: "203.0.113.9") == 429)
        // A forged leftmost hop does not help the guesser: the proxy's own entry is what counts.
        #expect(try enroll("ZZZZ-ZZZZ-ZZZZ", from: "198.51.100.1, 203.0.113.9") == 429)
        let pairing = try setup.admin.call("POST", "/api/pairings", ["eventId": setup.event, "gateId": "south-2"], expect: 201)
        #expect(try enroll(pairing["code"] as! String, from: "203.0.113.10") == 201, "another kiosk behind the same proxy enrolls")
    }

    @Test func a_code_that_faced_too_many_wrong_guesses_stops_working() throws {
        let setup = try Setup(arguments: ["--trusted-proxy", "127.0.0.1", "--pairing-guess-limit", "6"])
        let connection = try setup.service.connection()
        func enroll(_ code: String, from client: String) throws -> HTTPConnection.Response {
            let body = Array(try JSONSerialization.data(withJSONObject: ["code": code]))
            return try connection.request("POST", "/api/enroll", body: body, headers: ["X-Forwarded-For": client])
        }
        let exposed = try setup.admin.call("POST", "/api/pairings", ["eventId": setup.event, "gateId": "east-1"], expect: 201)["code"] as! String
        // Seven wrong codes from three addresses, each under its own allowance of five.
        for attempt in 0..<7 { #expect(try enroll("ZZZZ-ZZZZ-ZZZZ", from: "203.0.113.\(attempt % 3 + 1)").status == 404) }
        let refused = try enroll(exposed, from: "203.0.113.50")
        #expect(refused.status == 410 && refused.text.contains("ask for a new one"), "\(refused.status) \(refused.text)")
        // A code made after the guessing works.
        Thread.sleep(forTimeInterval: 1.1)
        let fresh = try setup.admin.call("POST", "/api/pairings", ["eventId": setup.event, "gateId": "east-1"], expect: 201)["code"] as! String
        #expect(try enroll(fresh, from: "203.0.113.50").status == 201)
    }

    // MARK: 7. Smaller ones

    /// A body the HTTP parser itself refuses never reaches a route: only a real connection can send one.
    @Test func a_malformed_chunked_body_is_a_400() throws {
        let setup = try Setup()
        let raw = try setup.service.connection()
        try raw.sendRaw(
            Array(
                "POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(setup.service.adminToken)\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n"
                    .utf8
            )
        )
        let chunked = try raw.nextResponse()
        #expect(chunked.status == 400, "malformed chunked body: \(chunked.status)")
        #expect(!setup.service.log.contains("Request failed"))
        // (Dates, HEAD and the other small ones: APIRouteTests, in-process.)
    }
}
