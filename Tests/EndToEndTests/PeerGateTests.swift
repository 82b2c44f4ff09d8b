import Crypto
import Foundation
import GatehouseCore
import GatehouseTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Gates that tell each other, end to end: real `gate-kiosk --dry-run` processes, each in a
/// network namespace of its own on a bridge, and the real service behind an uplink the test cuts.
@Suite(.serialized) struct PeerGateTests {
    typealias Kiosk = OfflineGateTests.DryRunKiosk

    /// The service on the LAN's uplink address, an event, its gates' devices and tickets, and one
    /// kiosk per gate with every other gate as its peer.
    final class Venue {
        let lan: PeerLAN
        let folder: TemporaryDirectory
        var service: ServiceProcess?
        let admin: AdminClient
        let event: String
        let devices: [AdminClient.DeviceCredentials]
        let tickets: [(id: String, qrData: String)]
        var kiosks: [Kiosk?] = []
        let states: [String]

        /// `discovery`: the gates find each other by multicast instead of a list of peers.
        let discovery: Bool

        /// `metrics`: each kiosk writes its figures to `gateN.prom` in the folder.
        let metrics: Bool

        init(gates: Int = 2, tickets count: Int = 8, discovery: Bool = false, metrics: Bool = false) throws {
            self.discovery = discovery
            self.metrics = metrics
            lan = try PeerLAN(gates: gates)
            folder = try TemporaryDirectory()
            service = try ServiceProcess(databasePath: folder.file("g.sqlite"), host: lan.serviceAddress)
            let admin = try AdminClient(service!)
            let event = try admin.createEvent("Peers")
            self.admin = admin
            self.event = event
            devices = try (0..<gates).map { try admin.addDevice(event: event, gate: "gate-\(Character(UnicodeScalar(97 + $0)!))") }
            tickets = try admin.issue(event: event, quantity: count)
            let folder = self.folder
            states = (0..<gates).map { folder.file("state-\($0)") }
            for state in states { try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true) }
            kiosks = Array(repeating: nil, count: gates)
            for gate in 0..<gates { try start(gate) }
        }

        func start(_ gate: Int) throws {
            let peers = (0..<devices.count).filter { $0 != gate }.map(lan.peer).joined(separator: ",")
            kiosks[gate] = try Kiosk(
                folder: folder,
                name: "gate\(gate)",
                port: service!.port,
                device: devices[gate],
                state: states[gate],
                extra: (discovery ? ["--set", "peer_discovery=on"] : ["--set", "peers=\(peers)"])
                    + ["--set", "peer_listen=\(lan.address(gate)):7447"]
                    + (metrics ? ["--set", "metrics_textfile=\(folder.file("gate\(gate).prom"))"] : []),
                namespace: lan.gates[gate],
                serverHost: lan.serviceAddress
            )
        }

        func kiosk(_ gate: Int) -> Kiosk { kiosks[gate]! }

        /// Every gate has its snapshot and has caught up with every other.
        func ready() async throws {
            for kiosk in kiosks { try await kiosk!.waitForSnapshot(tickets.count) }
            try await waitUntil(limit: .seconds(20)) {
                kiosks.allSatisfy { kiosk in
                    kiosk!.journal.entries.filter { $0["MESSAGE"] == "Caught up with a peer gate" }.count >= devices.count - 1
                }
            }
        }

        /// A connection of its own each time: the service closes one left idle through a long outage.
        func conflicts() throws -> Int {
            try AdminClient(service!).call("GET", "/api/events/\(event)", expect: 200)["conflicts"] as? Int ?? -1
        }

        func offlineCheckins() throws -> [[String: Any]] {
            let log = try AdminClient(service!).call("GET", "/api/events/\(event)/checkins?limit=500", expect: 200)["checkins"] as! [[String: Any]]
            return log.filter { $0["offline"] as? Bool == true }
        }
    }

    /// Wall-clock times (ms since 1970) at which the kiosk's relay closed, from its GPIO log.
    static func relayOpenings(_ kiosk: Kiosk) -> [Int64] {
        guard let text = try? String(contentsOfFile: kiosk.gpioLog, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], json["line"] as? String == "relay",
                json["value"] as? Int == 1
            else { return nil }
            return (json["wall"] as? NSNumber)?.int64Value
        }
    }

    /// Shows `code` to the kiosk until its relay closes; returns the decision and when the relay closed.
    static func admit(_ kiosk: Kiosk, _ code: String) async throws -> (decision: [String: String], relayAt: Int64) {
        let before = (kiosk.decisions.count, relayOpenings(kiosk).count)
        try kiosk.scene.show(code)
        try await waitUntil(limit: .seconds(6)) { kiosk.decisions.count > before.0 && relayOpenings(kiosk).count > before.1 }
        kiosk.scene.clear()
        return (kiosk.decisions[before.0], relayOpenings(kiosk)[before.1])
    }

    static func wallNow() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    @Test func a_copied_code_passes_one_gate_while_the_uplink_is_down() async throws {
        let venue = try Venue(tickets: 202)
        try await venue.ready()
        let (a, b) = (venue.kiosk(0), venue.kiosk(1))
        try venue.lan.cutUplink()

        // The screenshot: gate A admits, gate B 300 ms after A's relay refuses, naming gate A.
        let first = try await Self.admit(a, venue.tickets[0].qrData)
        #expect(first.decision["MESSAGE"] == "Check-in decided offline" && first.decision["CHECKIN_RESULT"] == "valid", "\(first.decision)")
        let wait = first.relayAt + 300 - Self.wallNow()
        if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
        try await Task.sleep(for: .milliseconds(900))  // A's pattern ends before the next scene
        let refused = try await b.scan(venue.tickets[0].qrData)
        #expect(refused["MESSAGE"] == "Check-in decided offline" && refused["CHECKIN_RESULT"] == "already_used", "\(refused)")
        #expect(refused["CHECKIN_USED_GATE"] == "gate-a" && refused["CHECKIN_USED_BY"] == "peer", "\(refused)")
        #expect(b.relayPulses == 0, "gate B stayed shut")

        // From A's relay to B knowing, over more tickets: B's "applied" against A's relay (both
        // on this machine's clock). The record leaves A as the decision is journaled, before the
        // relay closes, so B may know first (a negative figure).
        var delays: [Int64] = []
        for ticket in venue.tickets[1...200] {
            let admitted = try await Self.admit(a, ticket.qrData)
            #expect(admitted.decision["CHECKIN_RESULT"] == "valid", "\(admitted.decision)")
            let scanId = admitted.decision["SCAN_ID"]
            try await waitUntil(limit: .seconds(3)) {
                b.journal.entries.contains { $0["MESSAGE"] == "Peer record applied" && $0["SCAN_ID"] == scanId }
            }
            let applied = b.journal.entries.first { $0["MESSAGE"] == "Peer record applied" && $0["SCAN_ID"] == scanId }!
            delays.append(Int64(applied["PEER_RECEIVED_MS"]!)! - admitted.relayAt)
        }
        delays.sort()
        print(
            "peer gates: A's relay to B knowing over \(delays.count) tickets: median \(delays[delays.count / 2]) ms,"
                + " p99 \(delays[min(delays.count - 1, Int(Double(delays.count) * 0.99))]) ms, max \(delays.last!) ms"
        )
        let again = try await b.scan(venue.tickets[7].qrData)
        #expect(again["CHECKIN_RESULT"] == "already_used" && again["CHECKIN_USED_GATE"] == "gate-a", "\(again)")

        // The uplink returns: A uploads its own admissions; B uploads nothing it learnt.
        try venue.lan.restoreUplink()
        try await waitUntil(limit: .seconds(15)) { (try? venue.offlineCheckins().filter { $0["result"] as? String == "valid" }.count) == 201 }
        try await Task.sleep(for: .seconds(2))
        let offline = try venue.offlineCheckins()
        #expect(offline.allSatisfy { $0["gateId"] as? String == "gate-a" || $0["result"] as? String != "valid" }, "\(offline)")
        #expect(try venue.conflicts() == 0)
        #expect(!b.journal.entries.contains { $0["MESSAGE"] == "Offline check-ins uploaded" }, "B admitted nothing, and uploads nothing it learnt")
    }

    @Test func gates_find_each_other_by_multicast_with_peer_discovery() async throws {
        let venue = try Venue(discovery: true)
        try await venue.ready()
        try venue.lan.cutUplink()
        let admitted = try await venue.kiosk(0).scan(venue.tickets[1].qrData)
        let refused = try await venue.kiosk(1).scan(venue.tickets[1].qrData)
        #expect(admitted["CHECKIN_RESULT"] == "valid", "\(admitted)")
        #expect(refused["CHECKIN_RESULT"] == "already_used" && refused["CHECKIN_USED_GATE"] == "gate-a", "\(refused)")
    }

    @Test func with_the_lan_split_too_both_gates_admit_and_one_conflict_is_reported() async throws {
        let venue = try Venue()
        try await venue.ready()
        let (a, b) = (venue.kiosk(0), venue.kiosk(1))
        try venue.lan.cutUplink()
        try venue.lan.unplug(0)
        let atA = try await a.scan(venue.tickets[0].qrData)
        let atB = try await b.scan(venue.tickets[0].qrData)
        #expect(atA["CHECKIN_RESULT"] == "valid" && atB["CHECKIN_RESULT"] == "valid", "no gate waits for a peer it cannot reach")
        try venue.lan.plug(0)
        try venue.lan.restoreUplink()
        try await waitUntil(limit: .seconds(15)) { (try? venue.conflicts()) == 1 }
        try await Task.sleep(for: .seconds(2))
        #expect(try venue.conflicts() == 1)
        #expect(Set(try venue.offlineCheckins().compactMap { $0["gateId"] as? String }) == ["gate-a", "gate-b"])
    }

    @Test func a_gate_rebooted_during_the_outage_catches_up_before_it_admits() async throws {
        let venue = try Venue()
        try await venue.ready()
        try venue.lan.cutUplink()
        // B goes down; A admits a ticket B never hears of.
        kill(venue.kiosk(1).process.processIdentifier, SIGKILL)
        venue.kiosk(1).process.waitUntilExit()
        let admitted = try await venue.kiosk(0).scan(venue.tickets[2].qrData)
        #expect(admitted["CHECKIN_RESULT"] == "valid")
        // B comes back, still without the service: it asks A before its first offline decision.
        try venue.start(1)
        let b = venue.kiosk(1)
        try await waitUntil(limit: .seconds(10)) { b.journal.entries.contains { $0["MESSAGE"] == "Caught up with a peer gate" } }
        let refused = try await b.scan(venue.tickets[2].qrData)
        #expect(refused["CHECKIN_RESULT"] == "already_used" && refused["CHECKIN_USED_GATE"] == "gate-a", "\(refused)")
        let entries = b.journal.entries
        let caughtUp = entries.firstIndex { $0["MESSAGE"] == "Caught up with a peer gate" }!
        let applied = entries.firstIndex { $0["MESSAGE"] == "Peer record applied" && $0["SCAN_ID"] == admitted["SCAN_ID"] }
        #expect(applied != nil && applied! < caughtUp, "the record came with the catch-up")
        // And B still admits what nobody has used.
        let fresh = try await b.scan(venue.tickets[3].qrData, offset: 10)
        #expect(fresh["CHECKIN_RESULT"] == "valid")
    }

    // MARK: Hostile records

    /// A datagram as a gate sends it: JSON, then HMAC-SHA256 under `key`.
    static func sealed(_ fields: [String: Any], key: [UInt8]) throws -> [UInt8] {
        let body = Array(try JSONSerialization.data(withJSONObject: fields))
        return body + Array(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: key)))
    }

    func meta(_ state: String, _ key: String) throws -> String {
        try OfflineGateTests().query(state + "/offline.sqlite", "SELECT value FROM meta WHERE key = '\(key)'")
    }

    @Test func forged_replayed_foreign_and_revoked_records_are_dropped_and_counted() async throws {
        let venue = try Venue(gates: 3, metrics: true)
        try await venue.ready()
        let b = venue.kiosk(1)
        let keyID = try meta(venue.states[1], "peer_key_id")
        let key = Base64URL.decode(try meta(venue.states[1], "peer_key"))!
        let hash = Array(SHA256.hash(data: Array(venue.tickets[4].qrData.split(separator: ":").last!.utf8)))
        let keyed: [String: Any] = [
            "v": 1, "t": "record", "k": keyID, "e": venue.event, "d": venue.devices[0].id, "n": "test-box", "g": "gate-a", "s": 1,
            "kind": "admit", "i": "scan-from-the-test", "h": Base64URL.encode(hash), "a": Self.wallNow(), "x": "entry", "c": 0,
        ]
        let genuine = try Self.sealed(keyed, key: key)
        var forged = genuine
        forged[forged.count - 1] ^= 1
        var otherEvent = keyed
        otherEvent["e"] = "another-event"
        otherEvent["s"] = 2
        var future = keyed
        future["s"] = 3
        future["a"] = Self.wallNow() + 3_600_000
        // Numbered after the genuine one, timed ten minutes before it.
        var outOfOrder = keyed
        outOfOrder["s"] = 4
        outOfOrder["a"] = (keyed["a"] as! Int64) - 600_000
        venue.lan.send(
            [
                genuine, genuine, forged, try Self.sealed(otherEvent, key: key), try Self.sealed(future, key: key),
                try Self.sealed(outOfOrder, key: key),
                Array("not a record at all, just some bytes on the LAN port".utf8),
            ],
            to: 1
        )
        try await waitUntil(limit: .seconds(5)) {
            b.journal.entries.contains { $0["MESSAGE"] == "Peer record applied" && $0["PEER_DEVICE"] == venue.devices[0].id && $0["PEER_SEQ"] == "1" }
        }

        // Gate C's box is revoked (and off): the service makes a new key, B takes it with its next
        // pull, and a record under the old key — all a revoked box has — no longer counts.
        kill(venue.kiosk(2).process.processIdentifier, SIGKILL)
        _ = try AdminClient(venue.service!).call("POST", "/api/devices/\(venue.devices[2].id)/revoke", expect: 200)
        try await waitUntil(limit: .seconds(5)) { (try? meta(venue.states[1], "peer_key_id")) != keyID }
        let newKeyID = try meta(venue.states[1], "peer_key_id")
        var revoked = keyed
        revoked["d"] = venue.devices[2].id
        revoked["g"] = "gate-c"
        venue.lan.send([try Self.sealed(revoked, key: key)], to: 1)

        // A flood of forgeries while B scans: each costs one HMAC on the peer thread, and B's
        // decisions go on.
        var floodBase = keyed
        floodBase["k"] = newKeyID
        floodBase["s"] = 9
        let base = try Self.sealed(floodBase, key: key)
        let flood = (0..<20_000).map { index -> [UInt8] in
            var copy = base
            copy[copy.count - 2] = UInt8(truncatingIfNeeded: index)
            copy[copy.count - 3] = UInt8(truncatingIfNeeded: index >> 8)
            return copy
        }
        let calm = ContinuousClock.now
        let calmDecision = try await b.scan(venue.tickets[5].qrData)
        let calmTime = ContinuousClock.now - calm
        let target = venue.lan.address(1)
        let flooding = Thread { for _ in 0..<3 { PeerLAN.send(flood, to: target) } }
        flooding.start()
        let busy = ContinuousClock.now
        let floodDecision = try await b.scan(venue.tickets[6].qrData, offset: 10)
        let busyTime = ContinuousClock.now - busy
        while flooding.isExecuting { try await Task.sleep(for: .milliseconds(50)) }
        #expect(calmDecision["CHECKIN_RESULT"] == "valid" && floodDecision["CHECKIN_RESULT"] == "valid", "\(calmDecision) \(floodDecision)")
        print(
            "peer gates: a scan at gate B decided in \(calmDecision["CHECKIN_LATENCY_MS"] ?? "?") ms calm (\(calmTime) with its pattern)"
                + " and \(floodDecision["CHECKIN_LATENCY_MS"] ?? "?") ms under a flood of 60,000 forged datagrams (\(busyTime))"
        )

        try await waitUntil(limit: .seconds(10)) {
            guard let report = b.journal.entries.last(where: { $0["MESSAGE"] == "Peer datagrams dropped" }) else { return false }
            return [
                "PEER_DROPPED_REPLAYED", "PEER_DROPPED_WRONG_EVENT", "PEER_DROPPED_OUT_OF_WINDOW", "PEER_DROPPED_MALFORMED",
                "PEER_DROPPED_UNKNOWN_KEY",
            ]
            .allSatisfy { Int(report[$0] ?? "0")! >= 1 } && Int(report["PEER_DROPPED_BAD_MAC"] ?? "0")! >= 1000
        }
        let report = b.journal.entries.last { $0["MESSAGE"] == "Peer datagrams dropped" }!
        print("peer gates: gate B dropped \(report.filter { $0.key.hasPrefix("PEER_DROPPED_") }.sorted { $0.key < $1.key })")
        #expect(report["PEER_DROPPED_REPLAYED"] == "1" && report["PEER_DROPPED_WRONG_EVENT"] == "1" && report["PEER_DROPPED_OUT_OF_WINDOW"] == "1")
        #expect(report["PEER_DROPPED_OUT_OF_ORDER"] == "1")
        // At least one: a peer's hello in the second before it synced the new key counts too.
        #expect(Int(report["PEER_DROPPED_UNKNOWN_KEY"] ?? "0")! >= 1 && report["PEER_DROPPED_MALFORMED"] == "1")
        // The same figures for Prometheus (node_exporter's textfile collector), as promtool reads them.
        let textfile = venue.folder.file("gate1.prom")
        try await waitUntil(limit: .seconds(15)) {
            ((try? String(contentsOfFile: textfile, encoding: .utf8)) ?? "").contains(
                "gate_kiosk_peer_datagrams_dropped_total{reason=\"unknown_key\"} "
            )
                && !((try? String(contentsOfFile: textfile, encoding: .utf8)) ?? "").contains("{reason=\"unknown_key\"} 0")
        }
        let figures = try String(contentsOfFile: textfile, encoding: .utf8)
        #expect(figures.contains("gate_kiosk_peer_records_applied_total 1") && figures.contains("gate_kiosk_peers 2"), "\(figures)")
        let promtool = Process()
        promtool.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        promtool.arguments = ["check", "metrics"]
        let input = Pipe()
        promtool.standardInput = input
        promtool.standardOutput = FileHandle.nullDevice
        promtool.standardError = FileHandle.nullDevice
        try promtool.run()
        input.fileHandleForWriting.write(Data(figures.utf8))
        try input.fileHandleForWriting.close()
        promtool.waitUntilExit()
        #expect(promtool.terminationStatus == 0, "promtool check metrics")
        // Nothing dropped was applied: the one genuine record is all B learnt from outside.
        #expect(
            try OfflineGateTests().query(venue.states[1] + "/offline.sqlite", "SELECT count(*) FROM peer_records WHERE sender LIKE '%#test-box'")
                == "1"
        )
    }
}
