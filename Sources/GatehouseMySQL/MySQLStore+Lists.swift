import Foundation
import GatehouseCore
import GatehouseStorage

/// Check-in lists. Two processes claiming one gate at once meet the gate's key: the second is
/// refused as a conflict, as when the first had committed before it looked.
extension MySQLStore {
    public func createList(_ list: CheckinList) async throws -> CheckinList {
        try await write { db in
            guard try db.firstRow("SELECT 1 FROM events WHERE id = ?", [.text(list.eventId)], { $0.int(0) }) != nil else {
                throw StoreError.notFound("event \(list.eventId)")
            }
            try Self.claimGates(of: list, in: db)
            try db.run(ListStatements.insert(list))
            try Self.addGates(of: list, in: db)
        }
        return list
    }

    public func lists(eventId: String) async throws -> [CheckinList] {
        try await read { db in
            let gates = try db.rows(ListStatements.gates(eventId: eventId)) { (list: $0.text(0), gate: $0.text(1)) }
            return try db.rows(ListStatements.ofEvent(eventId), ListStatements.list).map { $0.with(gates: gates) }
        }
    }

    public func list(id: String) async throws -> CheckinList? {
        try await read { db in
            let gates = try db.rows(ListStatements.gates(listId: id)) { (list: $0.text(0), gate: $0.text(1)) }
            return try db.rows(ListStatements.byId(id), ListStatements.list).first?.with(gates: gates)
        }
    }

    public func replaceList(_ list: CheckinList) async throws -> CheckinList? {
        let replaced = try await write { db -> Bool in
            guard try db.run(ListStatements.update(list)) == 1 else { return false }
            try Self.claimGates(of: list, in: db)
            try db.run(ListStatements.removeGates(listId: list.id))
            try Self.addGates(of: list, in: db)
            return true
        }
        return replaced ? try await self.list(id: list.id) : nil
    }

    public func deleteList(id: String) async throws -> Bool {
        try await write { db in
            // The last statement removes the list itself.
            try ListStatements.delete(id: id).map { try db.run($0) }.last == 1
        }
    }

    public func listsDueToEmpty(now: Date) async throws -> [(id: String, exitAllAt: Date)] {
        try await read { db in
            try db.rows(ListStatements.dueToEmpty, [.integer(now.millis)]) { (id: $0.text(0), exitAllAt: Date(millis: $0.int(1))) }
        }
    }

    public func countEveryoneOut(listId: String, due: Date, next: Date, at: Date, limit: Int) async throws -> Int {
        try await write { db in
            // The list's row first, as a scan takes it: the count holds, and scans wait.
            guard try db.firstRow("SELECT id FROM checkin_lists WHERE id = ? FOR UPDATE", [.text(listId)], { $0.text(0) }) != nil else { return 0 }
            let inside = try db.rows(ListStatements.someInside + " FOR UPDATE", [.text(listId), .integer(Int64(limit))]) {
                (id: $0.text(0), event: $0.text(1))
            }
            guard !inside.isEmpty else {
                try db.run(ListStatements.moveExitAll(listId: listId, from: due, to: next))
                return 0
            }
            for statement in ListStatements.countOut(listId: listId, tickets: inside, at: at) { try db.run(statement) }
            for event in Set(inside.map(\.event)) { db.logged(eventId: event) }
            for ticket in inside {
                try db.run("UPDATE tickets SET change_seq = ? WHERE id = ?", [.integer(MySQLConnection.unnumbered), .text(ticket.id)])
                db.changed(ticket: ticket.id)
            }
            return inside.count
        }
    }

    /// Refuses (the transaction rolls back) when another list of the event has one of its gates.
    static func claimGates(of list: CheckinList, in db: MySQLConnection) throws {
        guard !list.gates.isEmpty else { return }
        if let taken = try db.rows(ListStatements.gateTaken(list), { (gate: $0.text(0), list: $0.text(1)) }).first {
            throw StoreError.conflict("gate \(taken.gate) belongs to check-in list \(taken.list)")
        }
    }

    /// A gate another process claimed a moment ago meets its key: a conflict, as any other.
    static func addGates(of list: CheckinList, in db: MySQLConnection) throws {
        guard let statement = ListStatements.addGates(of: list) else { return }
        do {
            _ = try db.run(statement)
        } catch {
            guard error.number == 1062 else { throw error }
            throw StoreError.conflict("a gate of this list was given to another check-in list a moment ago")
        }
    }
}

/// Lane modes (`LaneStatements`).
extension MySQLStore {
    public func laneStates(eventId: String) async throws -> [LaneState] {
        try await read { db in try db.rows(LaneStatements.ofEvent(eventId), LaneStatements.state) }
    }

    public func laneState(deviceId: String) async throws -> LaneState? {
        try await read { db in try db.rows(LaneStatements.ofDevice(deviceId), LaneStatements.state).first }
    }

    public func requestLaneMode(deviceId: String, mode: LaneMode?, at: Date) async throws {
        try await write { db in
            try db.run("INSERT IGNORE INTO lane_modes (device_id) VALUES (?)", [.text(deviceId)])
            try db.run(LaneStatements.request(deviceId: deviceId, mode: mode, at: at))
        }
    }

    public func reportLane(_ report: LaneReport, at: Date) async throws {
        let deviceId = report.deviceId
        try await write { db in
            try db.run("INSERT IGNORE INTO lane_modes (device_id) VALUES (?)", [.text(deviceId)])
            try db.run(LaneStatements.report(report, at: at))
        }
    }

    public func heartbeats(eventId: String) async throws -> [StoredHeartbeat] {
        try await read { db in try db.rows(HeartbeatStatements.ofEvent(eventId), HeartbeatStatements.heartbeat) }
    }

    public func heartbeat(deviceId: String) async throws -> StoredHeartbeat? {
        try await read { db in try db.rows(HeartbeatStatements.ofDevice(deviceId), HeartbeatStatements.heartbeat).first }
    }

    public func saveHeartbeat(_ heartbeat: StoredHeartbeat) async throws {
        try await write { db in
            try db.run(
                StoreStatement(
                    sql: "INSERT IGNORE INTO device_heartbeats (device_id, at, body, events) VALUES (?, ?, ?, ?)",
                    parameters: HeartbeatStatements.blank(heartbeat.deviceId)
                )
            )
            try db.run(HeartbeatStatements.update(heartbeat))
        }
    }
}
