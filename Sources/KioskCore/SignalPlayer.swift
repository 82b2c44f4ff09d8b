import Synchronization

/// One GPIO output as the kiosk sees it: a logical level (true = active; active-low wiring is
/// handled below this). Real: a libgpiod line request. Tests: a recorder.
public protocol OutputLine: AnyObject, Sendable {
    var name: String { get }
    func set(_ active: Bool) throws
}

/// The lane's three outputs, set together. While the fire alarm holds the lane open, every
/// other state asked for is overridden: a pattern or a shutdown cannot shut an evacuation route.
public final class LaneOutputs: Sendable {
    public let green: any OutputLine
    public let red: any OutputLine
    public let relay: any OutputLine
    /// Whether the fire alarm holds the lane open; the lock also keeps two callers' states from
    /// interleaving line by line.
    private let heldOpen = Mutex(false)

    public init(green: any OutputLine, red: any OutputLine, relay: any OutputLine) {
        self.green = green
        self.red = red
        self.relay = relay
    }

    /// Sets all three. The relay goes first when closing (gate shut before the lights change)
    /// and last when opening (lights first, then the gate).
    public func apply(_ state: OutputState) throws {
        try heldOpen.withLock { heldOpen in try set(heldOpen ? .alarm : state) }
    }

    /// Holds the lane open (relay energised, both lights steady) until released; released, the
    /// lane is safe, and the next pattern's step sets what it shows.
    public func holdOpen(_ on: Bool) throws {
        try heldOpen.withLock { heldOpen in
            heldOpen = on
            try set(on ? .alarm : .safe)
        }
    }

    public var isHeldOpen: Bool { heldOpen.withLock { $0 } }

    private func set(_ state: OutputState) throws {
        if !state.relay { try relay.set(false) }
        try green.set(state.green)
        try red.set(state.red)
        if state.relay { try relay.set(true) }
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

    /// Plays every step, then leaves the outputs safe — also when cancelled or when a step fails.
    public func play(_ pattern: SignalPattern) async throws {
        defer { try? outputs.apply(.safe) }
        for (state, duration) in pattern.steps {
            try outputs.apply(state)
            try await timekeeper.sleep(for: duration)
        }
    }
}
