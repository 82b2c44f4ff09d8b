/// How a lane works, whatever its scans say; the organizer sets it remotely, a technician on the
/// box, or the key switch at the lane.
public enum LaneMode: String, Sendable, CaseIterable, Codable {
    /// Scans decide.
    case normal
    /// Free passage: the lane held open; scans are logged, no ticket is checked in.
    case free
    /// Nothing opens; scans are not checked in.
    case locked
    /// Out of order: red steady, scans ignored.
    case outOfOrder = "out_of_order"
}

/// Who set a lane's mode, strongest first.
public enum LaneModeSource: String, Sendable, CaseIterable, Codable {
    case keySwitch = "key_switch"
    /// `gate-kiosk mode` on the box.
    case box
    /// The organizer, from the Devices page or the API.
    case organizer
}

/// What a kiosk reports of its lane after each change (`POST /api/devices/{id}/lane`): the mode
/// in force and who set it (nil: nobody, normal).
public struct LaneReport: Codable, Sendable, Equatable {
    public var deviceId: String
    public var gateId: String
    public var mode: LaneMode
    public var source: LaneModeSource?
    /// While the fire alarm holds the lane open: why (the panel's contact, or a line that
    /// cannot be read); nil when calm or no alarm input is wired.
    public var alarm: String?

    public init(deviceId: String, gateId: String, mode: LaneMode, source: LaneModeSource?, alarm: String? = nil) {
        self.deviceId = deviceId
        self.gateId = gateId
        self.mode = mode
        self.source = source
        self.alarm = alarm
    }
}
