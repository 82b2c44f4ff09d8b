import Foundation
import GatehouseCore
import GatehouseStorage

extension Gatehouse {
    /// Rows of the event's check-in log after `cursor`, in commit order
    /// (`GatehouseStore.checkinStream`): what the event stream and webhooks send.
    public func checkinStream(eventId: String, after cursor: ChangeCursor?, limit: Int) async throws -> [StreamedCheckin] {
        try await store.checkinStream(eventId: eventId, after: cursor, limit: limit)
    }
}

/// A device's state as the event stream and webhooks send it: the heartbeat's figures stay on
/// the device's page.
public struct DeviceStateMessage: Codable, Sendable, Equatable {
    public var deviceId: String
    public var name: String
    public var gateId: String
    public var state: DeviceState
    public var problems: [DeviceState]
    public var lastHeartbeatAt: Date?

    public init(_ status: Gatehouse.DeviceStatus) {
        deviceId = status.deviceId
        name = status.name
        gateId = status.gateId
        state = status.state
        problems = status.problems
        lastHeartbeatAt = status.lastHeartbeatAt
    }

    /// What must change for the state to be sent again (not the heartbeat's time).
    public var key: String { "\(state.rawValue) \(problems.map(\.rawValue).joined(separator: ","))" }
}
