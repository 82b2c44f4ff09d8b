import Logging
import Synchronization

/// The fire alarm input as a lane obeys it: an alarm, or a line that cannot be read, holds the
/// lane open at once; it is released only after the input has read clear for `clearAfter`
/// without a break, so a flickering contact never shuts the lane in between.
public struct AlarmState: Sendable, Equatable {
    public enum Change: Sendable, Equatable {
        case raised(String)
        case cleared
    }

    public let clearAfter: Duration
    /// Why the lane is held open, or nil.
    public private(set) var reason: String?
    /// When the input last turned clear while the alarm held, and what each clear is numbered
    /// (a timer for an older clear must not end the alarm).
    public private(set) var clearSince: Duration?
    public private(set) var clearNumber = 0

    public init(clearAfter: Duration) { self.clearAfter = clearAfter }

    public var isActive: Bool { reason != nil }

    public mutating func read(_ level: InputLevel, now: Duration) -> Change? {
        switch level {
        case .asserted, .broken:
            let why: String
            if case .broken(let detail) = level { why = "the alarm line cannot be read (\(detail))" } else { why = "the fire panel signals an alarm" }
            clearSince = nil
            clearNumber += 1
            guard reason == nil else {
                reason = why
                return nil
            }
            reason = why
            return .raised(why)
        case .clear:
            guard reason != nil, clearSince == nil else { return nil }
            clearSince = now
            clearNumber += 1
            return nil
        }
    }

    /// The alarm ends when the clear numbered `number` has lasted `clearAfter`.
    public mutating func timerFired(number: Int, now: Duration) -> Change? {
        guard reason != nil, let since = clearSince, number == clearNumber, now - since >= clearAfter else { return nil }
        reason = nil
        clearSince = nil
        return .cleared
    }
}

/// Watches the alarm input and holds the lane's outputs open while it says so. The decision loop
/// asks `isActive` and takes no scans meanwhile.
public final class FireAlarm: Sendable {
    private let input: any InputLine
    private let outputs: LaneOutputs
    private let health: KioskHealth
    private let timekeeper: any Timekeeper
    private let logger: Logger
    private let gateID: String
    private let state: Mutex<AlarmState>

    public init(
        input: any InputLine,
        clearAfter: Duration,
        outputs: LaneOutputs,
        health: KioskHealth,
        timekeeper: any Timekeeper,
        gateID: String,
        logger: Logger
    ) {
        self.input = input
        self.outputs = outputs
        self.health = health
        self.timekeeper = timekeeper
        self.gateID = gateID
        self.logger = logger
        state = Mutex(AlarmState(clearAfter: clearAfter))
    }

    public var isActive: Bool { state.withLock { $0.isActive } }

    /// Until cancelled. A clear starts a timer; an alarm or a newer clear makes it moot.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            for await level in input.levels() {
                let (change, timer) = state.withLock { state -> (AlarmState.Change?, Int?) in
                    let change = state.read(level, now: timekeeper.now())
                    return (change, state.clearSince == nil ? nil : state.clearNumber)
                }
                if let change { apply(change) }
                if let timer, case .clear = level {
                    let wait = state.withLock { $0.clearAfter }
                    group.addTask { [self] in
                        try? await timekeeper.sleep(for: wait)
                        if let change = state.withLock({ $0.timerFired(number: timer, now: timekeeper.now()) }) { apply(change) }
                    }
                }
            }
            group.cancelAll()
        }
    }

    private func apply(_ change: AlarmState.Change) {
        switch change {
        case .raised(let why):
            do {
                try outputs.holdOpen(true)
            } catch {
                logger.critical("GPIO output failed while opening the lane for the fire alarm", metadata: ["error": "\(error)"])
            }
            health.setAlarm(why)
            // swift-log has no alert level; the journal handler takes the syslog priority from
            // here (1, alert: what wakes someone up).
            logger.critical(
                "Fire alarm: lane held open, scanning stopped",
                metadata: ["gate.id": "\(gateID)", "alarm": "active", "alarm.reason": "\(why)", "syslog.priority": "1"]
            )
        case .cleared:
            do {
                try outputs.holdOpen(false)
            } catch {
                logger.error("GPIO output failed while releasing the lane after the fire alarm", metadata: ["error": "\(error)"])
            }
            health.setAlarm(nil)
            logger.notice("Fire alarm cleared: lane back in service", metadata: ["gate.id": "\(gateID)", "alarm": "cleared"])
        }
    }
}
