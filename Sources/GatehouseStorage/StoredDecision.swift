import Foundation
import GatehouseCore

/// A scan decided by `GateDecision` for a store: the answer, and what the store writes in the
/// same transaction when the scan changes something.
public struct StoredDecision: Sendable, Equatable {
    public var decision: CheckinDecision
    /// The ticket as this scan leaves it; nil when the ticket row stays as it was (a refusal, a
    /// validate-mode scan, an exit of someone not inside). Written whenever its pass changes.
    public var write: Ticket?
    /// On a list's gate: the ticket's pass of that list as this scan leaves it, or nil.
    public var pass: ListPass?
    /// On a list's gate: +1 or -1 to the list's count of people inside.
    public var insideChange: Int
    /// What this scan changes, for its log row: an annul puts it back.
    public var undo: ScanUndo?

    /// `ticket`: the row the code's token found (any event), as the store read it. `list`: the
    /// list of the scanning device's gate, if it has one, and `pass` the ticket's pass of it.
    public init(
        _ attempt: CheckinAttempt,
        ticket: Ticket?,
        deviceEvent: String,
        list: GateList? = nil,
        pass: ListPass? = nil
    ) {
        guard let code = attempt.code else {
            self.init(decision: CheckinDecision(result: .invalid, replayed: false))
            return
        }
        let scan = GateScan(
            deviceEvent: deviceEvent,
            codeEvent: code.eventId,
            gate: attempt.gateId,
            direction: attempt.direction,
            at: attempt.at.millis,
            day: attempt.day
        )
        let facts = ticket.map { ticket in list == nil ? ticket.facts : ticket.facts(on: pass) }
        let verdict = GateDecision.decide(ticket: facts, scan: scan, rules: list?.rules ?? GateRules(), inside: list?.inside ?? 0)
        guard let ticket, verdict.result != .notFound else {
            self.init(decision: CheckinDecision(result: verdict.result, replayed: false))
            return
        }
        let commit = attempt.mode == .commit
        var after = ticket
        var write: Ticket?
        var passAfter: ListPass?
        var insideChange = 0
        if let changed = verdict.changed, commit {
            if let list {
                passAfter = ListPass(
                    listId: list.id,
                    ticketId: ticket.id,
                    usedAt: changed.usedAt ?? attempt.at.millis,
                    usedGate: changed.usedGate ?? attempt.gateId,
                    inside: changed.inside,
                    lastEntryDay: changed.lastEntryDay
                )
                insideChange = verdict.insideChange
            } else {
                after.inside = changed.inside
            }
            // The ticket's own use is its first admission anywhere.
            if ticket.status == .unused, verdict.result == .valid {
                after.status = .used
                // As the stores keep it, to the millisecond: a retry's answer reads it back.
                after.usedAt = Date(millis: attempt.at.millis)
                after.usedGate = attempt.gateId
                after.usedDevice = attempt.deviceId
            }
            // A changed pass rewrites its ticket too: that puts the ticket in the change feed,
            // and a list's gate learns the pass from its snapshot.
            if after != ticket || passAfter != nil { write = after }
        }
        // "Already used at …" names the use this gate's rules counted: the list's first entry.
        let shown = passAfter ?? pass
        let usedAt = list == nil ? after.usedAt : shown.map { Date(millis: $0.usedAt) }
        let usedGate = list == nil ? after.usedGate : shown?.usedGate
        let undo =
            write == nil && passAfter == nil
            ? nil
            : ScanUndo(
                ticketBefore: .init(ticket),
                ticketAfter: .init(write ?? ticket),
                listId: list?.id,
                passBefore: pass.map(ScanUndo.PassState.init),
                passAfter: passAfter.map(ScanUndo.PassState.init),
                insideChange: insideChange
            )
        self.init(
            decision: CheckinDecision(result: verdict.result, ticket: after.summary, firstUsedAt: usedAt, firstUsedGate: usedGate, replayed: false),
            write: write,
            pass: passAfter,
            insideChange: insideChange,
            undo: undo
        )
    }

    public init(decision: CheckinDecision, write: Ticket? = nil, pass: ListPass? = nil, insideChange: Int = 0, undo: ScanUndo? = nil) {
        self.decision = decision
        self.write = write
        self.pass = pass
        self.insideChange = insideChange
        self.undo = undo
    }
}

extension Ticket {
    /// What the gate decision reads of this ticket at a gate in no list.
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

    /// What the gate decision reads of this ticket at a list's gate: revoked and expired are the
    /// ticket's own, used and inside are its pass of that list.
    public func facts(on pass: ListPass?) -> TicketFacts {
        TicketFacts(
            eventId: eventId,
            ticketType: ticketType,
            status: status == .revoked ? .revoked : pass == nil ? .unused : .used,
            expiresAt: expiresAt?.millis,
            usedAt: pass?.usedAt,
            usedGate: pass?.usedGate,
            inside: pass?.inside ?? false,
            lastEntryDay: pass?.lastEntryDay
        )
    }
}
