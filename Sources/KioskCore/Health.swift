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
    }

    private let state = Mutex(State())
    public init() {}

    public var camera: CameraState { state.withLock { $0.camera } }
    public func setCamera(_ camera: CameraState) { state.withLock { $0.camera = camera } }
    public func setService(_ service: ServiceState) { state.withLock { $0.service = service } }
    public func setLastResult(_ text: String) { state.withLock { $0.lastResult = text } }
    /// The offline snapshot's size and age (or why there is none).
    public func setSnapshot(_ text: String) { state.withLock { $0.snapshot = text } }
    /// Why the fire alarm holds the lane open, or nil.
    public func setAlarm(_ reason: String?) { state.withLock { $0.alarm = reason } }
    public var alarm: String? { state.withLock { $0.alarm } }
    /// The lane's mode when it is not normal, with who set it.
    public func setLaneMode(_ text: String?) { state.withLock { $0.laneMode = text } }
    /// What the lane waits for a person to do (the staff button), or nil.
    public func setWaiting(_ text: String?) { state.withLock { $0.waiting = text } }
    /// A bidirectional lane's way now (or why it is not known); nil for a one-way lane.
    public func setDirection(_ text: String?) { state.withLock { $0.direction = text } }
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
