import GatehouseCore
import Logging
import Synchronization
import Testing

@testable import KioskCore

/// A bidirectional lane on virtual time: the direction input says each scan's way, an exit
/// opens the exit relay (or, without one, the lane's one relay), and an unknown way decides
/// nothing.
@Suite struct BidirectionalLaneTests {
    struct Setup {
        let clock = VirtualTimekeeper()
        let outputs: LaneOutputs
        let timeline: Timeline
        let logs = LogRecorder()
        let client: ScriptedClient
        let direction = LaneDirection()
        let input = ScriptedInput()
        let kiosk: Kiosk

        init(exitRelay: Bool) {
            let timeline = Timeline(clock)
            self.timeline = timeline
            outputs = LaneOutputs(
                green: FakeLine("green", timeline),
                red: FakeLine("red", timeline),
                relay: FakeLine("relay", timeline),
                exitRelay: exitRelay ? FakeLine("exit_relay", timeline) : nil
            )
            client = ScriptedClient(timekeeper: clock) { _ in answer(.valid) }
            kiosk = Kiosk(
                client: client,
                player: SignalPlayer(outputs: outputs, timekeeper: clock),
                timing: .init(relayPulse: .milliseconds(300), greenTime: .seconds(1), redTime: .seconds(1), cooldown: .zero),
                gateID: "hall-2",
                health: KioskHealth(),
                logger: logs.logger,
                direction: direction
            )
        }

        /// Sends a level and waits until the lane has read it.
        func set(_ level: InputLevel, expecting reading: LaneDirection.Reading) async {
            input.send(level)
            for _ in 0..<1000 where direction.current != reading { await Task.yield() }
            #expect(direction.current == reading)
        }

        func scan(lane: inout Lane) async {
            await kiosk.handle(ScanEvent(payloads: [Array(ticketCode().utf8)], frameAt: clock.now()), lane: &lane)
        }
    }

    @Test func each_scan_goes_the_way_the_input_says_through_its_own_relay() async {
        let setup = Setup(exitRelay: true)
        let health = KioskHealth()
        let following = Task { await setup.direction.follow(setup.input, gateID: "hall-2", health: health, logger: setup.logs.logger) }
        defer { following.cancel() }
        var lane = Lane(cooldown: .zero)
        #expect(setup.direction.current == .unknown("the direction input has not been read yet"))

        await setup.set(.clear, expecting: .known(.entry))
        await setup.scan(lane: &lane)
        #expect(setup.timeline.pulses("relay").count == 1 && setup.timeline.pulses("exit_relay").isEmpty)

        await setup.set(.asserted, expecting: .known(.exit))
        #expect(health.statusLine.contains("two-way lane: exit"))
        setup.timeline.clear()
        await setup.scan(lane: &lane)
        #expect(setup.timeline.pulses("exit_relay").count == 1 && setup.timeline.pulses("relay").isEmpty)
        #expect(setup.client.directions.withLock { $0 } == [.entry, .exit])
        #expect(setup.logs.all.filter { $0.message == "Check-in decided" }.map { $0.metadata["checkin.direction"] } == ["entry", "exit"])

        // A cut wire: the service is not asked, no relay moves, the lane shows it cannot decide.
        await setup.set(.broken("line gone"), expecting: .unknown("the direction input cannot be read: line gone"))
        #expect(health.statusLine.contains("TWO-WAY LANE, DIRECTION UNKNOWN"))
        setup.timeline.clear()
        await setup.scan(lane: &lane)
        #expect(setup.client.calls.withLock { $0.count } == 2)
        #expect(setup.timeline.pulses("relay").isEmpty && setup.timeline.pulses("exit_relay").isEmpty)
        #expect(!setup.timeline.pulses("red").isEmpty)
        #expect(setup.logs.all.contains { $0.message == "Direction input cannot be read: the lane stays shut" && $0.level == .error })
    }

    @Test func without_an_exit_relay_an_exit_opens_the_one_relay_and_the_alarm_opens_both() async throws {
        let single = Setup(exitRelay: false)
        let following = Task { await single.direction.follow(single.input, gateID: "hall-2", health: KioskHealth(), logger: single.logs.logger) }
        defer { following.cancel() }
        var lane = Lane(cooldown: .zero)
        await single.set(.asserted, expecting: .known(.exit))
        await single.scan(lane: &lane)
        #expect(single.timeline.pulses("relay").count == 1)

        let double = Setup(exitRelay: true)
        try double.outputs.holdOpen(true)
        #expect(double.timeline.on("relay").last?.value == true && double.timeline.on("exit_relay").last?.value == true)
        try double.outputs.holdOpen(false)
        #expect(double.timeline.on("relay").last?.value == false && double.timeline.on("exit_relay").last?.value == false)
        try double.outputs.setRest(LaneMode.free.restState)
        #expect(double.timeline.on("exit_relay").last?.value == true, "free passage opens both ways")
    }

    @Test func the_two_way_staff_button_and_metrics_keys_are_checked() throws {
        let base = "server_url = http://checkin.local\ndevice_id = D1\ngate_id = north-1\n"
        func resolve(_ text: String) throws -> KioskConfiguration {
            try KioskConfiguration.resolve(file: try KioskConfiguration.parseFile(base + text, source: "f"), environment: [:], overrides: [:])
        }
        let set = try resolve(
            "direction_input = on\nexit_relay_line = 26\nattention_button = on\nattention_timeout_ms = 9000\nmetrics_textfile = /var/lib/node_exporter/textfile_collector/gate_kiosk.prom\n"
        )
        #expect(set.directionInput && set.directionLine.offset == 25 && set.exitRelay?.offset == 26)
        #expect(set.attentionButton && set.attentionButtonLine.offset == 16 && set.attentionTimeout == .seconds(9))
        #expect(set.metricsTextfile == "/var/lib/node_exporter/textfile_collector/gate_kiosk.prom")
        let plain = try resolve("")
        #expect(plain.exitRelay == nil && !plain.directionInput && !plain.attentionButton && plain.metricsTextfile == nil)
        #expect { _ = try resolve("direction_input = on\ndirection = exit\n") } throws: { "\($0)".contains("entry with direction_input = on") }
        #expect { _ = try resolve("exit_relay_line = 2000\n") } throws: { "\($0)".contains("0 to 1023, or none") }
        #expect { _ = try resolve("metrics_textfile = gate_kiosk.prom\n") } throws: { "\($0)".contains("absolute path ending in .prom") }
        #expect { _ = try resolve("metrics_textfile = /tmp/gate_kiosk.txt\n") } throws: { "\($0)".contains("absolute path ending in .prom") }
        #expect { _ = try resolve("attention_timeout_ms = 10\n") } throws: { "\($0)".contains("1000 to 600000") }
        // The box's own /metrics: a literal address and a port.
        #expect(try resolve("metrics_listen = 127.0.0.1:9101\n").metricsListen == ListenAddress("127.0.0.1:9101"))
        #expect(try resolve("metrics_listen = [::1]:9101\n").metricsListen?.isIPv6 == true)
        #expect(plain.metricsListen == nil)
        for bad in ["localhost:9101", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "300.1.1.1:9101", "[::1]9101", "[:::1::2]:80", "1.2.3:80"] {
            #expect { _ = try resolve("metrics_listen = \(bad)\n") } throws: { "\($0)".contains("an IP address and a port") }
        }
    }
}
