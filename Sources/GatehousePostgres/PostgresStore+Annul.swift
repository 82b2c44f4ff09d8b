import Foundation
import GatehouseCore
import GatehouseStorage
import Logging
import PostgresNIO

/// Taking back a check-in in one transaction: the list's row, the ticket and its pass locked in
/// the order a check-in locks them, then the scan's row read again under a lock, so an annul and
/// a scan of the same ticket, or two annuls, take turns.
extension PostgresStore {
    public func annul(scanId: String, device: DeviceOnDuty, at: Date) async throws -> Result<AnnulAnswer, AnnulRefusal> {
        try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await Self.annul(scanId: scanId, device: device, at: at, on: connection, logger: logger)
            }
        }
    }

    private static func annul(
        scanId: String,
        device: DeviceOnDuty,
        at: Date,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Result<AnnulAnswer, AnnulRefusal> {
        func first<T>(_ sql: String, _ parameters: [StoreRecords.Parameter], _ map: (PostgresCells) -> T) async throws -> T? {
            try await connection.query(PostgresQuery(StoreStatement(sql: sql, parameters: parameters)), logger: logger).collect().first.map {
                map(PostgresCells(row: $0.makeRandomAccess()))
            }
        }
        guard let found = try await first(Annulment.scanRow, [.text(device.id), .text(scanId)], Annulment.loggedScan) else {
            let elsewhere = try await first(Annulment.scanElsewhere, [.text(device.event), .text(scanId)]) { $0.int(0) } != nil
            return .failure(elsewhere ? .otherDevice : .unknownScan)
        }
        if let list = found.undo?.listId {
            _ = try await first("SELECT id FROM checkin_lists WHERE id = ? FOR UPDATE", [.text(list)]) { $0.text(0) }
        }
        var ticket: Ticket?
        if let id = found.ticketId {
            ticket = try await first(StoreRecords.ticketColumns + " WHERE id = ? FOR UPDATE", [.text(id)]) { StoreRecords.ticket($0) }
        }
        var pass: ListPass?
        if let list = found.undo?.listId, let ticket {
            pass = try await first(ListStatements.pass + " FOR UPDATE", [.text(list), .text(ticket.id)]) {
                ListStatements.pass($0, list: list, ticket: ticket.id)
            }
        }
        let row = try await first(Annulment.scanRow + " FOR UPDATE", [.text(device.id), .text(scanId)], Annulment.loggedScan) ?? found
        switch Annulment.plan(row, now: at.millis, ticket: ticket, pass: pass) {
        case .failure(let refusal):
            return .failure(refusal)
        case .success(nil):
            return .success(AnnulAnswer(scanId: scanId, ticket: ticket?.summary, again: true))
        case .success(let plan?):
            let restored = plan.ticket
            _ = try await connection.query(
                """
                UPDATE tickets SET status = \(restored.status.rawValue), used_at = \(restored.usedAt?.millis), used_gate = \(restored.usedGate),
                    used_device = \(restored.usedDevice), inside = \(restored.inside) WHERE id = \(restored.id)
                """,
                logger: logger
            ).collect()
            if let statement = Annulment.restorePass(plan) { try await connection.run(statement, logger: logger) }
            if let list = plan.listId, plan.countChange != 0 {
                try await connection.run(ListStatements.countInside(listId: list, change: plan.countChange), logger: logger)
            }
            try await connection.run(Annulment.markAnnulled(row, plan), logger: logger)
            try await connection.run(Annulment.log(row, at: at.millis), logger: logger)
            return .success(AnnulAnswer(scanId: scanId, ticket: restored.summary, again: false))
        }
    }
}
