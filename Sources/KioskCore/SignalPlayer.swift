import Synchronization

/// One GPIO output as the kiosk sees it: a logical level (true = active; active-low wiring is
/// handled below this). Real: a libgpiod line request. Tests: a recorder.
public protocol OutputLine: AnyObject, Sendable {
    var name: String { get }
    func set(_ active: Bool) throws
}

/// The lane's outputs, set together. While the fire alarm holds the lane open, every
/// other state asked for is overridden: a pattern or a shutdown cannot shut an evacuation route.
public final class LaneOutputs: Sendable {
    public let green: any OutputLine
    public let red: any OutputLine
    public let relay: any OutputLine
    /// A bidirectional lane's second relay, for people leaving; nil: `relay` opens both ways.
    public let exitRelay: (any OutputLine)?
    /// Whether the fire alarm holds the lane open, and what the lane shows at rest (its mode's
    /// state); the lock also keeps two callers' states from interleaving line by line.
    private let state = Mutex((heldOpen: false, rest: OutputState.safe))

    public init(green: any OutputLine, red: any OutputLine, relay: any OutputLine, exitRelay: (any OutputLine)? = nil) {
        self.green = green
        self.red = red
        self.relay = relay
        self.exitRelay = exitRelay
    }

    /// Sets them all. Relays go first when closing (gate shut before the lights change) and
    /// last when opening (lights first, then the gate).
    public func apply(_ state: OutputState) throws {
        try self.state.withLock { current in try set(current.heldOpen ? .alarm : state) }
    }

    /// Shows the rest state: after a pattern, and when nothing else is shown.
    public func rest() throws {
        try state.withLock { current in try set(current.heldOpen ? .alarm : current.rest) }
    }

    /// The lane mode's rest state, shown at once (a pattern under way sets its next step as before).
    public func setRest(_ rest: OutputState) throws {
        try state.withLock { current in
            current.rest = rest
            try set(current.heldOpen ? .alarm : rest)
        }
    }

    /// Holds the lane open (relay energised, both lights steady) until released; released, the
    /// lane is safe, and the next pattern's step sets what it shows.
    public func holdOpen(_ on: Bool) throws {
        try state.withLock { current in
            current.heldOpen = on
            try set(on ? .alarm : current.rest)
        }
    }

    public var isHeldOpen: Bool { state.withLock { $0.heldOpen } }

    private func set(_ state: OutputState) throws {
        let relayOpen = state.relay || (exitRelay == nil && state.exitRelay)
        if !relayOpen { try relay.set(false) }
        if let exitRelay, !state.exitRelay { try exitRelay.set(false) }
        try green.set(state.green)
        try red.set(state.red)
        if relayOpen { try relay.set(true) }
        if let exitRelay, state.exitRelay { try exitRelay.set(true) }
    }
}

/// Plays signal patterns on the outputs.
public struct SignalPlayer: Sendable {
    public let outputs: LaneOutputs
    public let timekeeper: any Timekeeper

    public init(outputs: LaneOutputs, timekeeper: any Timekeeper) {
        self.outputs = outputs
        self.timekeeper = timekeeper
    }

    /// Plays every step, then leaves the outputs at rest (safe, or the lane mode's state) — also
    /// when cancelled or when a step fails.
    public func play(_ pattern: SignalPattern) async throws {
        defer { try? outputs.rest() }
        for (state, duration) in pattern.steps {
            try outputs.apply(state)
            try await timekeeper.sleep(for: duration)
        }
    }
}
