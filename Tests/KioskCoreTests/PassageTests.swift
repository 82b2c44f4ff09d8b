import GatehouseCore
import Logging
import Synchronization
import Testing

@testable import KioskCore

/// A turnstile whose passage the test scripts: it turns `after` the relay opened, or never.
struct ScriptedPassage: PassageConfirmation {
    let timekeeper: VirtualTimekeeper
    let after: Duration?

    func expectPassage() -> PassageExpectation { PassageExpectation(passagesBefore: 0) }

    func waitForPassage(_ expectation: PassageExpectation, timeout: Duration) async -> Bool {
        guard let after, after <= timeout else {
            try? await timekeeper.sleep(for: timeout)
            return false
        }
        try? await timekeeper.sleep(for: after)
        return true
    }
}

/// The ledger's calls, in order.
final class RecordingLedger: PassageLedger {
    let calls = Mutex<[String]>([])
    func expect(scanId: String, offline: Bool, code: [UInt8], direction: ScanDirection) throws {
        calls.withLock { $0.append("expect \(offline ? "offline" : "online")") }
    }
    func passed(scanId: String) throws { calls.withLock { $0.append("passed") } }
    func takeBack(scanId: String) throws -> String {
        calls.withLock { $0.append("take back") }
        return "annul queued for the service"
    }
}

@Suite struct PassageTests {
    struct Setup {
        let clock = VirtualTimekeeper()
        let outputs: LaneOutputs
        let timeline: Timeline
        let logs = LogRecorder()
        let ledger = RecordingLedger()
        let client: ScriptedClient
        let kiosk: Kiosk

        init(passageAfter: Duration?, relayMode: RelayMode = .pulse) {
            (outputs, timeline) = makeOutputs(clock)
            client = ScriptedClient(timekeeper: clock) { _ in answer(.valid) }
            kiosk = Kiosk(
                client: client,
                player: SignalPlayer(outputs: outputs, timekeeper: clock),
                timing: .init(relayPulse: .milliseconds(300), greenTime: .seconds(2), redTime: .milliseconds(2500), cooldown: .seconds(8)),
                gateID: "north-1",
                health: KioskHealth(),
                logger: logs.logger,
                passage: Kiosk.Passage(
                    confirmation: ScriptedPassage(timekeeper: clock, after: passageAfter),
                    ledger: ledger,
                    timeout: .seconds(5),
                    relayMode: relayMode
                )
            )
        }

        func scan(_ code: String, lane: inout Lane) async {
            await kiosk.handle(ScanEvent(payloads: [Array(code.utf8)], frameAt: clock.now()), lane: &lane)
        }
    }

    @Test func a_passage_within_the_timeout_completes_the_admission() async {
        let setup = Setup(passageAfter: .milliseconds(1800))
        var lane = Lane(cooldown: .seconds(8))
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.ledger.calls.withLock { $0 } == ["expect online", "passed"])
        // The relay pulses; green shows until the turnstile has turned.
        #expect(setup.timeline.pulses("relay").map(\.length) == [300])
        #expect(setup.timeline.pulses("green").map(\.length) == [2100])
        #expect(setup.logs.all.contains { $0.message == "Passage confirmed" && $0.metadata["passage"] == "confirmed" })
    }

    @Test func no_passage_takes_the_admission_back_and_the_guest_may_scan_again() async {
        let setup = Setup(passageAfter: nil)
        var lane = Lane(cooldown: .seconds(8))
        let code = ticketCode()
        await setup.scan(code, lane: &lane)
        #expect(setup.ledger.calls.withLock { $0 } == ["expect online", "take back"])
        #expect(setup.timeline.pulses("green").map(\.length) == [5000], "open for the whole timeout")
        #expect(setup.logs.all.contains { $0.metadata["passage"] == "timeout" })
        // At once, not after the cooldown: the turnstile did not turn for them.
        await setup.scan(code, lane: &lane)
        #expect(setup.client.calls.withLock { $0.count } == 2)
    }

    @Test func a_held_relay_stays_energised_until_the_passage() async {
        let setup = Setup(passageAfter: .milliseconds(1200), relayMode: .hold)
        var lane = Lane(cooldown: .seconds(8))
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.timeline.pulses("relay").map(\.length) == [1200])
    }

    @Test func the_sensor_counts_edges_and_logs_a_passage_without_an_admission() async throws {
        let input = ScriptedInput()
        let logs = LogRecorder()
        let sensor = PassageSensor(input: input, timekeeper: SystemTimekeeper(), gateID: "north-1", logger: logs.logger)
        let watching = Task { await sensor.run() }
        defer { watching.cancel() }
        // Asserted at start is a level, not a passage.
        input.send(.asserted)
        input.send(.clear)
        input.send(.asserted)
        input.send(.clear)
        for _ in 0..<100 where !logs.all.contains(where: { $0.metadata["passage"] == "unexpected" }) { try await Task.sleep(for: .milliseconds(10)) }
        #expect(logs.all.filter { $0.metadata["passage"] == "unexpected" }.count == 1, "tailgating is logged")
        // A passage during the relay's pulse, before anyone waits, counts for the admission.
        let expectation = sensor.expectPassage()
        input.send(.clear)
        input.send(.asserted)
        try await Task.sleep(for: .milliseconds(50))
        #expect(await sensor.waitForPassage(expectation, timeout: .seconds(3)))
        #expect(await sensor.waitForPassage(sensor.expectPassage(), timeout: .milliseconds(100)) == false)
        #expect(logs.all.filter { $0.metadata["passage"] == "unexpected" }.count == 1)
    }
}
