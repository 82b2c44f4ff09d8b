import Dispatch
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
        // 12 MB: room for SQLite's WAL before its checkpoint, so the test is about recovering
        // from a full disk, not about a disk the WAL fills again at once.
        guard system("mount -t tmpfs -o size=12m tmpfs '\(mountPoint.path)' 2>/dev/null") == 0 else {
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

    @Test func behind_a_trusted_proxy_each_device_has_its_own_backoff() throws {
        let setup = try Setup(arguments: ["--trusted-proxy", "127.0.0.1"])
        let connection = try setup.service.connection()
        func enroll(_ code: String, from client: String) throws -> Int {
            let body = Array(try JSONSerialization.data(withJSONObject: ["code": code]))
            return try connection.request("POST", "/api/enroll", body: body, headers: ["X-Forwarded-For": client]).status
        }
        for _ in 0..<3 { #expect(try enroll("ZZZZ-ZZZZ-ZZZZ-ZZZZ", from: "203.0.113.9") == 404) }
        #expect(try enroll("ZZZZ-ZZZZ-ZZZZ-ZZZZ", from: "203.0.113.9") == 429)
        // A forged leftmost hop does not help the guesser: the proxy's own entry is what counts.
        #expect(try enroll("ZZZZ-ZZZZ-ZZZZ-ZZZZ", from: "198.51.100.1, 203.0.113.9") == 429)
        let pairing = try setup.admin.call("POST", "/api/pairings", ["eventId": setup.event, "gateId": "south-2"], expect: 201)
        #expect(try enroll(pairing["code"] as! String, from: "203.0.113.10") == 201, "another kiosk behind the same proxy enrolls")
    }

    /// Wrong codes from many networks never switch an open code off (80 bits are not guessed);
    /// one network past its allowance waits, and says so.
    @Test func wrong_codes_from_many_networks_never_kill_an_open_code() throws {
        let setup = try Setup(arguments: ["--trusted-proxy", "127.0.0.1", "--pairing-guess-limit", "6"])
        let service = setup.service
        @Sendable func enroll(_ code: String, from client: String) throws -> HTTPConnection.Response {
            let body = Array(try JSONSerialization.data(withJSONObject: ["code": code, "client": client]))
            return try service.connection().request("POST", "/api/enroll", body: body, headers: ["X-Forwarded-For": client])
        }
        let open = try setup.admin.call("POST", "/api/pairings", ["eventId": setup.event, "gateId": "east-1"], expect: 201)["code"] as! String
        let statuses = Mutex<[Int: Int]>([:])
        // 40 networks, two wrong codes each, side by side (each costs half a second).
        DispatchQueue.concurrentPerform(iterations: 40) { network in
            for _ in 0..<2 {
                let status = (try? enroll("ZZZZ-ZZZZ-ZZZZ-ZZZZ", from: "198.51.\(network).7").status) ?? -1
                statuses.withLock { $0[status, default: 0] += 1 }
            }
        }
        #expect(statuses.withLock { $0 } == [404: 80])
        // One network past its allowance of six: told to wait.
        for index in 0..<6 { #expect(try enroll("ZZZZ-ZZZZ-ZZZZ-ZZZZ", from: "203.0.113.\(index)").status == 404) }
        let limited = try enroll("ZZZZ-ZZZZ-ZZZZ-ZZZZ", from: "203.0.113.99")
        #expect(limited.status == 429 && limited.text.contains("from this network"))
        #expect(try enroll(open, from: "192.0.2.50").status == 201, "the organizer's open code still works")
    }

    // MARK: 8. One credential against every gate (issue #23)

    /// One kiosk token sending 1,000-entry uploads of made-up codes in a loop, while honest gates
    /// of another event scan: every honest scan is answered, and the flood writes no row.
    @Test(arguments: ["sqlite"] + SharedDatabase.available.map(\.name))
    func an_upload_flood_from_one_device_never_stalls_other_gates(_ store: String) throws {
        let database = SharedDatabase.available.first { $0.name == store }?.url
        let setup = try Setup(database: database)
        let otherEvent = try setup.admin.createEvent("Other")
        let honestGates = try (0..<8).map { try setup.admin.addDevice(event: otherEvent, gate: "honest-\($0)") }
        let tickets = try setup.admin.issue(event: otherEvent, quantity: 400)
        let port = setup.service.port
        let stop = Atomic<Bool>(false)
        let flood = Thread {
            guard let connection = try? HTTPConnection(port: port) else { return }
            var round = 0
            while !stop.load(ordering: .relaxed) {
                round += 1
                let checkins: [[String: Any]] = (0..<1000).map { index in
                    let token = String((0..<26).map { _ in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".randomElement()! })
                    return [
                        "scanId": "f\(round)-\(index)", "code": "GH:\(setup.event):\(token)", "ticketNumber": 1, "at": 1_800_000_000_000,
                        "clock": "synchronized",
                    ]
                }
                _ = try? connection.json(
                    "POST",
                    "/api/offline-checkins",
                    ["deviceId": setup.device.id, "gateId": setup.device.gate, "checkins": checkins],
                    bearer: setup.device.token
                )
            }
        }
        flood.start()
        Thread.sleep(forTimeInterval: 0.5)
        let statuses = Mutex<[Int: Int]>([:])
        DispatchQueue.concurrentPerform(iterations: 8) { gate in
            guard let connection = try? HTTPConnection(port: port) else { return }
            for index in stride(from: gate, to: tickets.count, by: 8) {
                let status = (try? connection.checkin(tickets[index].qrData, device: honestGates[gate], scanId: "h-\(index)").status) ?? -1
                statuses.withLock { $0[status, default: 0] += 1 }
            }
        }
        stop.store(true, ordering: .relaxed)
        #expect(statuses.withLock { $0 } == [200: tickets.count], "every honest check-in answered with its decision")
        let log = try setup.admin.call("GET", "/api/events/\(setup.event)/checkins?limit=10", expect: 200)["checkins"] as! [Any]
        #expect(log.isEmpty, "made-up codes write no rows")
        #expect((try setup.admin.call("GET", "/api/events/\(setup.event)/conflicts", expect: 200)["conflicts"] as! [Any]).isEmpty)
    }

    /// 300 connections sending check-ins of 1 MiB (declared) with a made-up token, half-sent:
    /// answered 401 before the body is read, and the service's memory does not grow with them.
    @Test func half_sent_bodies_from_strangers_hold_no_memory() throws {
        let setup = try Setup(arguments: ["--body-timeout", "3"])
        let port = setup.service.port
        _ = try setup.service.connection().request("GET", "/healthz")
        let before = setup.service.residentMegabytes
        var held: [HTTPConnection] = []
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
        for index in 0..<300 {
            guard let connection = try? HTTPConnection(port: port) else { break }
            let head = "POST /api/checkin HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ghd_MADEUP\(index)\r\nContent-Length: 1048576\r\n\r\n"
            try? connection.sendRaw(Array(head.utf8) + chunk)
            held.append(connection)
        }
        Thread.sleep(forTimeInterval: 1)
        let grown = setup.service.residentMegabytes - before
        #expect(grown < 60, "300 half-sent bodies of strangers held \(grown) MB")
        #expect(try held[0].nextResponse().status == 401, "refused before the body is read")
        held.removeAll()
        // The staff scanner's frames: a decoder is reserved before a frame is read.
        let phone = try setup.admin.call(
            "POST",
            "/api/devices",
            ["name": "phone", "gateId": "door-1", "eventId": setup.event, "kind": "scanner"],
            expect: 201
        )
        let phoneToken = phone["token"] as! String
        let frameBefore = setup.service.residentMegabytes
        var frames: [HTTPConnection] = []
        var busy = 0
        for _ in 0..<150 {
            guard let connection = try? HTTPConnection(port: port) else { break }
            let head =
                "POST /api/scanner/decode?width=640&height=640 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(phoneToken)\r\nContent-Length: 409600\r\n\r\n"
            try? connection.sendRaw(Array(head.utf8) + chunk)
            frames.append(connection)
        }
        // One of them holds the phone's decoder (until the body timeout); the others are refused
        // without their bodies being read: busy at once, past the phone's rate after the wait.
        for connection in frames.prefix(21) where [429, 503].contains((try? connection.nextResponse().status) ?? 0) { busy += 1 }
        #expect(busy == 20, "a phone's further frames while one is read: refused at once (busy, or past a phone's rate)")
        let frameGrown = setup.service.residentMegabytes - frameBefore
        #expect(frameGrown < 40, "150 half-sent frames held \(frameGrown) MB")
    }

    /// A frame full of finder-like squares, which cost seconds of CPU to read in full: answered
    /// within the decoder's time limit, and gates keep checking in meanwhile.
    @Test func a_costly_frame_is_answered_within_its_budget_and_gates_go_on() throws {
        let setup = try Setup()
        let phone = try setup.admin.call(
            "POST",
            "/api/devices",
            ["name": "phone", "gateId": "door-1", "eventId": setup.event, "kind": "scanner"],
            expect: 201
        )
        let tickets = try setup.admin.issue(event: setup.event, quantity: 20)
        var pixels = [UInt8](repeating: 160, count: 640 * 640)
        for top in stride(from: 0, to: 640 - 14, by: 16) {
            for left in stride(from: 0, to: 640 - 14, by: 16) {
                for y in 0..<14 {
                    for x in 0..<14 {
                        let (mx, my) = (x / 2, y / 2)
                        let dark = mx == 0 || my == 0 || mx == 6 || my == 6 || ((2...4).contains(mx) && (2...4).contains(my))
                        pixels[(top + y) * 640 + left + x] = dark ? 20 : 235
                    }
                }
            }
        }
        let started = Date()
        let answered = Mutex<Int?>(nil)
        let frame = pixels
        let phoneToken = phone["token"] as! String
        let service = setup.service
        let reader = Thread {
            let status = try? service.connection().request(
                "POST",
                "/api/scanner/decode?width=640&height=640",
                body: frame,
                headers: ["Authorization": "Bearer \(phoneToken)"]
            ).status
            answered.withLock { $0 = status }
        }
        reader.start()
        // While it is read, its thread is in SCHED_IDLE (policy 5): a nice value weighs threads
        // only within one autogroup, not against the database's processes check-ins wait on.
        var decoderPolicies: [Int] = []
        while decoderPolicies.isEmpty && Date().timeIntervalSince(started) < 5 {
            decoderPolicies = Self.schedulingPolicies(of: setup.service.process.processIdentifier, threadsNamed: "frame-decoder")
            if decoderPolicies.isEmpty { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect(decoderPolicies == [5], "the decoding thread's scheduling policy: \(decoderPolicies)")
        let gate = try setup.service.connection()
        for ticket in tickets { #expect(try gate.checkinResult(ticket.qrData, device: setup.device) == "valid") }
        while answered.withLock({ $0 }) == nil && Date().timeIntervalSince(started) < 20 { Thread.sleep(forTimeInterval: 0.05) }
        let status = answered.withLock { $0 }
        #expect(status == 200 || status == 503, "answered: \(status.map(String.init) ?? "nothing")")
        #expect(Date().timeIntervalSince(started) < 8, "within the time limit, not the frame's whole cost")
    }

    /// The scheduling policy (field 41 of /proc/PID/task/TID/stat) of each of the process's
    /// threads with this name.
    static func schedulingPolicies(of pid: Int32, threadsNamed name: String) -> [Int] {
        let tasks = "/proc/\(pid)/task"
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        return threads.compactMap { thread -> Int? in
            guard let stat = try? String(contentsOfFile: "\(tasks)/\(thread)/stat", encoding: .utf8),
                let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"),
                stat[stat.index(after: open)..<close] == name
            else { return nil }
            // After the name come fields 3…; the policy is field 41.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 38 ? Int(fields[38]) : nil
        }
    }

    /// A kiosk token pulling snapshot pages in a loop is told to wait; honest gates go on.
    @Test func a_sync_flood_is_rate_limited() throws {
        let setup = try Setup()
        _ = try setup.admin.issue(event: setup.event, quantity: 50)
        let connection = try setup.service.connection()
        #expect(
            try connection.request("GET", "/api/sync/tickets?limit=20000", headers: ["Authorization": "Bearer \(setup.device.token)"]).status == 400
        )
        var statuses: [Int: Int] = [:]
        for _ in 0..<12 {
            let status = try connection.request("GET", "/api/sync/tickets", headers: ["Authorization": "Bearer \(setup.device.token)"]).status
            statuses[status, default: 0] += 1
        }
        #expect(statuses[200] == 3 && statuses[429] == 9, "pulls of the whole snapshot: \(statuses)")
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
