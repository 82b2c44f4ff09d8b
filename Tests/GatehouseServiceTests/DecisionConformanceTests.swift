import Foundation
import GatehouseCore
import GatehouseStorage
import Testing

@testable import GatehouseDomain

/// Every store decides as `GateDecision` does: random sequences of entries, exits, validations,
/// revokes, re-issues, the clock passing expiry and foreign codes, run against each store and against the
/// shared function on a model of the tickets, must give the same result at every step.
@Suite struct DecisionConformanceTests {
    /// SplitMix64: the same sequence for a seed on every store and every run.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A ticket as the model keeps it: its current code, the codes it had before, its facts.
    struct Modelled {
        var id: String
        var code: String
        var retired: [String] = []
        var facts: TicketFacts
    }

    @Test(arguments: StoreKind.available, [1, 2, 3])
    func random_sequences_decide_as_the_shared_function(_ kind: StoreKind, seed: UInt64) async throws {
        let f = try await Fixture(kind)
        var random = SeededGenerator(state: seed)
        var tickets: [Modelled] = []
        for (type, expiresIn) in [("standard", nil), ("vip", 40.0), (nil, nil), ("standard", 15.0)] as [(String?, Double?)] {
            let issued = try await f.issue(.init(ticketType: type, expiresAt: expiresIn.map { f.clock.now.addingTimeInterval($0) }))
            tickets.append(Modelled(id: issued.ticket.id, code: issued.qrData, facts: issued.ticket.facts))
        }
        let other = try await f.gatehouse.createEvent(name: "Elsewhere", startsAt: nil, endsAt: nil)
        let foreign = try await f.issue(event: other)

        for step in 0..<80 {
            let k = Int.random(in: 0..<tickets.count, using: &random)
            let roll = Int.random(in: 0..<100, using: &random)
            let now = f.clock.now.millis
            func expected(_ ticket: TicketFacts?, codeEvent: String, direction: ScanDirection = .entry) -> GateVerdict {
                GateDecision.decide(
                    ticket: ticket,
                    scan: GateScan(deviceEvent: f.event.id, codeEvent: codeEvent, gate: "north-1", direction: direction, at: now)
                )
            }
            switch roll {
            case 0..<15:
                let answer = try await f.checkin(tickets[k].code, scanId: "s\(step)", direction: .exit)
                let verdict = expected(tickets[k].facts, codeEvent: f.event.id, direction: .exit)
                #expect(answer.result == verdict.result && answer.ok == verdict.result.passes, "step \(step): exit of ticket \(k)")
                if let changed = verdict.changed { tickets[k].facts = changed }
            case 15..<50:
                let answer = try await f.checkin(tickets[k].code, scanId: "s\(step)")
                let verdict = expected(tickets[k].facts, codeEvent: f.event.id)
                #expect(answer.result == verdict.result, "step \(step): commit scan of ticket \(k)")
                if let changed = verdict.changed { tickets[k].facts = changed }
            case 50..<60:
                let answer = try await f.checkin(tickets[k].code, mode: .validate)
                #expect(answer.result == expected(tickets[k].facts, codeEvent: f.event.id).result, "step \(step): validation of ticket \(k)")
            case 60..<65:
                tickets[k].facts = try await f.gatehouse.revokeTicket(id: tickets[k].id).facts
            case 65..<72:
                let reissued = try await f.gatehouse.reissueTicket(id: tickets[k].id)
                tickets[k].retired.append(tickets[k].code)
                tickets[k].code = reissued.qrData
                tickets[k].facts = reissued.ticket.facts
            case 72..<80:
                guard let old = tickets[k].retired.last else { continue }
                let answer = try await f.checkin(old, scanId: "s\(step)")
                #expect(answer.result == expected(nil, codeEvent: f.event.id).result, "step \(step): a retired code of ticket \(k)")
            case 80..<85:
                #expect(try await f.checkin(foreign.qrData).result == expected(foreign.ticket.facts, codeEvent: other.id).result)
            case 85..<90:
                #expect(try await f.checkin("not a ticket \(step)").result == .invalid)
            default:
                f.clock.advance(10)
            }
        }
        // What the store kept is what the model expects, and the count of people inside.
        for ticket in tickets {
            let stored = try await f.gatehouse.ticket(id: ticket.id)
            #expect(stored.facts == ticket.facts)
        }
        #expect(try await f.gatehouse.presence(eventId: f.event.id).inside == tickets.filter(\.facts.inside).count)
        await f.stop()
    }
}
