import Foundation
import GatehouseCore

/// A kiosk's lane mode on the service: what the organizer asked for, and what the lane last
/// reported it is in (and who set that: the key switch or the box outrank the organizer).
public struct LaneState: Codable, Sendable, Equatable {
    public var deviceId: String
    public var requested: LaneMode?
    public var requestedAt: Date?
    public var reported: LaneMode?
    public var reportedSource: LaneModeSource?
    public var reportedAt: Date?
    /// The fire alarm as the lane last reported it: why it holds the lane open; nil when calm.
    public var alarm: String?

    public init(
        deviceId: String,
        requested: LaneMode? = nil,
        requestedAt: Date? = nil,
        reported: LaneMode? = nil,
        reportedSource: LaneModeSource? = nil,
        reportedAt: Date? = nil,
        alarm: String? = nil
    ) {
        self.alarm = alarm
        self.deviceId = deviceId
        self.requested = requested
        self.requestedAt = requestedAt
        self.reported = reported
        self.reportedSource = reportedSource
        self.reportedAt = reportedAt
    }
}

/// The SQL of lane modes, shared by the three stores but for `ensure`, whose "insert unless
/// there" each store says its own way.
public enum LaneStatements {
    static let columns = "l.device_id, l.requested, l.requested_at, l.reported, l.source, l.reported_at, l.alarm"

    public static func ofEvent(_ eventId: String) -> StoreStatement {
        StoreStatement(
            sql: "SELECT \(columns) FROM lane_modes l JOIN devices d ON d.id = l.device_id WHERE d.event_id = ? ORDER BY l.device_id",
            parameters: [.text(eventId)]
        )
    }

    public static func ofDevice(_ deviceId: String) -> StoreStatement {
        StoreStatement(sql: "SELECT \(columns) FROM lane_modes l WHERE l.device_id = ?", parameters: [.text(deviceId)])
    }

    public static func state(_ row: some StoreRow) -> LaneState {
        LaneState(
            deviceId: row.text(0),
            requested: row.optionalText(1).flatMap(LaneMode.init(rawValue:)),
            requestedAt: row.optionalInt(2).map(Date.init(millis:)),
            reported: row.optionalText(3).flatMap(LaneMode.init(rawValue:)),
            reportedSource: row.optionalText(4).flatMap(LaneModeSource.init(rawValue:)),
            reportedAt: row.optionalInt(5).map(Date.init(millis:)),
            alarm: row.optionalText(6)
        )
    }

    public static func request(deviceId: String, mode: LaneMode?, at: Date) -> StoreStatement {
        StoreStatement(
            sql: "UPDATE lane_modes SET requested = ?, requested_at = ? WHERE device_id = ?",
            parameters: [.optional(mode?.rawValue), .integer(at.millis), .text(deviceId)]
        )
    }

    public static func report(_ report: LaneReport, at: Date) -> StoreStatement {
        StoreStatement(
            sql: "UPDATE lane_modes SET reported = ?, source = ?, reported_at = ?, alarm = ? WHERE device_id = ?",
            parameters: [
                .text(report.mode.rawValue), .optional(report.source?.rawValue), .integer(at.millis), .optional(report.alarm),
                .text(report.deviceId),
            ]
        )
    }
}
