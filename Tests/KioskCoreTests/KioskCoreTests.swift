import Foundation
import GatehouseCore
import Logging
import Synchronization
import Testing

@testable import KioskCore

@Suite struct ConfigurationTests {
    let required = "server_url = https://checkin.example.org/\ndevice_id = DABCDEFGH\ngate_id = north-1\n"

    @Test func file_environment_and_flags_layer_in_order() throws {
        let file = try KioskConfiguration.parseFile(required + "relay_pulse_ms = 250 # comment\nred_active_low = yes\n", source: "test.conf")
        var config = try KioskConfiguration.resolve(file: file, environment: [:], overrides: [:])
        #expect(config.serverURL == "https://checkin.example.org")
        #expect(config.relayPulse == .milliseconds(250))
        #expect(config.red.activeLow && !config.green.activeLow)
        #expect(config.cameraDevice == "/dev/gate-camera" && config.frameWidth == 640 && config.requestDeadline == .milliseconds(1500))
        #expect(config.decoder == .zbarAndZXing)
        #expect(try KioskConfiguration.resolve(file: file, environment: ["GATE_KIOSK_DECODER": "ZXing"], overrides: [:]).decoder == .zxing)
        config = try KioskConfiguration.resolve(file: file, environment: ["GATE_KIOSK_RELAY_PULSE_MS": "400"], overrides: [:])
        #expect(config.relayPulse == .milliseconds(400))
        config = try KioskConfiguration.resolve(file: file, environment: ["GATE_KIOSK_RELAY_PULSE_MS": "400"], overrides: ["relay_pulse_ms": "500"])
        #expect(config.relayPulse == .milliseconds(500))
        #expect(
            config.tokenPath(environment: ["CREDENTIALS_DIRECTORY": "/run/credentials/gate-kiosk.service"])
                == "/run/credentials/gate-kiosk.service/device-token"
        )
        #expect(config.tokenPath(environment: [:]) == "/etc/gate-kiosk/device-token", "where enroll writes it")
        // No peers by default: no peer traffic, no socket.
        #expect(config.peers.isEmpty && !config.usesPeers && config.peerListen.description == "0.0.0.0:7447")
        config = try KioskConfiguration.resolve(file: file, environment: [:], overrides: ["peers": " 10.1.0.12:7447,10.1.0.13:7447 , "])
        #expect(config.peers.map(\.description) == ["10.1.0.12:7447", "10.1.0.13:7447"] && config.usesPeers)
    }

    @Test(arguments: [
        ("relay_pulse_ms = abc", "relay_pulse_ms = 'abc' is not allowed: expected a whole number from 20 to 10000"),
        ("relay_pulse_ms = 5", "relay_pulse_ms = '5' is not allowed"),
        ("green_active_low = maybe", "green_active_low = 'maybe' is not allowed: expected true or false"),
        ("frame_rate = 0", "frame_rate = '0'"),
        ("decoder = opencv", "decoder = 'opencv' is not allowed: expected zbar+zxing or zbar or zxing"),
        ("colour = blue", "colour = 'blue' is not allowed"),
        ("just words", "a line of the form key = value"),
        ("peers = 10.1.0.12:7447, gate-2:7447", "peers = '10.1.0.12:7447, gate-2:7447' is not allowed: expected up to 64 IPv4 addresses"),
        ("peers = [::1]:7447", "(::1]:7447 is not one)".replacingOccurrences(of: "(", with: "([")),
        ("peer_listen = 0.0.0.0", "peer_listen = '0.0.0.0' is not allowed: expected an IPv4 address and a port"),
        ("peer_discovery = sometimes", "peer_discovery = 'sometimes' is not allowed"),
    ])
    func bad_values_name_key_value_and_what_is_allowed(_ line: String, _ expected: String) throws {
        #expect {
            let file = try KioskConfiguration.parseFile(required + line + "\n", source: "gate-kiosk.conf")
            _ = try KioskConfiguration.resolve(file: file, environment: [:], overrides: [:])
        } throws: { error in
            "\(error)".contains(expected) && "\(error)".contains("gate-kiosk.conf")
        }
    }

    @Test func missing_required_keys_and_bad_urls_are_named() throws {
        #expect { _ = try KioskConfiguration.resolve(file: [:], environment: [:], overrides: [:]) } throws: {
            "\($0)".contains("server_url is required")
        }
        #expect {
            _ = try KioskConfiguration.resolve(
                file: try KioskConfiguration.parseFile(required, source: "f"),
                environment: [:],
                overrides: ["server_url": "checkin.local"]
            )
        } throws: { "\($0)".contains("server_url = 'checkin.local'") }
        #expect {
            _ = try KioskConfiguration.resolve(
                file: try KioskConfiguration.parseFile(required, source: "f"),
                environment: ["GATE_KIOSK_GATE_ID": "bad\u{7}"],
                overrides: [:]
            )
        } throws: { "\($0)".contains("environment GATE_KIOSK_GATE_ID") }
    }
}

@Suite struct SignalPatternTests {
    let timing = (relay: Duration.milliseconds(300), green: Duration.milliseconds(2000), red: Duration.milliseconds(2500))

    func play(_ signal: LightPattern) async throws -> Timeline {
        let clock = VirtualTimekeeper()
        let (outputs, timeline) = makeOutputs(clock)
        try await SignalPlayer(outputs: outputs, timekeeper: clock).play(
            SignalPattern(signal, relayPulse: timing.relay, greenTime: timing.green, redTime: timing.red)
        )
        return timeline
    }

    @Test func granted_pulses_the_relay_under_green() async throws {
        let timeline = try await play(.granted)
        #expect(timeline.pulses("relay").map(\.length) == [300])
        #expect(timeline.pulses("green").map(\.length) == [2000])
        #expect(timeline.pulses("red").isEmpty)
        // The relay closes only while green shows, and opens before green goes dark.
        #expect(timeline.pulses("relay")[0].start >= timeline.pulses("green")[0].start)
    }

    @Test func each_refusal_has_its_own_red_pattern_and_never_the_relay() async throws {
        var shapes: [LightPattern: [Int64]] = [:]
        for signal in [LightPattern.alreadyUsed, .unknown, .wrongEvent, .expiredOrRevoked] {
            let timeline = try await play(signal)
            #expect(timeline.pulses("relay").isEmpty, "\(signal)")
            #expect(timeline.pulses("green").isEmpty, "\(signal)")
            let pulses = timeline.pulses("red")
            #expect(pulses.last.map { $0.start + $0.length } ?? 0 <= 2500)
            shapes[signal] = pulses.map(\.length)
        }
        #expect(shapes[.alreadyUsed] == [2500])
        #expect(shapes[.unknown]!.allSatisfy { $0 == 100 } && shapes[.unknown]!.count == 13)
        #expect(shapes[.wrongEvent] == [500, 500, 500])
        #expect(shapes[.expiredOrRevoked]!.allSatisfy { $0 == 150 } && shapes[.expiredOrRevoked]!.count == 6)
        #expect(Set(shapes.values.map { $0.description }).count == 4, "patterns differ")
    }

    @Test func unavailable_blinks_both_leds_and_keeps_the_gate_shut() async throws {
        let timeline = try await play(.serviceUnavailable)
        #expect(timeline.pulses("relay").isEmpty)
        #expect(timeline.pulses("red").map(\.start) == timeline.pulses("green").map(\.start))
        #expect(timeline.pulses("red").allSatisfy { $0.length == 250 })
    }

    @Test func outputs_end_safe_even_when_cancelled() async throws {
        let clock = VirtualTimekeeper()
        let (outputs, _) = makeOutputs(clock)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await SignalPlayer(outputs: outputs, timekeeper: clock).play(
                SignalPattern(.granted, relayPulse: .seconds(1), greenTime: .seconds(2), redTime: .seconds(1))
            )
        }
        _ = await task.result
        #expect((outputs.relay as! FakeLine).value == false)
        #expect((outputs.green as! FakeLine).value == false)
    }
}

@Suite struct LaneTests {
    @Test func cooldown_keeps_a_decided_code_from_being_sent_again() {
        var lane = Lane(cooldown: .seconds(8))
        let code = Array(ticketCode().utf8)
        guard case .submit(_, let scanId) = lane.consider(code, now: .zero) else {
            Issue.record("not submitted")
            return
        }
        lane.finished(code, scanId: scanId, outcome: answer(.valid), now: .milliseconds(50))
        #expect(lane.consider(code, now: .seconds(3)) == .coolingDown)
        #expect(lane.consider(code, now: .milliseconds(8049)) == .coolingDown)
        guard case .submit(_, let second) = lane.consider(code, now: .milliseconds(8051)) else {
            Issue.record("not submitted after cooldown")
            return
        }
        #expect(second != scanId)
        // Another code is judged at once.
        if case .submit = lane.consider(Array(ticketCode().utf8), now: .seconds(1)) {} else { Issue.record("new code waited") }
    }

    @Test func foreign_payloads_are_refused_without_the_network() {
        var lane = Lane(cooldown: .seconds(8))
        for payload in [Array("https://example.com".utf8), [0xff, 0x00, 0x13], [UInt8](repeating: 0x41, count: 100_000), []] {
            #expect(lane.consider(payload, now: .zero) == .refuseLocally)
        }
    }

    @Test func an_unanswered_scan_keeps_its_scan_id_for_the_retry() {
        var lane = Lane(cooldown: .seconds(8))
        let code = Array(ticketCode().utf8)
        guard case .submit(_, let first) = lane.consider(code, now: .zero) else {
            Issue.record("the first sighting was not submitted")
            return
        }
        lane.finished(code, scanId: first, outcome: .unreachable("timeout"), now: .milliseconds(1500))
        guard case .submit(_, let retry) = lane.consider(code, now: .seconds(4)) else {
            Issue.record("no retry")
            return
        }
        #expect(retry == first)
        lane.finished(code, scanId: retry, outcome: answer(.valid), now: .seconds(4))
        #expect(lane.consider(code, now: .seconds(5)) == .coolingDown)
    }
}

@Suite struct KioskLoopTests {
    struct Setup {
        let clock = VirtualTimekeeper()
        let outputs: LaneOutputs
        let timeline: Timeline
        let logs = LogRecorder()
        let health = KioskHealth()
        let client: ScriptedClient
        let kiosk: Kiosk

        init(offline: (any OfflineDecider)? = nil, answer: @escaping @Sendable (String) -> CheckinReply) {
            (outputs, timeline) = makeOutputs(clock)
            client = ScriptedClient(timekeeper: clock, answer: answer)
            kiosk = Kiosk(
                client: client,
                player: SignalPlayer(outputs: outputs, timekeeper: clock),
                timing: .init(relayPulse: .milliseconds(300), greenTime: .seconds(2), redTime: .milliseconds(2500), cooldown: .seconds(8)),
                gateID: "north-1",
                health: health,
                logger: logs.logger,
                offline: offline
            )
        }

        func scan(_ code: String, lane: inout Lane) async {
            await kiosk.handle(ScanEvent(payloads: [Array(code.utf8)], frameAt: clock.now()), lane: &lane)
        }
    }

    @Test func a_code_held_in_view_is_decided_once() async {
        let used = Mutex<Set<String>>([])
        let setup = Setup { code in used.withLock { $0.insert(code).inserted } ? answer(.valid) : answer(.alreadyUsed) }
        var lane = Lane(cooldown: .seconds(8))
        let code = ticketCode()
        // 30 frames a second for 5 seconds: the holder is still in front of the camera.
        for _ in 0..<150 {
            await setup.scan(code, lane: &lane)
            setup.clock.advance(.milliseconds(33))
        }
        #expect(setup.client.calls.withLock { $0.count } == 1)
        #expect(setup.timeline.pulses("relay").count == 1)
        #expect(setup.timeline.pulses("red").isEmpty, "no red for someone just let in")
        // After the cooldown the same code is judged again: red, already used.
        setup.clock.advance(.seconds(5))
        setup.timeline.clear()
        await setup.scan(code, lane: &lane)
        #expect(setup.timeline.pulses("red").map(\.length) == [2500])
        #expect(setup.timeline.pulses("relay").isEmpty)
        let decided = setup.logs.all.filter { $0.message == "Check-in decided" }
        #expect(decided.map { $0.metadata["checkin.result"] } == ["valid", "already_used"])
        #expect(
            decided.allSatisfy {
                $0.metadata["gate.id"] == "north-1" && $0.metadata["ticket.number"] == "7" && $0.metadata["checkin.latency_ms"] != nil
            }
        )
        #expect(!setup.logs.all.contains { $0.metadata.values.contains { $0.contains(code) || $0.contains("Ada") } }, "no codes or names in logs")
    }

    @Test func unreachable_service_shows_its_pattern_and_never_opens() async {
        let setup = Setup { _ in .unreachable("Couldn't connect to server") }
        var lane = Lane(cooldown: .seconds(8))
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.timeline.pulses("relay").isEmpty)
        #expect(setup.timeline.pulses("red").count == 5 && setup.timeline.pulses("green").count == 5)
        #expect(setup.health.statusLine.contains("SERVICE UNREACHABLE"))
        #expect(setup.logs.all.contains { $0.message == "Check-in service unreachable" && $0.level == .warning })
    }

    /// Records what it was asked and answers from a script.
    final class ScriptedDecider: OfflineDecider {
        let asked = Mutex<[(qrData: String, scanId: String)]>([])
        let decision: @Sendable (String) -> OfflineDecision
        init(_ decision: @escaping @Sendable (String) -> OfflineDecision) { self.decision = decision }
        func decide(qrData: String, scanId: String, direction: ScanDirection) -> OfflineDecision {
            asked.withLock { $0.append((qrData, scanId)) }
            return decision(qrData)
        }
    }

    @Test func without_an_answer_the_snapshot_decides_with_the_same_scan_id_and_shows_the_offline_mark() async {
        let decider = ScriptedDecider { _ in
            .decided(
                CheckinAnswer(
                    result: .valid,
                    message: "valid, decided offline",
                    ticket: TicketSummary(id: "", number: 7, holderName: nil, ticketType: nil)
                )
            )
        }
        let setup = Setup(offline: decider) { _ in .unreachable("Operation timed out") }
        var lane = Lane(cooldown: .seconds(8))
        let code = ticketCode()
        await setup.scan(code, lane: &lane)
        let call = setup.client.calls.withLock { $0 }
        #expect(call.count == 1 && decider.asked.withLock { $0.map(\.scanId) } == call.map(\.scanId), "the same scanId offline as online")
        #expect(setup.timeline.pulses("relay").map(\.length) == [300], "admitted")
        // Green for the result, then the mark: both lights together twice, 120 ms each (the first
        // time green simply stays on, so it is one pulse with the result).
        let greens = setup.timeline.pulses("green")
        let reds = setup.timeline.pulses("red")
        #expect(greens.count == 2 && greens.first?.length == 2120 && reds.count == 2 && reds.allSatisfy { $0.length == 120 })
        #expect(setup.logs.all.contains { $0.message == "Check-in decided offline" && $0.metadata["checkin.offline"] == "true" })
        #expect(setup.health.statusLine.contains("SERVICE UNREACHABLE") && setup.health.statusLine.contains("(offline)"))
        // Decided: the holder in view is not judged again within the cooldown, online or offline.
        setup.clock.advance(.seconds(2))
        await setup.scan(code, lane: &lane)
        #expect(setup.client.calls.withLock { $0.count } == 1 && decider.asked.withLock { $0.count } == 1)
    }

    @Test func a_snapshot_that_cannot_decide_shuts_the_gate_as_before() async {
        let decider = ScriptedDecider { _ in .cannotDecide("the snapshot is 900 min old") }
        let setup = Setup(offline: decider) { _ in .unreachable("Couldn't connect to server") }
        var lane = Lane(cooldown: .seconds(8))
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.timeline.pulses("relay").isEmpty)
        #expect(setup.timeline.pulses("red").count == 5 && setup.timeline.pulses("green").count == 5, "the unreachable pattern")
        #expect(setup.logs.all.contains { $0.message == "Offline decision impossible" && $0.metadata["offline.reason"]?.contains("900 min") == true })
    }

    @Test func a_local_refusal_makes_no_call() async {
        let setup = Setup { _ in answer(.valid) }
        var lane = Lane(cooldown: .seconds(8))
        await setup.scan("WIFI:S:venue;;", lane: &lane)
        #expect(setup.client.calls.withLock { $0.isEmpty })
        #expect(setup.timeline.pulses("red").count == 13)
    }

    @Test func a_rejected_kiosk_is_logged_as_an_error() async {
        let setup = Setup { _ in .rejected(status: 401, detail: "unknown or revoked device token") }
        var lane = Lane(cooldown: .seconds(8))
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.timeline.pulses("relay").isEmpty)
        #expect(setup.logs.all.contains { $0.level == .error && $0.metadata["http.status"] == "401" })
        #expect(setup.health.statusLine.contains("REFUSES THIS KIOSK"))
    }

    @Test func stale_scans_are_dropped() async {
        let setup = Setup { _ in answer(.valid) }
        let (stream, continuation) = AsyncStream<ScanEvent>.makeStream()
        continuation.yield(ScanEvent(payloads: [Array(ticketCode().utf8)], frameAt: .zero))
        setup.clock.advance(.seconds(2))
        continuation.finish()
        await setup.kiosk.run(scans: stream)
        #expect(setup.client.calls.withLock { $0.isEmpty })
    }

    @Test func health_sees_a_hung_loop_but_not_a_missing_camera() {
        let health = KioskHealth()
        health.captureBeat(.seconds(10))
        health.setCamera(.offline("no camera at /dev/gate-camera"))
        #expect(health.isAlive(now: .seconds(12), captureLimit: .seconds(5), decisionLimit: .seconds(10)))
        #expect(health.statusLine.hasPrefix("Waiting for camera"))
        #expect(!health.isAlive(now: .seconds(16), captureLimit: .seconds(5), decisionLimit: .seconds(10)))
        health.captureBeat(.seconds(30))
        health.decisionStarted(.seconds(15))
        #expect(!health.isAlive(now: .seconds(30), captureLimit: .seconds(5), decisionLimit: .seconds(10)))
    }
}
