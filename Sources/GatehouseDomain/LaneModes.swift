import Foundation
import GatehouseCore
import GatehouseStorage
import Logging

/// Lane modes set remotely: the organizer asks (a kiosk learns it with its next sync, within
/// 2 s), the kiosk reports what it applied — a key switch or a technician's setting on the box
/// outranks the organizer, so the two can differ, and the Devices page shows both.
extension Gatehouse {
    /// Sets (or with nil clears) the organizer's mode for a kiosk.
    public func setLaneMode(deviceId: String, mode: LaneMode?, logger: Logger) async throws -> LaneState {
        guard let device = try await store.device(id: deviceId) else { throw NotFoundError("device \(deviceId)") }
        guard !device.revoked else { throw InvalidInputError("device \(deviceId) is revoked") }
        guard device.kind == .kiosk else { throw InvalidInputError("device \(deviceId) is a staff phone: only a gate kiosk has a lane") }
        try await store.requestLaneMode(deviceId: deviceId, mode: mode, at: now())
        logger.notice(
            "Lane mode requested",
            metadata: ["device.id": "\(deviceId)", "gate.id": "\(device.gateId)", "lane_mode": "\(mode?.rawValue ?? "none")"]
        )
        return try await store.laneState(deviceId: deviceId) ?? LaneState(deviceId: deviceId, requested: mode)
    }

    public func laneStates(eventId: String) async throws -> [LaneState] {
        _ = try await event(id: eventId)
        return try await store.laneStates(eventId: eventId)
    }

    /// A kiosk's report of the mode its lane is in (its own token, its own id and gate).
    public func reportLane(_ report: LaneReport, bearerToken: String, logger: Logger) async throws {
        try Self.checkIdentifier(report.deviceId, field: "deviceId")
        try Self.checkIdentifier(report.gateId, field: "gateId")
        let device = try await kiosk(bearerToken: bearerToken)
        guard device.id == report.deviceId else { throw CheckinError.unauthorized }
        guard device.gateId == report.gateId else { throw CheckinError.wrongGate(registered: device.gateId) }
        if let wait = syncPageLimiter.take(1, for: device.id) { throw RateLimited(retryAfter: wait, what: "lane reports") }
        // Stored, and shown on the organizer's pages: one line of bounded length.
        if let alarm = report.alarm { try Self.checkIdentifier(alarm, field: "alarm") }
        try await store.reportLane(report, at: now())
        var metadata: Logger.Metadata = [
            "device.id": "\(device.id)", "gate.id": "\(device.gateId)", "lane_mode": "\(report.mode.rawValue)",
            "lane_mode.source": "\(report.source?.rawValue ?? "none")",
        ]
        if let alarm = report.alarm {
            metadata["alarm"] = "active"
            metadata["alarm.reason"] = "\(alarm)"
            logger.critical("Lane reports a fire alarm: held open", metadata: metadata)
        } else {
            logger.info("Lane mode reported", metadata: metadata)
        }
    }
}
