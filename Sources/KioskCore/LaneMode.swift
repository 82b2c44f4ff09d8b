import GatehouseCore
import Logging
import Synchronization

extension LaneMode {
    /// What the outputs show while no scan is being answered: free passage holds the relays
    /// (both ways) under green, out of order shows red.
    public var restState: OutputState {
        switch self {
        case .free: OutputState(green: true, relay: true, exitRelay: true)
        case .outOfOrder: OutputState(red: true)
        case .normal, .locked: .safe
        }
    }
}

extension LaneModeSource {
    var words: String {
        switch self {
        case .keySwitch: "key switch"
        case .box: "gate-kiosk mode on the box"
        case .organizer: "organizer"
        }
    }
}

/// The lane's mode from its three sources: the strongest one that sets a mode wins (a key
/// switch in its normal position, `gate-kiosk mode remote` and an organizer's "no setting" set
/// none). A change is applied to the outputs' rest state at once, logged with who made it, and
/// shown in the status line.
public final class LaneModes: Sendable {
    private let settings = Mutex<[LaneModeSource: LaneMode]>([:])
    /// What the service last heard of this lane.
    private let lastReport = Mutex<LaneReport?>(nil)
    private let outputs: LaneOutputs
    private let health: KioskHealth
    private let gateID: String
    private let logger: Logger

    public init(outputs: LaneOutputs, health: KioskHealth, gateID: String, logger: Logger) {
        self.outputs = outputs
        self.health = health
        self.gateID = gateID
        self.logger = logger
    }

    /// The mode in force, and who set it (nil: nobody, the lane is normal).
    public var current: (mode: LaneMode, source: LaneModeSource?) {
        settings.withLock { Self.effective($0) }
    }

    /// Sets (or with nil clears) one source's mode.
    public func set(_ mode: LaneMode?, by source: LaneModeSource) {
        let (before, after) = settings.withLock { settings in
            let before = Self.effective(settings)
            settings[source] = mode
            return (before, Self.effective(settings))
        }
        guard before.mode != after.mode || before.source != after.source else { return }
        do {
            try outputs.setRest(after.mode.restState)
        } catch {
            logger.error("GPIO output failed while changing the lane mode", metadata: ["error": "\(error)"])
        }
        health.setLaneMode(after.mode == .normal ? nil : "\(after.mode.rawValue) (\(after.source?.words ?? "default"))")
        logger.notice(
            "Lane mode changed",
            metadata: [
                "gate.id": "\(gateID)", "lane_mode": "\(after.mode.rawValue)", "lane_mode.source": "\(after.source?.rawValue ?? "none")",
                "lane_mode.before": "\(before.mode.rawValue)",
            ]
        )
    }

    /// The report the service has not heard yet, if the mode in force or the fire alarm changed
    /// since (or was never reported since the start).
    public func unreported(deviceID: String, gateID: String) -> LaneReport? {
        let current = current
        let alarm = health.alarm.map { KioskHealth.line($0, orElse: "alarm") }
        let report = LaneReport(deviceId: deviceID, gateId: gateID, mode: current.mode, source: current.source, alarm: alarm)
        return lastReport.withLock { $0 } == report ? nil : report
    }

    public func reported(_ report: LaneReport) { lastReport.withLock { $0 = report } }

    private static func effective(_ settings: [LaneModeSource: LaneMode]) -> (mode: LaneMode, source: LaneModeSource?) {
        for source in LaneModeSource.allCases { if let mode = settings[source] { return (mode, source) } }
        return (.normal, nil)
    }

    /// Follows a source's stream of settings until it ends or the task is cancelled.
    public func follow(_ stream: AsyncStream<LaneMode?>, as source: LaneModeSource) async {
        for await mode in stream { set(mode, by: source) }
    }
}

/// A source of lane modes read from outside: a key switch (lines, or a dry run's file) or the
/// box's mode file. Yields the setting now, then each change; nil: this source sets none.
public protocol LaneModeInput: Sendable {
    func modes() -> AsyncStream<LaneMode?>
}

/// A key switch wired as one input per position (free, locked, out of order; none closed:
/// normal). The first closed position in that order wins; a line that cannot be read counts as
/// out of order, so a broken switch never leaves a lane in free passage.
public struct KeySwitch: LaneModeInput {
    public let positions: [(mode: LaneMode, line: any InputLine)]

    public init(positions: [(mode: LaneMode, line: any InputLine)]) {
        self.positions = positions
    }

    public func modes() -> AsyncStream<LaneMode?> {
        let positions = positions
        return AsyncStream { continuation in
            let task = Task {
                let levels = Levels(count: positions.count)
                await withTaskGroup(of: Void.self) { group in
                    for (index, position) in positions.enumerated() {
                        group.addTask {
                            for await level in position.line.levels() {
                                let all = levels.value.withLock { levels in
                                    levels[index] = level
                                    return levels
                                }
                                continuation.yield(Self.mode(positions.map(\.mode), all))
                            }
                        }
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Each position's last level, shared by the positions' readers.
    private final class Levels: Sendable {
        let value: Mutex<[InputLevel?]>
        init(count: Int) { value = Mutex(Array(repeating: nil, count: count)) }
    }

    static func mode(_ modes: [LaneMode], _ levels: [InputLevel?]) -> LaneMode? {
        if levels.contains(where: { if case .broken = $0 { true } else { false } }) { return .outOfOrder }
        return zip(modes, levels).first { $0.1 == .asserted }?.0
    }
}
