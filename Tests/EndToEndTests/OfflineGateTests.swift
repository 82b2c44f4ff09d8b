import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Offline gates end to end: the real service and real `gate-kiosk --dry-run` processes, each
/// kiosk with its own state directory. The kiosk syncs its snapshot, the service stops, the gate
/// decides from the snapshot, and the admissions reach the service once it is back.
@Suite struct OfflineGateTests {
    /// A dry-run kiosk process: frames from a folder, GPIO changes to a file, journal and notify
    /// datagrams to sockets of the test.
    final class DryRunKiosk {
        let process = Process()
        let scene: KioskEndToEndTests.Scene
        let gpioLog: String
        let journal: JournalSink
        let notify: NotifySink
        private var mark = 0

        /// `namespace`: a network namespace of the test's own to run in (`ip netns exec`), where
        /// the service is at `serverHost`.
        init(
            folder: TemporaryDirectory,
            name: String,
            port: Int,
            device: AdminClient.DeviceCredentials,
            state: String,
            extra: [String] = [],
            namespace: String? = nil,
            serverHost: String = "127.0.0.1"
        ) throws {
            let frames = folder.file("\(name)-frames")
            try? FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true)
            scene = KioskEndToEndTests.Scene(folder: frames)
            gpioLog = folder.file("\(name)-gpio-\(UUID().uuidString.prefix(6)).jsonl")
            let tokenFile = folder.file("\(name)-token")
            try (device.token + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)
            journal = try JournalSink()
            notify = try NotifySink()
            let kiosk = ServiceProcess.builtExecutable("gate-kiosk", override: "GATE_KIOSK_BIN")
            if let namespace {
                // `ip netns exec` execs the kiosk in the namespace: the same pid, so a SIGKILL is a crash.
                process.executableURL = URL(fileURLWithPath: PeerLAN.ip)
                process.arguments = ["netns", "exec", namespace, kiosk.path]
            } else {
                process.executableURL = kiosk
                process.arguments = []
            }
            process.arguments! +=
                [
                    "run", "--dry-run", "--frames", frames, "--gpio-log", gpioLog, "--config", folder.file("none.conf"),
                    "--set", "server_url=http://\(serverHost):\(port)", "--set", "device_id=\(device.id)", "--set", "gate_id=\(device.gate)",
                    "--set", "token_file=\(tokenFile)", "--set", "relay_pulse_ms=200", "--set", "green_ms=400", "--set", "red_ms=400",
                    "--set", "cooldown_ms=1500", "--set", "frame_rate=20", "--set", "request_deadline_ms=600", "--set", "connect_timeout_ms=200",
                ] + extra
            var environment = ProcessInfo.processInfo.environment
            environment["GATE_KIOSK_JOURNAL_SOCKET"] = journal.sink.path
            environment["NOTIFY_SOCKET"] = notify.sink.path
            environment["STATE_DIRECTORY"] = state
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        var events: [KioskEndToEndTests.GPIOEvent] { KioskEndToEndTests.gpioEvents(gpioLog) }
        var newEvents: [KioskEndToEndTests.GPIOEvent] { Array(events.dropFirst(mark)) }
        func settle() { mark = events.count }

        /// Waits until a STATUS line says the snapshot holds `tickets` tickets.
        func waitForSnapshot(_ tickets: Int) async throws {
            try await waitUntil(limit: .seconds(10)) { notify.messages.contains { $0.contains("snapshot \(tickets) tickets") } }
        }

        /// Shows `code` until a decision is journaled, then clears the scene; returns that entry.
        func scan(_ code: String, offset: Int = 0) async throws -> [String: String] {
            settle()
            let before = decisions.count
            try scene.show(code, offset: offset)
            try await waitUntil(limit: .seconds(6)) { decisions.count > before }
            scene.clear()
            // The pattern (and the offline mark after it) plays out before the next scan.
            try await Task.sleep(for: .milliseconds(1200))
            return decisions[before]
        }

        var decisions: [[String: String]] {
            journal.entries.filter { $0["MESSAGE"] == "Check-in decided offline" || $0["MESSAGE"] == "Check-in decided" }
        }

        var relayPulses: Int { KioskEndToEndTests.pulses(newEvents, "relay").count }
    }

    /// What the sqlite3 shell prints for `sql` on `database`, trimmed.
    func query(_ database: String, _ sql: String) throws -> String {
        try sqlite3(database, sql, readOnly: true).output
    }

    /// The sqlite3 shell on `database`: what it printed (trimmed) and its exit status.
    func sqlite3(_ database: String, _ sql: String, readOnly: Bool) throws -> (output: String, status: Int32) {
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = (readOnly ? ["-readonly"] : []) + [database, sql]
        let output = Pipe()
        sqlite.standardOutput = output
        sqlite.standardError = FileHandle.nullDevice
        try sqlite.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        sqlite.waitUntilExit()
        return (text.trimmingCharacters(in: .whitespacesAndNewlines), sqlite.terminationStatus)
    }

    func checkins(_ admin: AdminClient, _ event: String) throws -> [[String: Any]] {
        try admin.call("GET", "/api/events/\(event)/checkins?limit=500", expect: 200)["checkins"] as! [[String: Any]]
    }

    @Test func a_gate_keeps_admitting_once_per_ticket_through_an_outage_and_a_crash() async throws {
        let folder = try TemporaryDirectory()
        let port = ServiceProcess.freePort()
        var service: ServiceProcess? = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        let admin = try AdminClient(service!)
        let event = try admin.createEvent("Offline test")
        let device = try admin.addDevice(event: event, gate: "north-1")
        let other = try admin.addDevice(event: event, gate: "south-1")
        let tickets = try admin.issue(event: event, quantity: 5, extra: ["holderName": "Private Person"])
        // Before the outage: ticket 0 used at another gate.
        #expect(try admin.connection.checkinResult(tickets[0].qrData, device: other) == "valid")

        let state = folder.file("north-state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        var kiosk: DryRunKiosk? = try DryRunKiosk(folder: folder, name: "north", port: port, device: device, state: state)
        try await kiosk!.waitForSnapshot(5)
        let mode = try FileManager.default.attributesOfItem(atPath: state + "/offline.sqlite")[.posixPermissions] as? Int
        #expect(mode == 0o600, "the snapshot is the kiosk's alone")
        // While online, a change reaches the gate within 5 s: ticket 1 is revoked now.
        _ = try admin.call("POST", "/api/tickets/\(tickets[1].id)/revoke", expect: 200)
        let revokedAt = ContinuousClock.now
        try await waitUntil(limit: .seconds(5)) {
            (try? query(state + "/offline.sqlite", "SELECT status FROM tickets WHERE number = 2")) == "revoked"
        }
        #expect(ContinuousClock.now - revokedAt < .seconds(5))
        #expect(try query(state + "/offline.sqlite", "SELECT count(*) FROM tickets") == "5")
        // No names or tokens on the box: the snapshot holds numbers, hashes, status and times.
        let dump = try query(state + "/offline.sqlite", ".dump")
        #expect(!dump.contains("Private Person") && !tickets.contains { dump.contains(String($0.qrData.split(separator: ":").last!)) })

        // The uplink goes.
        service?.stop()
        service = nil

        let admitted = try await kiosk!.scan(tickets[2].qrData)
        #expect(admitted["MESSAGE"] == "Check-in decided offline" && admitted["CHECKIN_RESULT"] == "valid" && admitted["TICKET_NUMBER"] == "3")
        #expect(kiosk!.relayPulses == 1, "the gate opened")
        for (ticket, result) in [(tickets[0], "already_used"), (tickets[1], "revoked"), (tickets[2], "already_used")] {
            let refused = try await kiosk!.scan(ticket.qrData, offset: 10)
            #expect(refused["MESSAGE"] == "Check-in decided offline" && refused["CHECKIN_RESULT"] == result, "\(refused)")
            #expect(kiosk!.relayPulses == 0)
        }
        let unknown = try await kiosk!.scan(TicketCode(eventID: event, token: Secret.newTicketToken()).text)
        #expect(unknown["CHECKIN_RESULT"] == "not_found" && kiosk!.relayPulses == 0)
        // Staff see the offline mark: both lights together after the result.
        #expect(
            KioskEndToEndTests.pulses(kiosk!.events, "green").contains { g in
                KioskEndToEndTests.pulses(kiosk!.events, "red").contains { abs($0.start - g.start) <= 10 }
            }
        )

        // A power cut right after an offline admission: SIGKILL, and back without the service.
        _ = try await kiosk!.scan(tickets[3].qrData, offset: 20)
        kill(kiosk!.process.processIdentifier, SIGKILL)
        kiosk!.process.waitUntilExit()
        kiosk = try DryRunKiosk(folder: folder, name: "north", port: port, device: device, state: state)
        try await waitUntil { kiosk!.notify.messages.contains { $0.contains("READY=1") } }
        let afterCrash = try await kiosk!.scan(tickets[3].qrData)
        #expect(afterCrash["CHECKIN_RESULT"] == "already_used", "the journal kept the admission across the crash: \(afterCrash)")
        let fourth = try await kiosk!.scan(tickets[4].qrData, offset: 10)
        #expect(fourth["CHECKIN_RESULT"] == "valid" && kiosk!.relayPulses == 1)
        // Logs keep tokens and names out, offline too.
        let everything = kiosk!.journal.entries.map { $0.values.joined(separator: " ") }.joined(separator: "\n")
        for ticket in tickets { #expect(!everything.contains(String(ticket.qrData.split(separator: ":").last!))) }
        #expect(!everything.contains("Private Person") && !everything.contains(device.token))

        // The service returns: the admissions upload, once, with their gate, time and offline mark.
        service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        try await waitUntil(limit: .seconds(10)) { kiosk!.journal.entries.contains { $0["MESSAGE"] == "Offline check-ins uploaded" } }
        try await Task.sleep(for: .seconds(3))  // another sync round: nothing more is sent
        let admin2 = try AdminClient(service!)
        for index in [2, 3, 4] {
            let ticket = try admin2.call("GET", "/api/tickets/\(tickets[index].id)", expect: 200)
            #expect(ticket["status"] as? String == "used" && ticket["usedGate"] as? String == "north-1", "ticket \(index): \(ticket)")
        }
        let log = try checkins(admin2, event)
        let offline = log.filter { $0["offline"] as? Bool == true }
        #expect(offline.count == 3, "three offline admissions, each once: \(offline)")
        #expect(Set(offline.compactMap { $0["ticketNumber"] as? Int }) == [3, 4, 5])
        #expect(try admin2.call("GET", "/api/events/\(event)", expect: 200)["conflicts"] as? Int == 0)
        let uploads = kiosk!.journal.entries.filter { $0["MESSAGE"] == "Offline check-ins uploaded" }
        #expect(uploads.count == 1 && uploads.first?["OFFLINE_RECORDED"] == "3", "\(uploads)")
    }

    /// A check-in list's gate through an outage: the kiosk refuses by the list's rules from its
    /// snapshot (a type the list does not admit, someone already inside), admits the rest, lets
    /// people out at the exit kiosk, and both journals reconcile with the service's count.
    @Test func a_list_gate_refuses_by_its_rules_offline_and_its_exits_count() async throws {
        let folder = try TemporaryDirectory()
        let port = ServiceProcess.freePort()
        var service: ServiceProcess? = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        let admin = try AdminClient(service!)
        let event = try admin.createEvent("Hall")
        _ = try admin.call(
            "POST",
            "/api/events/\(event)/lists",
            ["name": "Hall", "ticketTypes": ["standard"], "gates": ["hall-in", "hall-out"], "entry": "reentry", "capacity": 500],
            expect: 201
        )
        let entrance = try admin.addDevice(event: event, gate: "hall-in")
        let exit = try admin.addDevice(event: event, gate: "hall-out")
        let standard = try admin.issue(event: event, quantity: 2, extra: ["ticketType": "standard"])
        let child = try admin.issue(event: event, quantity: 1, extra: ["ticketType": "child"])
        // Before the outage, ticket 0 comes in through the service.
        #expect(try admin.connection.checkinResult(standard[0].qrData, device: entrance) == "valid")

        let inState = folder.file("in-state")
        let outState = folder.file("out-state")
        for state in [inState, outState] { try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true) }
        let inKiosk = try DryRunKiosk(folder: folder, name: "in", port: port, device: entrance, state: inState)
        let outKiosk = try DryRunKiosk(folder: folder, name: "out", port: port, device: exit, state: outState, extra: ["--set", "direction=exit"])
        try await inKiosk.waitForSnapshot(3)
        try await outKiosk.waitForSnapshot(3)
        // The snapshot carries types and presence, never names.
        #expect(
            try query(inState + "/offline.sqlite", "SELECT type || ',' || inside FROM tickets ORDER BY number") == "standard,1\nstandard,0\nchild,0"
        )

        service?.stop()
        service = nil
        let inside = try await inKiosk.scan(standard[0].qrData)
        #expect(inside["MESSAGE"] == "Check-in decided offline" && inside["CHECKIN_RESULT"] == "already_inside", "\(inside)")
        let notOnList = try await inKiosk.scan(child[0].qrData, offset: 10)
        #expect(notOnList["CHECKIN_RESULT"] == "not_on_list", "\(notOnList)")
        #expect(inKiosk.relayPulses == 0, "neither was let in")
        let admitted = try await inKiosk.scan(standard[1].qrData, offset: 20)
        #expect(admitted["CHECKIN_RESULT"] == "valid" && inKiosk.relayPulses == 1, "\(admitted)")
        let again = try await inKiosk.scan(standard[1].qrData)
        #expect(again["CHECKIN_RESULT"] == "already_inside", "\(again)")
        // Ticket 0 leaves through the exit kiosk, offline too: it opens for them.
        let left = try await outKiosk.scan(standard[0].qrData)
        #expect(left["CHECKIN_RESULT"] == "exit" && outKiosk.relayPulses == 1, "\(left)")

        // The service returns: both journals go up, and the count is the hall's.
        service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        for kiosk in [inKiosk, outKiosk] {
            try await waitUntil(limit: .seconds(10)) { kiosk.journal.entries.contains { $0["MESSAGE"] == "Offline check-ins uploaded" } }
        }
        let admin2 = try AdminClient(service!)
        let presence = try admin2.call("GET", "/api/events/\(event)/presence", expect: 200)
        let lists = presence["lists"] as? [[String: Any]]
        #expect(lists?.first?["inside"] as? Int == 1 && presence["inside"] as? Int == 1, "ticket 1 inside, ticket 0 gone: \(presence)")
        let offline = try checkins(admin2, event).filter { $0["offline"] as? Bool == true }
        #expect(offline.count == 2, "\(offline)")
        #expect(Set(offline.compactMap { $0["result"] as? String }) == ["valid", "exit"])
        #expect(try admin2.call("GET", "/api/events/\(event)", expect: 200)["conflicts"] as? Int == 0)
    }

    @Test func one_ticket_at_two_offline_gates_is_one_reported_conflict() async throws {
        let folder = try TemporaryDirectory()
        let port = ServiceProcess.freePort()
        var service: ServiceProcess? = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        let admin = try AdminClient(service!)
        let event = try admin.createEvent("Two gates")
        let ticket = try admin.issue(event: event)[0]
        var kiosks: [DryRunKiosk] = []
        for gate in ["north-1", "south-1"] {
            let state = folder.file("\(gate)-state")
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            kiosks.append(
                try DryRunKiosk(folder: folder, name: gate, port: port, device: try admin.addDevice(event: event, gate: gate), state: state)
            )
        }
        for kiosk in kiosks { try await kiosk.waitForSnapshot(1) }
        service?.stop()
        service = nil
        // The seed's "still tricky" case: one ticket (a copied code) at both gates in one outage.
        for kiosk in kiosks {
            let decided = try await kiosk.scan(ticket.qrData)
            #expect(decided["CHECKIN_RESULT"] == "valid" && kiosk.relayPulses == 1, "each gate admits from its own snapshot")
        }
        service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        for kiosk in kiosks {
            try await waitUntil(limit: .seconds(10)) { kiosk.journal.entries.contains { $0["MESSAGE"] == "Offline check-ins uploaded" } }
        }
        let admin2 = try AdminClient(service!)
        let conflicts = try admin2.call("GET", "/api/events/\(event)/conflicts", expect: 200)["conflicts"] as! [[String: Any]]
        #expect(conflicts.count == 1, "\(conflicts)")
        let conflict = try #require(conflicts.first)
        let second = conflict["offline"] as? [String: Any]
        let first = conflict["first"] as? [String: Any]
        #expect(conflict["reason"] as? String == "already_used" && conflict["ticketNumber"] as? Int == 1)
        #expect(Set([second?["gateId"] as? String, first?["gateId"] as? String]) == ["north-1", "south-1"], "names both gates")
        #expect(second?["at"] != nil && first?["at"] != nil)
        #expect(try checkins(admin2, event).filter { $0["offline"] as? Bool == true }.count == 2, "the log keeps both rows")
        #expect(try admin2.call("GET", "/api/events/\(event)", expect: 200)["conflicts"] as? Int == 1)
        let cli = try CommandRun.run(
            ServiceProcess.builtExecutable("gatehouse", override: "GATEHOUSE_BIN"),
            ["conflicts", "--event", event, "--db", folder.file("g.sqlite")]
        )
        #expect(cli.status == 0 && cli.output.contains("north-1") && cli.output.contains("south-1"), "\(cli.output)\(cli.errors)")
    }

    /// The box office sells a ticket while the gate is cut off: with signed codes, the gate
    /// verifies the new ticket's code with the event's synced public key and admits it once.
    @Test func a_signed_code_sold_during_the_outage_is_admitted_once_offline() async throws {
        let folder = try TemporaryDirectory()
        let port = ServiceProcess.freePort()
        var service: ServiceProcess? = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        let admin = try AdminClient(service!)
        let event = try admin.call("POST", "/api/events", ["name": "Box office", "signedCodes": true], expect: 201)["id"] as! String
        let device = try admin.addDevice(event: event, gate: "north-1")
        _ = try admin.issue(event: event)
        let state = folder.file("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let kiosk = try DryRunKiosk(folder: folder, name: "north", port: port, device: device, state: state)
        try await kiosk.waitForSnapshot(1)
        service?.stop()
        service = nil

        // Sold now, on the service's database (the admin CLI), after the gate's last sync.
        let sold = try CommandRun.run(
            ServiceProcess.builtExecutable("gatehouse", override: "GATEHOUSE_BIN"),
            ["tickets", "issue", "--event", event, "--count", "1", "--out", folder.file("sold"), "--db", folder.file("g.sqlite")]
        )
        #expect(sold.status == 0, "\(sold.errors)")
        let manifest = try String(contentsOfFile: folder.file("sold/manifest.csv"), encoding: .utf8).split(separator: "\n")
        let code = String(manifest[1].split(separator: ",").last!)
        #expect(code.hasPrefix("GS:\(event):"))

        let admitted = try await kiosk.scan(code)
        #expect(admitted["MESSAGE"] == "Check-in decided offline" && admitted["CHECKIN_RESULT"] == "valid", "\(admitted)")
        #expect(kiosk.relayPulses == 1)
        #expect(try await kiosk.scan(code, offset: 10)["CHECKIN_RESULT"] == "already_used")
        var forged = Array(code)
        forged[40] = forged[40] == "A" ? "B" : "A"
        #expect(try await kiosk.scan(String(forged), offset: 20)["CHECKIN_RESULT"] == "invalid")
        #expect(kiosk.relayPulses == 0)

        service = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        try await waitUntil(limit: .seconds(10)) { kiosk.journal.entries.contains { $0["MESSAGE"] == "Offline check-ins uploaded" } }
        let admin2 = try AdminClient(service!)
        let ticketId = String(manifest[1].split(separator: ",")[1])
        let ticket = try admin2.call("GET", "/api/tickets/\(ticketId)", expect: 200)
        #expect(ticket["status"] as? String == "used" && ticket["usedGate"] as? String == "north-1", "\(ticket)")
        #expect(try admin2.call("GET", "/api/events/\(event)", expect: 200)["conflicts"] as? Int == 0)
    }

    /// Runs one statement on a kiosk's snapshot file (with the sqlite3 shell), to age it.
    func edit(_ database: String, _ sql: String) throws {
        #expect(try sqlite3(database, sql, readOnly: false).status == 0)
    }

    /// Scans `code` with the service away; returns why the gate did not decide offline.
    func refusedOffline(_ kiosk: DryRunKiosk, _ code: String) async throws -> String {
        try await waitUntil { kiosk.notify.messages.contains { $0.contains("READY=1") } }
        kiosk.settle()
        try kiosk.scene.show(code)
        try await waitUntil(limit: .seconds(6)) { kiosk.journal.entries.contains { $0["MESSAGE"] == "Offline decision impossible" } }
        kiosk.scene.clear()
        #expect(kiosk.relayPulses == 0, "shut")
        return kiosk.journal.entries.first { $0["MESSAGE"] == "Offline decision impossible" }?["OFFLINE_REASON"] ?? ""
    }

    @Test func an_old_snapshot_or_an_untrusted_clock_shuts_the_gate() async throws {
        let folder = try TemporaryDirectory()
        let port = ServiceProcess.freePort()
        var service: ServiceProcess? = try ServiceProcess(databasePath: folder.file("g.sqlite"), port: port)
        let admin = try AdminClient(service!)
        let event = try admin.createEvent("Old snapshot")
        let device = try admin.addDevice(event: event, gate: "north-1")
        let ticket = try admin.issue(event: event)[0]
        let state = folder.file("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        var kiosk: DryRunKiosk? = try DryRunKiosk(folder: folder, name: "k", port: port, device: device, state: state)
        try await kiosk!.waitForSnapshot(1)
        kiosk = nil
        service?.stop()
        service = nil
        let database = state + "/offline.sqlite"
        let bootID = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

        // Another boot (a power cut) and no synchronised system clock: the snapshot's age cannot be
        // known, and no expiry can be judged. (This machine has no systemd-timesyncd flag file.)
        try edit(database, "UPDATE meta SET value = 'another-boot' WHERE key = 'sync_boot_id'")
        kiosk = try DryRunKiosk(folder: folder, name: "k", port: port, device: device, state: state)
        #expect(try await refusedOffline(kiosk!, ticket.qrData).contains("no trusted clock"))
        kiosk = nil

        // This boot, but synced two minutes ago, with offline_max_age = 1m.
        try edit(database, "UPDATE meta SET value = '\(bootID)' WHERE key = 'sync_boot_id'")
        try edit(database, "UPDATE meta SET value = CAST(value AS INTEGER) - 120000000000 WHERE key = 'sync_boot_time'")
        kiosk = try DryRunKiosk(folder: folder, name: "k", port: port, device: device, state: state, extra: ["--set", "offline_max_age=1m"])
        #expect(try await refusedOffline(kiosk!, ticket.qrData).contains("more than offline_max_age"))
        kiosk = nil
    }
}
