import Foundation
import GatehouseCore
import GatehouseStorage
import SQLiteSupport

/// Check-in lists. The one writer holds the file for each transaction, so a gate's owner is
/// checked and claimed, and a list's count read and changed, without another writer between.
extension SQLiteStore {
    public func createList(_ list: CheckinList) async throws -> CheckinList {
        try await writer.perform { db in
            guard try db.firstRow("SELECT 1 FROM events WHERE id = ?", [.text(list.eventId)], { $0.int(0) }) != nil else {
                throw StoreError.notFound("event \(list.eventId)")
            }
            try Self.claimGates(of: list, in: db)
            try db.run(ListStatements.insert(list))
            if let gates = ListStatements.addGates(of: list) { try db.run(gates) }
        }
        return list
    }

    public func lists(eventId: String) async throws -> [CheckinList] {
        try await readers.read { db in
            let gates = try db.rows(ListStatements.gates(eventId: eventId)) { (list: $0.text(0), gate: $0.text(1)) }
            return try db.rows(ListStatements.ofEvent(eventId), ListStatements.list).map { $0.with(gates: gates) }
        }
    }

    public func list(id: String) async throws -> CheckinList? {
        try await readers.read { db in
            let gates = try db.rows(ListStatements.gates(listId: id)) { (list: $0.text(0), gate: $0.text(1)) }
            return try db.rows(ListStatements.byId(id), ListStatements.list).first?.with(gates: gates)
        }
    }

    public func replaceList(_ list: CheckinList) async throws -> CheckinList? {
        let replaced = try await writer.perform { db -> Bool in
            guard try db.run(ListStatements.update(list)) == 1 else { return false }
            try Self.claimGates(of: list, in: db)
            try db.run(ListStatements.removeGates(listId: list.id))
            if let gates = ListStatements.addGates(of: list) { try db.run(gates) }
            return true
        }
        return replaced ? try await self.list(id: list.id) : nil
    }

    public func deleteList(id: String) async throws -> Bool {
        try await writer.perform { db in
            // The last statement removes the list itself.
            try ListStatements.delete(id: id).map { try db.run($0) }.last == 1
        }
    }

    public func listsDueToEmpty(now: Date) async throws -> [(id: String, exitAllAt: Date)] {
        try await readers.read { db in
            try db.rows(ListStatements.dueToEmpty, [.integer(now.millis)]) { (id: $0.text(0), exitAllAt: Date(millis: $0.int(1))) }
        }
    }

    public func countEveryoneOut(listId: String, due: Date, next: Date, at: Date, limit: Int) async throws -> Int {
        try await writer.perform { db in
            let inside = try db.rows(ListStatements.someInside, [.text(listId), .integer(Int64(limit))]) { (id: $0.text(0), event: $0.text(1)) }
            guard !inside.isEmpty else {
                try db.run(ListStatements.moveExitAll(listId: listId, from: due, to: next))
                return 0
            }
            for statement in ListStatements.countOut(listId: listId, tickets: inside, at: at) { try db.run(statement) }
            // Each ticket into the change feed: its gates learn it is out.
            for ticket in inside { try db.run("UPDATE tickets SET change_seq = \(Self.nextChange) WHERE id = ?", [.text(ticket.id)]) }
            return inside.count
        }
    }

    /// Refuses (the transaction rolls back) when another list of the event has one of its gates.
    static func claimGates(of list: CheckinList, in db: SQLiteConnection) throws {
        guard !list.gates.isEmpty else { return }
        if let taken = try db.rows(ListStatements.gateTaken(list), { (gate: $0.text(0), list: $0.text(1)) }).first {
            throw StoreError.conflict("gate \(taken.gate) belongs to check-in list \(taken.list)")
        }
    }

    /// The list of a device's gate and the ticket's pass of it, inside the writer's transaction.
    static func gateList(event: String, gate: String, ticket: Ticket?, in db: SQLiteConnection) throws -> (GateList, ListPass?)? {
        guard let list = try db.firstRow(ListStatements.ofGate, [.text(event), .text(gate)], { ListStatements.gateList($0) }) else { return nil }
        guard let ticket else { return (list, nil) }
        let pass = try db.firstRow(ListStatements.pass, [.text(list.id), .text(ticket.id)]) {
            ListStatements.pass($0, list: list.id, ticket: ticket.id)
        }
        return (list, pass)
    }
}

/// Lane modes (`LaneStatements`).
extension SQLiteStore {
    public func laneStates(eventId: String) async throws -> [LaneState] {
        try await readers.read { db in try db.rows(LaneStatements.ofEvent(eventId), LaneStatements.state) }
    }

    public func laneState(deviceId: String) async throws -> LaneState? {
        try await readers.read { db in try db.rows(LaneStatements.ofDevice(deviceId), LaneStatements.state).first }
    }

    public func requestLaneMode(deviceId: String, mode: LaneMode?, at: Date) async throws {
        try await writer.perform { db in
            try db.run("INSERT OR IGNORE INTO lane_modes (device_id) VALUES (?)", [.text(deviceId)])
            try db.run(LaneStatements.request(deviceId: deviceId, mode: mode, at: at))
        }
    }

    public func reportLane(_ report: LaneReport, at: Date) async throws {
        let deviceId = report.deviceId
        try await writer.perform { db in
            try db.run("INSERT OR IGNORE INTO lane_modes (device_id) VALUES (?)", [.text(deviceId)])
            try db.run(LaneStatements.report(report, at: at))
        }
    }

    public func heartbeats(eventId: String) async throws -> [StoredHeartbeat] {
        try await readers.read { db in try db.rows(HeartbeatStatements.ofEvent(eventId), HeartbeatStatements.heartbeat) }
    }

    public func heartbeat(deviceId: String) async throws -> StoredHeartbeat? {
        try await readers.read { db in try db.rows(HeartbeatStatements.ofDevice(deviceId), HeartbeatStatements.heartbeat).first }
    }

    public func saveHeartbeat(_ heartbeat: StoredHeartbeat) async throws {
        try await writer.perform { db in
            try db.run(
                StoreStatement(
                    sql: "INSERT OR IGNORE INTO device_heartbeats (device_id, at, body, events) VALUES (?, ?, ?, ?)",
                    parameters: HeartbeatStatements.blank(heartbeat.deviceId)
                )
            )
            try db.run(HeartbeatStatements.update(heartbeat))
        }
    }
}
