import GatehouseCore
import Logging
import Synchronization

/// Which way the lane's next scan goes. An entry or an exit lane: always its configured way. A
/// bidirectional lane: its direction input says, scan by scan (a two-way push button or the
/// turnstile's side detector; asserted: the person is leaving). An input not read yet, or that
/// cannot be read, says nothing: the lane then stays shut rather than burn a leaver's ticket or
/// let an arrival through as an exit.
public final class LaneDirection: Sendable {
    public enum Reading: Sendable, Equatable {
        case known(ScanDirection)
        case unknown(String)
    }

    private let fixed: ScanDirection?
    private let level = Mutex<InputLevel?>(nil)

    /// A lane that always scans one way.
    public init(fixed: ScanDirection) {
        self.fixed = fixed
    }

    /// A bidirectional lane: `follow(_:)` its input.
    public init() {
        self.fixed = nil
    }

    public var isBidirectional: Bool { fixed == nil }

    public var current: Reading {
        if let fixed { return .known(fixed) }
        switch level.withLock({ $0 }) {
        case .asserted?: return .known(.exit)
        case .clear?: return .known(.entry)
        case .broken(let why)?: return .unknown("the direction input cannot be read: \(why)")
        case nil: return .unknown("the direction input has not been read yet")
        }
    }

    /// Keeps the input's level until the task is cancelled; logs each change of way and shows
    /// it in the status line.
    public func follow(_ input: any InputLine, gateID: String, health: KioskHealth, logger: Logger) async {
        for await next in input.levels() {
            // The only writer: the status line changes first, so it never lags the decisions.
            guard level.withLock({ $0 }) != next else { continue }
            switch next {
            case .asserted: health.setDirection("two-way lane: exit")
            case .clear: health.setDirection("two-way lane: entry")
            case .broken: health.setDirection("TWO-WAY LANE, DIRECTION UNKNOWN: scans wait")
            }
            level.withLock { $0 = next }
            switch next {
            case .broken(let why):
                logger.error(
                    "Direction input cannot be read: the lane stays shut",
                    metadata: ["gate.id": "\(gateID)", "direction": "unknown", "error": "\(why)"]
                )
            case .asserted, .clear:
                logger.info("Lane direction", metadata: ["gate.id": "\(gateID)", "direction": "\(next == .asserted ? "exit" : "entry")"])
            }
        }
    }
}
