import Foundation
import GatehouseCore

/// A scan decided by `GateDecision` for a store: the answer, and the row the store writes in
/// the same transaction when the scan changes the ticket.
public struct StoredDecision: Sendable, Equatable {
    public var decision: CheckinDecision
    /// The ticket as this scan leaves it; nil when nothing is to be written (a refusal, a
    /// validate-mode scan, an exit of someone not inside).
    public var write: Ticket?

    /// `ticket`: the row the code's token found (any event), as the store read it.
    public init(_ attempt: CheckinAttempt, ticket: Ticket?, deviceEvent: String, rules: GateRules = GateRules(), inside: Int = 0) {
        guard let code = attempt.code else {
            self.init(decision: CheckinDecision(result: .invalid, replayed: false), write: nil)
            return
        }
        let scan = GateScan(
            deviceEvent: deviceEvent,
            codeEvent: code.eventId,
            gate: attempt.gateId,
            direction: attempt.direction,
            at: attempt.at.millis
        )
        let verdict = GateDecision.decide(ticket: ticket?.facts, scan: scan, rules: rules, inside: inside)
        guard let ticket, verdict.result != .notFound else {
            self.init(decision: CheckinDecision(result: verdict.result, replayed: false), write: nil)
            return
        }
        var after = ticket
        var write: Ticket?
        if let changed = verdict.changed, attempt.mode == .commit {
            after.status = changed.status
            after.usedAt = changed.usedAt.map(Date.init(millis:))
            after.usedGate = changed.usedGate
            after.inside = changed.inside
            if ticket.status == .unused, changed.status == .used { after.usedDevice = attempt.deviceId }
            write = after
        }
        self.init(
            decision: CheckinDecision(
                result: verdict.result,
                ticket: after.summary,
                firstUsedAt: after.usedAt,
                firstUsedGate: after.usedGate,
                replayed: false
            ),
            write: write
        )
    }

    public init(decision: CheckinDecision, write: Ticket?) {
        self.decision = decision
        self.write = write
    }
}

extension Ticket {
    /// What the gate decision reads of this ticket.
    public var facts: TicketFacts {
        TicketFacts(
            eventId: eventId,
            ticketType: ticketType,
            status: status,
            expiresAt: expiresAt?.millis,
            usedAt: usedAt?.millis,
            usedGate: usedGate,
            inside: inside
        )
    }
}
