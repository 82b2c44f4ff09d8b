import GatehouseCore
import Logging
import Synchronization
import Testing

@testable import KioskCore

/// An input the test drives: each level it sends is read by the lane.
final class ScriptedInput: InputLine, Sendable {
    let name = "alarm"
    private let stream: AsyncStream<InputLevel>
    private let continuation: AsyncStream<InputLevel>.Continuation

    init() { (stream, continuation) = AsyncStream.makeStream() }
    func send(_ level: InputLevel) { continuation.yield(level) }
    func levels() -> AsyncStream<InputLevel> { stream }
}

@Suite struct FireAlarmTests {
    @Test func an_alarm_or_a_broken_line_holds_until_clear_long_enough() {
        var state = AlarmState(clearAfter: .seconds(5))
        #expect(state.read(.clear, now: .zero) == nil && !state.isActive)
        #expect(state.read(.asserted, now: .seconds(1)) == .raised("the fire panel signals an alarm"))
        #expect(state.read(.asserted, now: .seconds(2)) == nil, "raised once")
        #expect(state.read(.clear, now: .seconds(3)) == nil && state.isActive)
        let first = state.clearNumber
        // A flicker: asserted again before the clear time; the earlier timer is moot.
        #expect(state.read(.asserted, now: .seconds(4)) == nil)
        #expect(state.timerFired(number: first, now: .seconds(8)) == nil && state.isActive)
        #expect(state.read(.clear, now: .seconds(5)) == nil)
        #expect(state.timerFired(number: state.clearNumber, now: .seconds(9)) == nil, "4 s of 5")
        #expect(state.timerFired(number: state.clearNumber, now: .seconds(10)) == .cleared && !state.isActive)
        // A line that cannot be read is an alarm (fail-safe), with why.
        guard case .raised(let why)? = state.read(.broken("no such GPIO chip"), now: .seconds(11)) else {
            Issue.record("a broken line did not raise the alarm")
            return
        }
        #expect(why.contains("no such GPIO chip"))
    }

    @Test func the_alarm_overrides_every_pattern_and_shutdown_until_released() async throws {
        let clock = VirtualTimekeeper()
        let (outputs, timeline) = makeOutputs(clock)
        try outputs.holdOpen(true)
        #expect(outputs.isHeldOpen)
        // A refusal's pattern, then the safe state a pattern ends with: the relay stays energised.
        try await SignalPlayer(outputs: outputs, timekeeper: clock).play(
            SignalPattern(.alreadyUsed, relayPulse: .milliseconds(300), greenTime: .seconds(2), redTime: .seconds(2))
        )
        try outputs.apply(.safe)
        #expect(timeline.on("relay").map(\.value) == [true], "opened once, never shut while held")
        try outputs.holdOpen(false)
        #expect(timeline.on("relay").map(\.value) == [true, false])
        #expect(timeline.on("green").last?.value == false && timeline.on("red").last?.value == false)
    }

    /// Virtual time that runs `hook` once, the first time a sleep reaches `at`: an alarm that
    /// comes in the middle of a step.
    final class HookedTimekeeper: Timekeeper {
        let clock = VirtualTimekeeper()
        let at: Duration
        let hook: Mutex<(@Sendable () -> Void)?>

        init(at: Duration, hook: @escaping @Sendable () -> Void) {
            self.at = at
            self.hook = Mutex(hook)
        }

        func now() -> Duration { clock.now() }

        func sleep(for duration: Duration) async throws {
            let before = clock.now()
            try await clock.sleep(for: duration)
            if before < at, clock.now() >= at,
                let fire = hook.withLock({ hook in
                    defer { hook = nil }
                    return hook
                })
            {
                fire()
            }
        }
    }

    @Test func an_alarm_during_a_relay_pulse_keeps_the_relay_energised_past_the_pulse() async throws {
        let outputs = Mutex<LaneOutputs?>(nil)
        let timekeeper = HookedTimekeeper(at: .milliseconds(150)) { try? outputs.withLock { $0 }?.holdOpen(true) }
        let (lane, timeline) = makeOutputs(timekeeper.clock)
        outputs.withLock { $0 = lane }
        // A valid ticket's pattern: the relay pulses 300 ms under green; the panel signals 150 ms in.
        try await SignalPlayer(outputs: lane, timekeeper: timekeeper).play(
            SignalPattern(.granted, relayPulse: .milliseconds(300), greenTime: .seconds(2), redTime: .seconds(2))
        )
        #expect(timeline.on("relay").map(\.value) == [true], "the pulse's end and the pattern's rest do not shut the lane")
        #expect(timeline.on("red").last?.value == true && timeline.on("green").last?.value == true, "the alarm's lights")
        try lane.holdOpen(false)
        #expect(timeline.on("relay").map(\.value) == [true, false])
    }

    @Test func the_lane_opens_on_the_edge_takes_no_scans_and_closes_after_the_clear_time() async throws {
        let clock = SystemTimekeeper()
        let virtual = VirtualTimekeeper()
        let (outputs, timeline) = makeOutputs(virtual)
        let logs = LogRecorder()
        let health = KioskHealth()
        let input = ScriptedInput()
        let alarm = FireAlarm(
            input: input,
            clearAfter: .milliseconds(400),
            outputs: outputs,
            health: health,
            timekeeper: clock,
            gateID: "north-1",
            logger: logs.logger
        )
        let client = ScriptedClient(timekeeper: virtual) { _ in answer(.valid) }
        let kiosk = Kiosk(
            client: client,
            player: SignalPlayer(outputs: outputs, timekeeper: virtual),
            timing: .init(relayPulse: .milliseconds(300), greenTime: .seconds(2), redTime: .seconds(2), cooldown: .seconds(8)),
            gateID: "north-1",
            health: health,
            logger: logs.logger,
            alarm: alarm
        )
        let watching = Task { await alarm.run() }
        defer { watching.cancel() }
        input.send(.clear)
        input.send(.asserted)
        try await waitFor { alarm.isActive }
        #expect(timeline.on("relay").last?.value == true)
        #expect(health.statusLine.hasPrefix("FIRE ALARM, lane held open"))
        let raised = logs.all.first { $0.message.hasPrefix("Fire alarm:") }
        #expect(raised?.level == .critical && raised?.metadata["alarm"] == "active" && raised?.metadata["syslog.priority"] == "1")
        // Scans during the alarm: no check-in, no ticket burned.
        var lane = Lane(cooldown: .seconds(8))
        await kiosk.handle(ScanEvent(payloads: [Array(ticketCode().utf8)], frameAt: virtual.now()), lane: &lane)
        #expect(client.calls.withLock { $0.isEmpty })
        // Clear, flicker, clear: closed only once the input has been clear for the whole time.
        input.send(.clear)
        try await Task.sleep(for: .milliseconds(60))
        input.send(.asserted)
        input.send(.clear)
        try await Task.sleep(for: .milliseconds(100))
        #expect(alarm.isActive, "the flicker restarted the clear time")
        try await waitFor { !alarm.isActive }
        #expect(timeline.on("relay").last?.value == false)
        #expect(!health.statusLine.contains("FIRE ALARM"))
        // Back in service: the next scan is decided.
        await kiosk.handle(ScanEvent(payloads: [Array(ticketCode().utf8)], frameAt: virtual.now()), lane: &lane)
        #expect(client.calls.withLock { $0.count } == 1)
    }

    @Test func the_alarm_keys_are_checked() throws {
        let base = "server_url = http://checkin.local\ndevice_id = D1\ngate_id = north-1\n"
        let set = try KioskConfiguration.resolve(
            file: try KioskConfiguration.parseFile(base + "alarm = NC\nalarm_line = 5\nalarm_clear_ms = 2000\n", source: "f"),
            environment: [:],
            overrides: [:]
        )
        #expect(set.alarm == .nc && set.alarmLine.offset == 5 && set.alarmClear == .seconds(2) && set.inputDebounce == .milliseconds(20))
        #expect(AlarmWiring.nc.level(contactClosed: true) == .clear && AlarmWiring.nc.level(contactClosed: false) == .asserted)
        #expect(AlarmWiring.no.level(contactClosed: true) == .asserted)
        #expect {
            _ = try KioskConfiguration.resolve(
                file: try KioskConfiguration.parseFile(base + "alarm = maybe\n", source: "f"),
                environment: [:],
                overrides: [:]
            )
        } throws: { "\($0)".contains("none or nc or no") }
    }

    private func waitFor(_ condition: () -> Bool) async throws {
        for _ in 0..<200 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition())
    }
}
