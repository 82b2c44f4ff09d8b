import FoundationEssentials
import GatehouseCore
import Synchronization

/// What the kiosk knows about itself: read by the status line (`systemctl status`) and by the
/// watchdog. Written by the capture thread and the decision loop.
public final class KioskHealth: Sendable {
    public enum CameraState: Sendable, Equatable {
        case starting
        case online(String)
        case offline(String)
    }

    public enum ServiceState: Sendable, Equatable {
        case unknown, reachable
        case unreachable(String)
        case rejected(String)
    }

    private struct State {
        var camera: CameraState = .starting
        var service: ServiceState = .unknown
        var lastResult: String?
        var captureBeat: Duration = .zero
        var busySince: Duration?
        var snapshot: String?
        var alarm: String?
        var laneMode: String?
        var waiting: String?
        var direction: String?
        var frames = 0
        var codes = 0
        /// What happened since the last heartbeat took them, oldest first.
        var events: [DeviceEvent] = []

        mutating func note(_ event: DeviceEvent) {
            events.append(event)
            if events.count > KioskHealth.eventsKept { events.removeFirst(events.count - KioskHealth.eventsKept) }
        }
    }

    private let state = Mutex(State())
    /// The wall clock of an event (the heartbeat carries it to the service).
    private let wallClock: @Sendable () -> Date
    public init(wallClock: @escaping @Sendable () -> Date = { Date() }) { self.wallClock = wallClock }

    /// Events kept for the next heartbeat: a box whose uplink is down for long keeps the newest.
    static let eventsKept = 50

    public var camera: CameraState { state.withLock { $0.camera } }
    public func setCamera(_ camera: CameraState) {
        let at = wallClock()
        state.withLock { state in
            switch (state.camera, camera) {
            case (.offline, .online(let name)):
                state.note(DeviceEvent(at: at, kind: "camera_online", detail: Self.line(name)))
            case (.online, .offline(let why)), (.starting, .offline(let why)):
                state.note(DeviceEvent(at: at, kind: "camera_offline", detail: Self.line(why)))
            default: break
            }
            state.camera = camera
        }
    }
    public var service: ServiceState { state.withLock { $0.service } }
    public func setService(_ service: ServiceState) { state.withLock { $0.service = service } }
    public func setLastResult(_ text: String) { state.withLock { $0.lastResult = text } }
    public var lastResult: String? { state.withLock { $0.lastResult } }
    public var laneMode: String? { state.withLock { $0.laneMode } }

    /// A frame was read, with `codes` codes in it.
    public func frameRead(codes: Int) {
        state.withLock { state in
            state.frames &+= 1
            state.codes &+= codes
        }
    }

    /// Frames and codes read since the start (they wrap, as counters do).
    public var counts: (frames: Int, codes: Int) { state.withLock { ($0.frames, $0.codes) } }

    /// Takes the events noted since the last call, oldest first.
    public func takeEvents() -> [DeviceEvent] {
        state.withLock { state in
            defer { state.events = [] }
            return state.events
        }
    }

    /// Puts back events a heartbeat could not deliver, before any noted since.
    public func returnEvents(_ events: [DeviceEvent]) {
        state.withLock { state in state.events = Array((events + state.events).suffix(Self.eventsKept)) }
    }

    /// A text as the service stores what a device reports: printable, at most 128 bytes;
    /// `orElse` when nothing printable is left.
    public static func line(_ text: String, orElse empty: String = "-") -> String {
        var line = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars where scalar.value >= 0x20 && scalar.value != 0x7f && !(0x80..<0xa0).contains(scalar.value) {
            bytes += UTF8.width(scalar)
            guard bytes <= 128 else { break }
            line.append(scalar)
        }
        return line.isEmpty ? empty : String(line)
    }
    /// The offline snapshot's size and age (or why there is none).
    public func setSnapshot(_ text: String) { state.withLock { $0.snapshot = text } }
    /// Why the fire alarm holds the lane open, or nil.
    public func setAlarm(_ reason: String?) {
        let at = wallClock()
        state.withLock { state in
            if state.alarm == nil, let reason { state.note(DeviceEvent(at: at, kind: "alarm", detail: Self.line(reason))) }
            if state.alarm != nil, reason == nil { state.note(DeviceEvent(at: at, kind: "alarm_cleared", detail: "clear")) }
            state.alarm = reason
        }
    }
    public var alarm: String? { state.withLock { $0.alarm } }
    /// The lane's mode when it is not normal, with who set it.
    public func setLaneMode(_ text: String?) {
        let at = wallClock()
        state.withLock { state in
            if state.laneMode != text { state.note(DeviceEvent(at: at, kind: "lane_mode", detail: Self.line(text ?? "normal"))) }
            state.laneMode = text
        }
    }
    /// What the lane waits for a person to do (the staff button), or nil.
    public func setWaiting(_ text: String?) { state.withLock { $0.waiting = text } }
    /// A bidirectional lane's way now (or why it is not known); nil for a one-way lane.
    public func setDirection(_ text: String?) {
        let at = wallClock()
        state.withLock { state in
            let unknown = text?.contains("UNKNOWN") == true
            if unknown != (state.direction?.contains("UNKNOWN") == true) {
                state.note(DeviceEvent(at: at, kind: "direction", detail: unknown ? "direction input cannot be read" : "direction input read again"))
            }
            state.direction = text
        }
    }
    /// The capture loop is alive (called every iteration, also while the camera is away).
    public func captureBeat(_ now: Duration) { state.withLock { $0.captureBeat = now } }
    public func decisionStarted(_ now: Duration) { state.withLock { $0.busySince = now } }
    public func decisionEnded() { state.withLock { $0.busySince = nil } }

    /// True while both loops make progress. A missing camera is not a hang: the capture loop
    /// keeps beating while it waits for one. A decision that takes far longer than its deadline
    /// plus its display time is one.
    public func isAlive(now: Duration, captureLimit: Duration, decisionLimit: Duration) -> Bool {
        state.withLock { state in
            guard now - state.captureBeat <= captureLimit else { return false }
            if let since = state.busySince, now - since > decisionLimit { return false }
            return true
        }
    }

    /// One line for `systemctl status`.
    public var statusLine: String {
        state.withLock { state in
            let camera: String
            switch state.camera {
            case .starting: camera = "Starting camera"
            case .online(let detail): camera = "Scanning (\(detail))"
            case .offline(let why): camera = "Waiting for camera: \(why)"
            }
            let service: String
            switch state.service {
            case .unknown: service = "service not yet asked"
            case .reachable: service = "service reachable"
            case .unreachable(let why): service = "SERVICE UNREACHABLE: \(why)"
            case .rejected(let why): service = "SERVICE REFUSES THIS KIOSK: \(why)"
            }
            let alarm = state.alarm.map { "FIRE ALARM, lane held open: \($0)" }
            let mode = state.laneMode.map { "LANE \($0)" }
            let waiting = state.waiting.map { "WAITING FOR STAFF: \($0)" }
            return [alarm, waiting, mode, camera, state.direction, service, state.snapshot, state.lastResult.map { "last: \($0)" }]
                .compactMap { $0 }.joined(separator: "; ")
        }
    }
}

/// What the box says of its own hardware for its heartbeat; each figure nil where the kernel
/// does not give it. Real: sysfs and statvfs (KioskHardware's BoxFigures).
public protocol BoxReadings: Sendable {
    /// Bytes free for an unprivileged writer, and that share of the file system, in percent.
    func diskFree(_ path: String) -> (bytes: Int64, percent: Double)?
    func cpuTemperature() -> Double?
    func powerFlags() -> (undervoltage: Bool?, throttled: Bool?)
}
