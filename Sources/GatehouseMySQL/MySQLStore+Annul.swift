import Foundation
import GatehouseCore
import GatehouseStorage

/// Taking back a check-in, in the writer's transaction: the list's row, the ticket and its pass
/// locked in the order a check-in locks them, then the scan's row read again under a lock, so an
/// annul and a scan of the same ticket, or two annuls, take turns.
extension MySQLStore {
    public func annul(scanId: String, device: DeviceOnDuty, at: Date) async throws -> Result<AnnulAnswer, AnnulRefusal> {
        try await write { db in
            guard let first = try db.firstRow(Annulment.scanRow, [.text(device.id), .text(scanId)], Annulment.loggedScan) else {
                let elsewhere = try db.firstRow(Annulment.scanElsewhere, [.text(device.event), .text(scanId)]) { $0.int(0) } != nil
                return .failure(elsewhere ? .otherDevice : .unknownScan)
            }
            if let list = first.undo?.listId { _ = try db.firstRow(Self.lockedList, [.text(list)]) { $0.text(0) } }
            let ticket = try first.ticketId.flatMap { id in
                try db.firstRow(StoreRecords.ticketColumns + " WHERE id = ? FOR UPDATE", [.text(id)], StoreRecords.ticket)
            }
            let pass = try first.undo?.listId.flatMap { list in
                try ticket.flatMap { ticket in
                    try db.firstRow(ListStatements.pass + " FOR UPDATE", [.text(list), .text(ticket.id)]) {
                        ListStatements.pass($0, list: list, ticket: ticket.id)
                    }
                }
            }
            let row = try db.firstRow(Annulment.scanRow + " FOR UPDATE", [.text(device.id), .text(scanId)], Annulment.loggedScan) ?? first
            switch Annulment.plan(row, now: at.millis, ticket: ticket, pass: pass) {
            case .failure(let refusal):
                return .failure(refusal)
            case .success(nil):
                return .success(AnnulAnswer(scanId: scanId, ticket: ticket?.summary, again: true))
            case .success(let plan?):
                try db.run(Self.update, Self.values(plan.ticket))
                db.changed(ticket: plan.ticket.id)
                if let statement = Annulment.restorePass(plan) { try db.run(statement) }
                if let list = plan.listId, plan.countChange != 0 { try db.run(ListStatements.countInside(listId: list, change: plan.countChange)) }
                try db.run(Annulment.markAnnulled(row, plan))
                try db.run(Annulment.log(row, at: at.millis))
                db.logged(eventId: row.eventId)
                return .success(AnnulAnswer(scanId: scanId, ticket: plan.ticket.summary, again: false))
            }
        }
    }
}
