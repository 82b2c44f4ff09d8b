import Foundation
import GatehouseCore

/// A device's latest heartbeat as the service keeps it: one row per device, replaced at each
/// heartbeat, with its last 50 reported events (never a history that grows).
public struct StoredHeartbeat: Sendable, Equatable {
    public var deviceId: String
    public var at: Date
    /// The heartbeat as JSON.
    public var body: String
    /// The device's last events as a JSON array, oldest first.
    public var events: String

    public init(deviceId: String, at: Date, body: String, events: String) {
        self.deviceId = deviceId
        self.at = at
        self.body = body
        self.events = events
    }
}

/// The SQL of heartbeats, shared by the three stores but for `ensure`.
public enum HeartbeatStatements {
    static let columns = "h.device_id, h.at, h.body, h.events"

    public static func ofEvent(_ eventId: String) -> StoreStatement {
        StoreStatement(
            sql: "SELECT \(columns) FROM device_heartbeats h JOIN devices d ON d.id = h.device_id WHERE d.event_id = ? ORDER BY h.device_id",
            parameters: [.text(eventId)]
        )
    }

    public static func ofDevice(_ deviceId: String) -> StoreStatement {
        StoreStatement(sql: "SELECT \(columns) FROM device_heartbeats h WHERE h.device_id = ?", parameters: [.text(deviceId)])
    }

    public static func heartbeat(_ row: some StoreRow) -> StoredHeartbeat {
        StoredHeartbeat(deviceId: row.text(0), at: Date(millis: row.int(1)), body: row.text(2), events: row.text(3))
    }

    public static func update(_ heartbeat: StoredHeartbeat) -> StoreStatement {
        StoreStatement(
            sql: "UPDATE device_heartbeats SET at = ?, body = ?, events = ? WHERE device_id = ?",
            parameters: [.integer(heartbeat.at.millis), .text(heartbeat.body), .text(heartbeat.events), .text(heartbeat.deviceId)]
        )
    }

    /// A row to update, where there is none yet (each store says "unless there" its own way).
    public static func blank(_ deviceId: String) -> [StoreRecords.Parameter] {
        [.text(deviceId), .integer(0), .text("{}"), .text("[]")]
    }
}
