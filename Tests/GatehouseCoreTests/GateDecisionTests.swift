import GatehouseCore
import Testing

/// The decision every store and the offline gates share, on its own: scan sequences under each
/// kind of rule, the order of refusals, and what an admission makes of a ticket.
@Suite struct GateDecisionTests {
    /// One step of a sequence: the scan and the result expected of it.
    struct Step: CustomStringConvertible {
        var direction: ScanDirection = .entry
        var at: Int64 = 1_000
        var day: Int? = nil
        var expect: CheckinResult

        var description: String { "\(direction)@\(at)→\(expect.rawValue)" }
    }

    /// Runs `steps` on one ticket, carrying its state and the list's inside count from step to
    /// step, as a store does; returns the results.
    static func run(_ steps: [Step], ticket start: TicketFacts, rules: GateRules, inside: Int = 0) -> [CheckinResult] {
        var ticket = start
        var inside = inside
        return steps.map { step in
            let scan = GateScan(deviceEvent: "E1", codeEvent: "E1", gate: "north", direction: step.direction, at: step.at, day: step.day)
            let verdict = GateDecision.decide(ticket: ticket, scan: scan, rules: rules, inside: inside)
            if let changed = verdict.changed { ticket = changed }
            inside += verdict.insideChange
            return verdict.result
        }
    }

    static let fresh = TicketFacts(eventId: "E1", ticketType: "standard", status: .unused)

    @Test func once_admits_once_and_exits_do_not_give_a_second_entry() {
        let steps = [Step(expect: .valid), Step(expect: .alreadyUsed), Step(direction: .exit, expect: .exit), Step(expect: .alreadyUsed)]
        #expect(Self.run(steps, ticket: Self.fresh, rules: GateRules()) == steps.map(\.expect))
    }

    @Test func reentry_needs_an_exit_between_entries() {
        let steps = [
            Step(expect: .valid), Step(expect: .alreadyInside), Step(direction: .exit, expect: .exit),
            Step(direction: .exit, expect: .exit), Step(expect: .valid), Step(expect: .alreadyInside),
        ]
        #expect(Self.run(steps, ticket: Self.fresh, rules: GateRules(entry: .reentry)) == steps.map(\.expect))
    }

    @Test func unlimited_admits_every_time_and_counts_a_person_once() {
        var ticket = Self.fresh
        var inside = 0
        for _ in 0..<3 {
            let verdict = GateDecision.decide(
                ticket: ticket,
                scan: GateScan(deviceEvent: "E1", codeEvent: "E1", gate: "north", at: 5),
                rules: GateRules(entry: .unlimited, capacity: 1),
                inside: inside
            )
            #expect(verdict.result == .valid)
            ticket = verdict.changed ?? ticket
            inside += verdict.insideChange
        }
        #expect(inside == 1)
        #expect(ticket.usedAt == 5 && ticket.usedGate == "north")
    }

    @Test func daily_admits_once_per_day() {
        let steps = [
            Step(day: 1, expect: .valid), Step(direction: .exit, day: 1, expect: .exit), Step(day: 1, expect: .alreadyUsed),
            Step(at: 90_000_000, day: 2, expect: .valid),
        ]
        #expect(Self.run(steps, ticket: Self.fresh, rules: GateRules(entry: .daily)) == steps.map(\.expect))
    }

    @Test func the_window_and_the_ticket_types_of_a_list() {
        let rules = GateRules(ticketTypes: ["vip"], opensAt: 100, closesAt: 200)
        let vip = TicketFacts(eventId: "E1", ticketType: "vip", status: .unused)
        #expect(Self.run([Step(at: 99, expect: .notOpen)], ticket: vip, rules: rules) == [.notOpen])
        #expect(Self.run([Step(at: 200, expect: .closed)], ticket: vip, rules: rules) == [.closed])
        #expect(Self.run([Step(at: 100, expect: .valid)], ticket: vip, rules: rules) == [.valid])
        #expect(Self.run([Step(at: 150, expect: .notOnList)], ticket: Self.fresh, rules: rules) == [.notOnList])
        let untyped = TicketFacts(eventId: "E1", status: .unused)
        #expect(Self.run([Step(at: 150, expect: .notOnList)], ticket: untyped, rules: rules) == [.notOnList])
    }

    @Test func capacity_counts_people_inside_and_an_exit_frees_a_place() {
        let rules = GateRules(entry: .reentry, capacity: 1)
        let full = GateDecision.decide(
            ticket: Self.fresh,
            scan: GateScan(deviceEvent: "E1", codeEvent: "E1", gate: "g", at: 1),
            rules: rules,
            inside: 1
        )
        #expect(full == GateVerdict(result: .full))
        let steps = [Step(expect: .valid), Step(direction: .exit, expect: .exit), Step(expect: .valid)]
        #expect(Self.run(steps, ticket: Self.fresh, rules: rules) == steps.map(\.expect))
    }

    /// The order: not_found, wrong_event, revoked, expired, not_on_list, not_open/closed,
    /// already_used/already_inside, full. Each row makes every later refusal apply too.
    @Test func the_first_refusal_in_the_documented_order_wins() {
        let rules = GateRules(ticketTypes: ["vip"], entry: .once, capacity: 0, opensAt: 10_000)
        var ticket = TicketFacts(eventId: "E1", ticketType: "standard", status: .revoked, expiresAt: 500, usedAt: 1, usedGate: "x", inside: false)
        func decide(device: String = "E1", code: String = "E1", _ ticket: TicketFacts?) -> CheckinResult {
            GateDecision.decide(ticket: ticket, scan: GateScan(deviceEvent: device, codeEvent: code, gate: "g", at: 1_000), rules: rules).result
        }
        #expect(decide(code: "E2", ticket) == .notFound)
        #expect(decide(nil) == .notFound)
        #expect(decide(device: "E2", ticket) == .wrongEvent)
        #expect(decide(ticket) == .revoked)
        ticket.status = .used
        #expect(decide(ticket) == .expired)
        ticket.expiresAt = nil
        #expect(decide(ticket) == .notOnList)
        ticket.ticketType = "vip"
        #expect(decide(ticket) == .notOpen)
        var open = rules
        open.opensAt = nil
        #expect(
            GateDecision.decide(ticket: ticket, scan: GateScan(deviceEvent: "E1", codeEvent: "E1", gate: "g", at: 1_000), rules: open).result
                == .alreadyUsed
        )
        ticket.status = .unused
        #expect(
            GateDecision.decide(ticket: ticket, scan: GateScan(deviceEvent: "E1", codeEvent: "E1", gate: "g", at: 1_000), rules: open).result == .full
        )
    }

    @Test func an_admission_records_the_first_use_and_later_entries_keep_it() {
        let first = GateDecision.decide(
            ticket: Self.fresh,
            scan: GateScan(deviceEvent: "E1", codeEvent: "E1", gate: "north", at: 7),
            rules: GateRules(entry: .reentry)
        )
        #expect(first.result == .valid && first.insideChange == 1)
        #expect(first.changed == TicketFacts(eventId: "E1", ticketType: "standard", status: .used, usedAt: 7, usedGate: "north", inside: true))
        var out = first.changed!
        out.inside = false
        let again = GateDecision.decide(
            ticket: out,
            scan: GateScan(deviceEvent: "E1", codeEvent: "E1", gate: "south", at: 9),
            rules: GateRules(entry: .reentry)
        )
        #expect(again.changed?.usedAt == 7 && again.changed?.usedGate == "north" && again.changed?.inside == true)
    }

    @Test func refusals_and_exits_of_people_outside_change_nothing() {
        let revoked = TicketFacts(eventId: "E1", status: .revoked)
        #expect(GateDecision.decide(ticket: revoked, scan: GateScan(deviceEvent: "E1", codeEvent: "E1", gate: "g", at: 1)).changed == nil)
        let exit = GateDecision.decide(ticket: Self.fresh, scan: GateScan(deviceEvent: "E1", codeEvent: "E1", gate: "g", direction: .exit, at: 1))
        #expect(exit == GateVerdict(result: .exit))
        let wrong = GateDecision.decide(ticket: Self.fresh, scan: GateScan(deviceEvent: "E2", codeEvent: "E1", gate: "g", direction: .exit, at: 1))
        #expect(wrong.result == .wrongEvent)
    }

    @Test func exit_is_ok_and_refusals_are_not() {
        #expect(CheckinAnswer(result: .exit, message: "").ok)
        #expect(!CheckinResult.exit.admits)
        for refusal in CheckinResult.allCases where refusal != .valid && refusal != .exit {
            #expect(!CheckinAnswer(result: refusal, message: "").ok)
        }
    }
}
