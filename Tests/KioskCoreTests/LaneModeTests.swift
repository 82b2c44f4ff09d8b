import GatehouseCore
import Logging
import Synchronization
import Testing

@testable import KioskCore

@Suite struct LaneModeTests {
    struct Setup {
        let clock = VirtualTimekeeper()
        let outputs: LaneOutputs
        let timeline: Timeline
        let logs = LogRecorder()
        let health = KioskHealth()
        let client: ScriptedClient
        let modes: LaneModes
        let kiosk: Kiosk

        init() {
            (outputs, timeline) = makeOutputs(clock)
            client = ScriptedClient(timekeeper: clock) { _ in answer(.valid) }
            modes = LaneModes(outputs: outputs, health: health, gateID: "north-1", logger: logs.logger)
            kiosk = Kiosk(
                client: client,
                player: SignalPlayer(outputs: outputs, timekeeper: clock),
                timing: .init(relayPulse: .milliseconds(300), greenTime: .seconds(2), redTime: .seconds(2), cooldown: .seconds(8)),
                gateID: "north-1",
                health: health,
                logger: logs.logger,
                modes: modes
            )
        }

        func scan(_ code: String, lane: inout Lane) async {
            await kiosk.handle(ScanEvent(payloads: [Array(code.utf8)], frameAt: clock.now()), lane: &lane)
        }

        func level(_ line: String) -> Bool? { timeline.on(line).last?.value }
    }

    @Test func the_key_switch_outranks_the_box_which_outranks_the_organizer() {
        let setup = Setup()
        setup.modes.set(.locked, by: .organizer)
        #expect(setup.modes.current.mode == .locked && setup.modes.current.source == .organizer)
        setup.modes.set(.free, by: .box)
        #expect(setup.modes.current.mode == .free && setup.modes.current.source == .box)
        #expect(setup.level("relay") == true && setup.level("green") == true, "free passage holds the lane open")
        setup.modes.set(.outOfOrder, by: .keySwitch)
        #expect(setup.modes.current.mode == .outOfOrder)
        #expect(setup.level("relay") == false && setup.level("red") == true, "out of order: red steady, shut")
        #expect(setup.health.statusLine.hasPrefix("LANE out_of_order (key switch)"))
        // The switch back in its normal position: the box's setting again, then the organizer's.
        setup.modes.set(nil, by: .keySwitch)
        #expect(setup.modes.current.mode == .free)
        setup.modes.set(nil, by: .box)
        #expect(setup.modes.current.mode == .locked && setup.level("relay") == false)
        setup.modes.set(nil, by: .organizer)
        #expect(setup.modes.current.mode == .normal && setup.modes.current.source == nil && !setup.health.statusLine.contains("LANE"))
        let changes = setup.logs.all.filter { $0.message == "Lane mode changed" }
        #expect(changes.map { $0.metadata["lane_mode"] } == ["locked", "free", "out_of_order", "free", "locked", "normal"])
        #expect(changes[2].metadata["lane_mode.source"] == "key_switch" && changes[2].metadata["lane_mode.before"] == "free")
        // What the service last heard: reported once per change.
        let report = setup.modes.unreported(deviceID: "D1", gateID: "north-1")
        #expect(report == LaneReport(deviceId: "D1", gateId: "north-1", mode: .normal, source: nil))
        setup.modes.reported(report!)
        #expect(setup.modes.unreported(deviceID: "D1", gateID: "north-1") == nil)
    }

    /// A mode set while a scan is being decided applies from the next scan: the guest the service
    /// just admitted is let through (their ticket is used), and the lane then rests in its new mode.
    @Test func a_mode_change_during_a_decision_applies_from_the_next_scan() async {
        let clock = VirtualTimekeeper()
        let (outputs, timeline) = makeOutputs(clock)
        let logs = LogRecorder()
        let modes = LaneModes(outputs: outputs, health: KioskHealth(), gateID: "north-1", logger: logs.logger)
        let pending = Mutex<LaneMode?>(.locked)
        let client = ScriptedClient(timekeeper: clock, latency: .milliseconds(400)) { _ in
            // The key turned while the service was deciding.
            if let mode = pending.withLock({ value in
                defer { value = nil }
                return value
            }) {
                modes.set(mode, by: .keySwitch)
            }
            return answer(.valid)
        }
        let kiosk = Kiosk(
            client: client,
            player: SignalPlayer(outputs: outputs, timekeeper: clock),
            timing: .init(relayPulse: .milliseconds(300), greenTime: .seconds(1), redTime: .seconds(1), cooldown: .seconds(8)),
            gateID: "north-1",
            health: KioskHealth(),
            logger: logs.logger,
            modes: modes
        )
        var lane = Lane(cooldown: .seconds(8))
        await kiosk.handle(ScanEvent(payloads: [Array(ticketCode().utf8)], frameAt: clock.now()), lane: &lane)
        #expect(timeline.pulses("relay").count == 1, "the admitted guest passes")
        #expect(timeline.on("relay").last?.value == false && timeline.on("green").last?.value == false, "then locked: shut")
        timeline.clear()
        await kiosk.handle(ScanEvent(payloads: [Array(ticketCode().utf8)], frameAt: clock.now()), lane: &lane)
        #expect(client.calls.withLock { $0.count } == 1, "the next scan is not checked in")
        #expect(timeline.pulses("relay").isEmpty)

        // Out of order set during a decision: the pattern plays, the lane rests red.
        modes.set(nil, by: .keySwitch)
        pending.withLock { $0 = .outOfOrder }
        timeline.clear()
        await kiosk.handle(ScanEvent(payloads: [Array(ticketCode().utf8)], frameAt: clock.now()), lane: &lane)
        #expect(timeline.pulses("relay").count == 1)
        #expect(timeline.on("red").last?.value == true && timeline.on("relay").last?.value == false)
        // Free passage set during a decision: after the green, the relay stays held.
        modes.set(nil, by: .keySwitch)
        pending.withLock { $0 = .free }
        timeline.clear()
        await kiosk.handle(ScanEvent(payloads: [Array(ticketCode().utf8)], frameAt: clock.now()), lane: &lane)
        #expect(timeline.on("relay").last?.value == true && timeline.on("green").last?.value == true)
        #expect(client.calls.withLock { $0.count } == 3)
    }

    @Test func no_ticket_is_checked_in_unless_the_lane_is_normal() async {
        let setup = Setup()
        var lane = Lane(cooldown: .seconds(8))
        setup.modes.set(.free, by: .organizer)
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.logs.all.contains { $0.message == "Scan in free passage: not checked in" && $0.metadata["lane_mode"] == "free" })
        #expect(setup.level("relay") == true, "still open after the scan")
        setup.modes.set(.locked, by: .organizer)
        setup.timeline.clear()
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.timeline.pulses("relay").isEmpty)
        #expect(setup.timeline.pulses("red").count == 5 && setup.timeline.pulses("green").count == 5, "red and green alternating")
        setup.modes.set(.outOfOrder, by: .organizer)
        setup.timeline.clear()
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.timeline.all.isEmpty, "ignored: red stays steady")
        #expect(setup.client.calls.withLock { $0.isEmpty })
        setup.modes.set(nil, by: .organizer)
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.client.calls.withLock { $0.count } == 1)
    }

    @Test func the_fire_alarm_outranks_every_mode() throws {
        let setup = Setup()
        setup.modes.set(.outOfOrder, by: .keySwitch)
        try setup.outputs.holdOpen(true)
        #expect(setup.level("relay") == true)
        setup.modes.set(.locked, by: .box)
        #expect(setup.level("relay") == true, "a mode change during the alarm does not shut the lane")
        try setup.outputs.holdOpen(false)
        #expect(setup.level("relay") == false && setup.level("red") == true, "back to the key switch's out of order")
    }

    @Test func a_key_switch_reads_its_first_closed_position_and_a_broken_one_as_out_of_order() {
        let modes: [LaneMode] = [.free, .locked, .outOfOrder]
        #expect(KeySwitch.mode(modes, [.clear, .clear, .clear]) == nil)
        #expect(KeySwitch.mode(modes, [.clear, .asserted, .clear]) == .locked)
        #expect(KeySwitch.mode(modes, [.asserted, .clear, .broken("gone")]) == .outOfOrder)
    }
}
