import FoundationEssentials

/// What a device says of itself every ten seconds (`POST /api/devices/{id}/heartbeat`): the
/// service keeps the latest per device and judges the fleet from it. Everything but the ids is
/// optional: a phone has no snapshot, an old kiosk fewer figures. No personal data, no tokens.
public struct Heartbeat: Codable, Sendable, Equatable {
    public var deviceId: String
    public var gateId: String
    public var version: String?
    public var uptimeSeconds: Int?
    /// `ok`, `offline` (gone, stalled), `starting`, or `none` (a phone not using its camera).
    public var camera: String?
    /// Why the camera is offline.
    public var cameraDetail: String?
    public var framesPerSecond: Double?
    public var decoder: String?
    public var codesPerMinute: Int?
    /// The last decision, as the status line says it ("valid #17").
    public var lastDecision: String?
    /// The service answered the device's last call; false: it decides from its snapshot (or shuts).
    public var online: Bool?
    public var snapshotAgeSeconds: Int?
    public var snapshotTickets: Int?
    /// Offline admissions not yet uploaded.
    public var backlog: Int?
    public var clockTrusted: Bool?
    public var laneMode: LaneMode?
    public var alarm: String?
    public var diskFreeBytes: Int64?
    public var diskFreePercent: Double?
    public var cpuTemperatureCelsius: Double?
    public var undervoltage: Bool?
    public var throttled: Bool?
    /// What happened since the last heartbeat that landed: camera lost and back, lane modes, alarms.
    public var events: [DeviceEvent]?

    public init(deviceId: String, gateId: String) {
        self.deviceId = deviceId
        self.gateId = gateId
    }
}

/// One journal-worthy thing a device reports.
public struct DeviceEvent: Codable, Sendable, Equatable {
    public var at: Date
    /// `camera_offline`, `camera_online`, `lane_mode`, `alarm`, `alarm_cleared`, `direction`.
    public var kind: String
    public var detail: String

    public init(at: Date, kind: String, detail: String) {
        self.at = at
        self.kind = kind
        self.detail = detail
    }
}

/// A device's state on the gates page, worst first: the first that applies is `state`, all
/// that apply are its problems.
public enum DeviceState: String, Codable, Sendable, CaseIterable, Comparable {
    case silent
    case cameraOffline = "camera_offline"
    case offline
    case staleSnapshot = "stale_snapshot"
    case backlog
    case lowDisk = "low_disk"
    case hot
    case undervoltage
    case ok

    public static func < (a: DeviceState, b: DeviceState) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The thresholds, said once: the page and the API read them from here.
    public static let silentAfter: Duration = .seconds(30)
    public static let staleSnapshotSeconds = 600
    public static let lowDiskBytes: Int64 = 200 * 1024 * 1024
    public static let lowDiskPercent = 5.0
    public static let hotCelsius = 80.0

    /// Every problem of `heartbeat` received `age` ago (nil: never heard), worst first.
    public static func problems(of heartbeat: Heartbeat?, age: Duration?) -> [DeviceState] {
        guard let heartbeat, let age, age <= silentAfter else { return [.silent] }
        var found: [DeviceState] = []
        if heartbeat.camera == "offline" { found.append(.cameraOffline) }
        if heartbeat.online == false { found.append(.offline) }
        if let snapshotAge = heartbeat.snapshotAgeSeconds, snapshotAge > staleSnapshotSeconds { found.append(.staleSnapshot) }
        if let backlog = heartbeat.backlog, backlog > 0 { found.append(.backlog) }
        if let bytes = heartbeat.diskFreeBytes, bytes < lowDiskBytes {
            found.append(.lowDisk)
        } else if let percent = heartbeat.diskFreePercent,
            percent < lowDiskPercent
        {
            found.append(.lowDisk)
        }
        if let celsius = heartbeat.cpuTemperatureCelsius, celsius >= hotCelsius { found.append(.hot) }
        if heartbeat.undervoltage == true { found.append(.undervoltage) }
        return found
    }
}
