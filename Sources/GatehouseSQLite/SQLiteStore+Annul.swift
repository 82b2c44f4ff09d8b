import Foundation
import GatehouseCore
import GatehouseStorage
import SQLiteSupport

/// Taking back a check-in: the one writer holds the file, so the scan's row, its ticket and its
/// pass are read and put back without another writer between.
extension SQLiteStore {
    public func annul(scanId: String, device: DeviceOnDuty, at: Date) async throws -> Result<AnnulAnswer, AnnulRefusal> {
        try await writer.perform { db in
            guard let row = try db.firstRow(Annulment.scanRow, [.text(device.id), .text(scanId)], Annulment.loggedScan) else {
                let elsewhere = try db.firstRow(Annulment.scanElsewhere, [.text(device.event), .text(scanId)]) { $0.int(0) } != nil
                return .failure(elsewhere ? .otherDevice : .unknownScan)
            }
            let ticket = try row.ticketId.flatMap { id in
                try db.firstRow(StoreRecords.ticketColumns + " WHERE id = ?", [.text(id)], StoreRecords.ticket)
            }
            let pass = try row.undo?.listId.flatMap { list in
                try ticket.flatMap { ticket in
                    try db.firstRow(ListStatements.pass, [.text(list), .text(ticket.id)]) { ListStatements.pass($0, list: list, ticket: ticket.id) }
                }
            }
            switch Annulment.plan(row, now: at.millis, ticket: ticket, pass: pass) {
            case .failure(let refusal):
                return .failure(refusal)
            case .success(nil):
                return .success(AnnulAnswer(scanId: scanId, ticket: ticket?.summary, again: true))
            case .success(let plan?):
                let restored = plan.ticket
                try db.run(
                    "UPDATE tickets SET status = ?, used_at = ?, used_gate = ?, used_device = ?, inside = ?, change_seq = \(Self.nextChange) WHERE id = ?",
                    [
                        .text(restored.status.rawValue), restored.usedAt.map { .integer($0.millis) } ?? .null,
                        restored.usedGate.map { .text($0) } ?? .null, restored.usedDevice.map { .text($0) } ?? .null,
                        .integer(restored.inside ? 1 : 0), .text(restored.id),
                    ]
                )
                if let statement = Annulment.restorePass(plan) { try db.run(statement) }
                if let list = plan.listId, plan.countChange != 0 { try db.run(ListStatements.countInside(listId: list, change: plan.countChange)) }
                try db.run(Annulment.markAnnulled(row, plan))
                try db.run(Annulment.log(row, at: at.millis))
                return .success(AnnulAnswer(scanId: scanId, ticket: restored.summary, again: false))
            }
        }
    }
}
