import Foundation
import GatehouseCore
import GatehouseStorage
import Logging
import NIOCore
import PostgresNIO

/// Check-in lists, with the SQL SQLite and MySQL share (`ListStatements`). Two processes
/// claiming one gate at once meet the gate's key: the second is refused as a conflict.
extension PostgresStore {
    public func createList(_ list: CheckinList) async throws -> CheckinList {
        try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                guard try await connection.query("SELECT 1 FROM events WHERE id = \(list.eventId)", logger: logger).collect().first != nil else {
                    throw StoreError.notFound("event \(list.eventId)")
                }
                try await Self.claimGates(of: list, on: connection, logger: logger)
                try await connection.run(ListStatements.insert(list), logger: logger)
                try await Self.addGates(of: list, on: connection, logger: logger)
            }
            return list
        }
    }

    public func lists(eventId: String) async throws -> [CheckinList] {
        try await guarded { [self] in
            let gates = try await client.query(PostgresQuery(ListStatements.gates(eventId: eventId)), logger: logger).collect().map {
                let cells = PostgresCells(row: $0.makeRandomAccess())
                return (list: cells.text(0), gate: cells.text(1))
            }
            return try await client.query(PostgresQuery(ListStatements.ofEvent(eventId)), logger: logger).collect().map {
                ListStatements.list(PostgresCells(row: $0.makeRandomAccess())).with(gates: gates)
            }
        }
    }

    public func list(id: String) async throws -> CheckinList? {
        try await guarded { [self] in
            let gates = try await client.query(PostgresQuery(ListStatements.gates(listId: id)), logger: logger).collect().map {
                let cells = PostgresCells(row: $0.makeRandomAccess())
                return (list: cells.text(0), gate: cells.text(1))
            }
            return try await client.query(PostgresQuery(ListStatements.byId(id)), logger: logger).collect().first.map {
                ListStatements.list(PostgresCells(row: $0.makeRandomAccess())).with(gates: gates)
            }
        }
    }

    public func replaceList(_ list: CheckinList) async throws -> CheckinList? {
        let replaced = try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection -> Bool in
                guard try await connection.run(ListStatements.update(list), logger: logger) == 1 else { return false }
                try await Self.claimGates(of: list, on: connection, logger: logger)
                try await connection.run(ListStatements.removeGates(listId: list.id), logger: logger)
                try await Self.addGates(of: list, on: connection, logger: logger)
                return true
            }
        }
        return replaced ? try await self.list(id: list.id) : nil
    }

    public func deleteList(id: String) async throws -> Bool {
        try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                var removed = 0
                for statement in ListStatements.delete(id: id) { removed = try await connection.run(statement, logger: logger) }
                return removed == 1
            }
        }
    }

    public func listsDueToEmpty(now: Date) async throws -> [(id: String, exitAllAt: Date)] {
        try await guarded { [self] in
            try await client.query(PostgresQuery(StoreStatement(sql: ListStatements.dueToEmpty, parameters: [.integer(now.millis)])), logger: logger)
                .collect().map {
                    let cells = PostgresCells(row: $0.makeRandomAccess())
                    return (id: cells.text(0), exitAllAt: Date(millis: cells.int(1)))
                }
        }
    }

    public func countEveryoneOut(listId: String, due: Date, next: Date, at: Date, limit: Int) async throws -> Int {
        try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                // The list's row first, as a scan takes it: the count holds, and scans wait.
                guard
                    try await connection.query("SELECT id FROM checkin_lists WHERE id = \(listId) FOR UPDATE", logger: logger).collect().first != nil
                else { return 0 }
                let inside = try await connection.query(
                    PostgresQuery(
                        StoreStatement(sql: ListStatements.someInside + " FOR UPDATE OF p", parameters: [.text(listId), .integer(Int64(limit))])
                    ),
                    logger: logger
                ).collect().map {
                    let cells = PostgresCells(row: $0.makeRandomAccess())
                    return (id: cells.text(0), event: cells.text(1))
                }
                guard !inside.isEmpty else {
                    try await connection.run(ListStatements.moveExitAll(listId: listId, from: due, to: next), logger: logger)
                    return 0
                }
                for statement in ListStatements.countOut(listId: listId, tickets: inside, at: at) {
                    try await connection.run(statement, logger: logger)
                }
                // Rewriting the status puts each ticket into the change feed (the trigger).
                let ids = inside.map(\.id)
                _ = try await connection.query("UPDATE tickets SET status = status WHERE id = ANY(\(ids))", logger: logger).collect()
                return inside.count
            }
        }
    }

    static func claimGates(of list: CheckinList, on connection: PostgresConnection, logger: Logger) async throws {
        guard !list.gates.isEmpty else { return }
        if let row = try await connection.query(PostgresQuery(ListStatements.gateTaken(list)), logger: logger).collect().first {
            let (gate, owner) = try row.decode((String, String).self)
            throw StoreError.conflict("gate \(gate) belongs to check-in list \(owner)")
        }
    }

    static func addGates(of list: CheckinList, on connection: PostgresConnection, logger: Logger) async throws {
        guard let statement = ListStatements.addGates(of: list) else { return }
        do {
            try await connection.run(statement, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw StoreError.conflict("a gate of this list was given to another check-in list a moment ago")
        }
    }
}

/// Lane modes (`LaneStatements`).
extension PostgresStore {
    public func laneStates(eventId: String) async throws -> [LaneState] {
        try await guarded { [self] in
            try await client.query(PostgresQuery(LaneStatements.ofEvent(eventId)), logger: logger).collect().map {
                LaneStatements.state(PostgresCells(row: $0.makeRandomAccess()))
            }
        }
    }

    public func laneState(deviceId: String) async throws -> LaneState? {
        try await guarded { [self] in
            try await client.query(PostgresQuery(LaneStatements.ofDevice(deviceId)), logger: logger).collect().first.map {
                LaneStatements.state(PostgresCells(row: $0.makeRandomAccess()))
            }
        }
    }

    public func requestLaneMode(deviceId: String, mode: LaneMode?, at: Date) async throws {
        try await upsertLane(deviceId: deviceId, LaneStatements.request(deviceId: deviceId, mode: mode, at: at))
    }

    public func reportLane(_ report: LaneReport, at: Date) async throws {
        try await upsertLane(deviceId: report.deviceId, LaneStatements.report(report, at: at))
    }

    public func heartbeats(eventId: String) async throws -> [StoredHeartbeat] {
        try await guarded { [self] in
            try await client.query(PostgresQuery(HeartbeatStatements.ofEvent(eventId)), logger: logger).collect().map {
                HeartbeatStatements.heartbeat(PostgresCells(row: $0.makeRandomAccess()))
            }
        }
    }

    public func heartbeat(deviceId: String) async throws -> StoredHeartbeat? {
        try await guarded { [self] in
            try await client.query(PostgresQuery(HeartbeatStatements.ofDevice(deviceId)), logger: logger).collect().first.map {
                HeartbeatStatements.heartbeat(PostgresCells(row: $0.makeRandomAccess()))
            }
        }
    }

    public func saveHeartbeat(_ heartbeat: StoredHeartbeat) async throws {
        try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                _ = try await connection.run(
                    StoreStatement(
                        sql: "INSERT INTO device_heartbeats (device_id, at, body, events) VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO NOTHING",
                        parameters: HeartbeatStatements.blank(heartbeat.deviceId)
                    ),
                    logger: logger
                )
                _ = try await connection.run(HeartbeatStatements.update(heartbeat), logger: logger)
            }
        }
    }

    private func upsertLane(deviceId: String, _ update: StoreStatement) async throws {
        try await guarded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                _ = try await connection.query(
                    "INSERT INTO lane_modes (device_id) VALUES (\(deviceId)) ON CONFLICT (device_id) DO NOTHING",
                    logger: logger
                ).collect()
                _ = try await connection.run(update, logger: logger)
            }
        }
    }
}

extension PostgresQuery {
    /// A statement written for SQLite and MySQL: its `?` placeholders numbered, its values bound.
    /// (The shared statements hold no `?` inside a literal.)
    init(_ statement: StoreStatement) {
        var sql = ""
        var number = 0
        for character in statement.sql {
            if character == "?" {
                number += 1
                sql += "$\(number)"
            } else {
                sql.append(character)
            }
        }
        self.init(unsafeSQL: sql)
        for parameter in statement.parameters {
            switch parameter {
            case .text(let text): binds.append(text)
            case .integer(let number): binds.append(number)
            case .bytes(let bytes): binds.append(ByteBuffer(bytes: bytes))
            case .null: binds.appendNull()
            }
        }
    }
}

extension PostgresConnection {
    /// Runs a shared INSERT, UPDATE or DELETE; the number of rows it changed (counted from a
    /// `RETURNING`, which the row sequence gives where its command tag does not).
    @discardableResult
    func run(_ statement: StoreStatement, logger: Logger) async throws -> Int {
        var counted = statement
        counted.sql += " RETURNING 1"
        return try await query(PostgresQuery(counted), logger: logger).collect().count
    }
}
