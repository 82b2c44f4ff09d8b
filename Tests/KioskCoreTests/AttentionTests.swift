import GatehouseCore
import Logging
import Synchronization
import Testing

@testable import KioskCore

/// Tickets the gate's list asks staff to look at, on virtual time: amber and shut until the
/// staff button, then the admission goes on; no press, or no button, takes it back.
@Suite struct AttentionTests {
    struct Setup {
        let clock = VirtualTimekeeper()
        let outputs: LaneOutputs
        let timeline: Timeline
        let logs = LogRecorder()
        let ledger = RecordingLedger()
        let client: ScriptedClient
        let kiosk: Kiosk

        /// `pressAfter`: when staff press the button after the amber shows (nil: never);
        /// `button`: whether one is wired; `passageAfter`: with a passage sensor, when the arm turns.
        init(pressAfter: Duration?, button: Bool = true, passageAfter: Duration?? = .none, attention: Bool = true) {
            let clock = clock
            let ledger = ledger
            (outputs, timeline) = makeOutputs(clock)
            client = ScriptedClient(timekeeper: clock) { _ in
                guard case .answered(var granted) = answer(.valid) else { return answer(.valid) }
                granted.attention = attention ? true : nil
                return .answered(granted)
            }
            let passage = passageAfter.map {
                Kiosk.Passage(confirmation: ScriptedPassage(timekeeper: clock, after: $0), ledger: ledger, timeout: .seconds(5), relayMode: .pulse)
            }
            kiosk = Kiosk(
                client: client,
                player: SignalPlayer(outputs: outputs, timekeeper: clock),
                timing: .init(relayPulse: .milliseconds(300), greenTime: .seconds(2), redTime: .seconds(2), cooldown: .seconds(8)),
                gateID: "kids-1",
                health: KioskHealth(),
                logger: logs.logger,
                passage: passage,
                attention: Kiosk.Attention(
                    button: button ? ScriptedPassage(timekeeper: clock, after: pressAfter) : nil,
                    ledger: ledger,
                    timeout: .seconds(20)
                )
            )
        }

        func scan(_ code: String, lane: inout Lane) async {
            await kiosk.handle(ScanEvent(payloads: [Array(code.utf8)], frameAt: clock.now()), lane: &lane)
        }

        /// When each line went on and off, in ms from the start.
        func on(_ line: String) -> [(start: Int64, length: Int64)] { timeline.pulses(line) }
    }

    @Test func the_lane_stays_shut_under_amber_until_staff_press_the_button() async {
        let setup = Setup(pressAfter: .seconds(4))
        var lane = Lane(cooldown: .seconds(8))
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.ledger.calls.withLock { $0 } == ["expect online", "passed"], "journaled before the wait, then it stands")
        // Amber (red and green together) for the 4 s staff took, then the green and the relay.
        let red = setup.on("red")
        let relay = setup.on("relay")
        #expect(red.count == 1 && red[0].length == 4000)
        #expect(relay.count == 1 && relay[0].length == 300)
        #expect(relay[0].start >= red[0].start + red[0].length, "nothing opens before the press")
        #expect(setup.logs.all.contains { $0.metadata["attention"] == "waiting" })
        #expect(setup.logs.all.contains { $0.metadata["attention"] == "confirmed" && $0.metadata["attention.after_ms"] == "4000" })
    }

    @Test func no_press_within_the_timeout_takes_the_admission_back() async {
        let setup = Setup(pressAfter: nil)
        var lane = Lane(cooldown: .seconds(8))
        let code = ticketCode()
        await setup.scan(code, lane: &lane)
        #expect(setup.ledger.calls.withLock { $0 } == ["expect online", "take back"])
        #expect(setup.on("relay").isEmpty)
        #expect(setup.on("red").map(\.length) == [20_000], "amber for the whole timeout")
        #expect(setup.logs.all.contains { $0.metadata["attention"] == "timeout" })
        // The holder may be scanned again at once (staff may have stepped away).
        await setup.scan(code, lane: &lane)
        #expect(setup.client.calls.withLock { $0.count } == 2)
    }

    @Test func without_a_button_the_ticket_is_taken_back_at_once_under_amber() async {
        let setup = Setup(pressAfter: .seconds(1), button: false)
        var lane = Lane(cooldown: .seconds(8))
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.ledger.calls.withLock { $0 } == ["expect online", "take back"])
        #expect(setup.on("relay").isEmpty)
        #expect(setup.logs.all.contains { $0.metadata["attention"] == "no_button" && $0.level == .warning })
    }

    @Test func pressed_at_a_lane_with_a_passage_sensor_the_passage_completes_it() async {
        let setup = Setup(pressAfter: .seconds(2), passageAfter: .some(.milliseconds(1500)))
        var lane = Lane(cooldown: .seconds(8))
        await setup.scan(ticketCode(), lane: &lane)
        // One intent: journaled once before the wait, confirmed by the arm.
        #expect(setup.ledger.calls.withLock { $0 } == ["expect online", "passed"])
        #expect(setup.on("relay").count == 1)
        #expect(setup.logs.all.contains { $0.message == "Passage confirmed" })
    }

    @Test func a_ticket_without_the_flag_passes_as_before() async {
        let setup = Setup(pressAfter: nil, attention: false)
        var lane = Lane(cooldown: .seconds(8))
        await setup.scan(ticketCode(), lane: &lane)
        #expect(setup.ledger.calls.withLock { $0 }.isEmpty)
        #expect(setup.on("relay").count == 1 && setup.on("red").isEmpty)
    }
}
