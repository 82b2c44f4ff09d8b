import GatehouseCore

/// What the gate shows. Staff learn one light pattern per reason.
public enum LightPattern: String, Sendable, CaseIterable {
    /// Valid, or an exit: green, and the relay pulses.
    case granted
    /// Red, steady: the ticket was already used, its holder is inside, or the area is full.
    case alreadyUsed
    /// Red, fast flicker: not a ticket of ours, or unknown to the service.
    case unknown
    /// Red, slow blink: a ticket of another event, or of a type this gate does not admit.
    case wrongEvent
    /// Red, double blink: expired or revoked, or the gate's list is not open now.
    case expiredOrRevoked
    /// Red and green blinking together: the service did not answer (or refused this kiosk);
    /// the gate stays shut.
    case serviceUnavailable
    /// Red and green alternating: the lane is locked (see the status line for who locked it);
    /// the scan was not checked in.
    case laneLocked
    /// Red and green together (amber), the lane shut: staff must look at this ticket (the
    /// list's attention types); it opens when they press the staff button.
    case attention

    public init(_ result: CheckinResult) {
        switch result {
        case .valid, .exit: self = .granted
        case .alreadyUsed, .alreadyInside, .full: self = .alreadyUsed
        case .notFound, .invalid: self = .unknown
        case .wrongEvent, .notOnList: self = .wrongEvent
        case .expired, .revoked, .notOpen, .closed: self = .expiredOrRevoked
        // Only the log holds it; were a service ever to answer it, the lane stays shut.
        case .annulled: self = .expiredOrRevoked
        }
    }
}

/// The outputs of a lane, as one state.
public struct OutputState: Sendable, Equatable, CustomStringConvertible {
    public var green = false
    public var red = false
    public var relay = false
    /// A bidirectional lane's exit relay; a lane without one opens `relay` for it.
    public var exitRelay = false

    public init(green: Bool = false, red: Bool = false, relay: Bool = false, exitRelay: Bool = false) {
        self.green = green
        self.red = red
        self.relay = relay
        self.exitRelay = exitRelay
    }

    /// Green with the relay of the scan's way open.
    public static func open(_ direction: ScanDirection) -> OutputState {
        OutputState(green: true, relay: direction == .entry, exitRelay: direction == .exit)
    }

    /// Everything off: LEDs dark, relay open (gate shut). Set at start, after every pattern and
    /// at shutdown.
    public static let safe = OutputState()
    /// Amber (both lights), the lane shut: a ticket waits for staff to look and press the button.
    public static let attention = OutputState(green: true, red: true)
    /// The fire alarm: every relay energised (the lane open both ways), both lights steady.
    public static let alarm = OutputState(green: true, red: true, relay: true, exitRelay: true)

    public var description: String {
        "green=\(green ? 1 : 0) red=\(red ? 1 : 0) relay=\(relay ? 1 : 0)" + (exitRelay ? " exit_relay=1" : "")
    }
}

/// A signal as timed steps: each holds an output state for a duration. Ends in the safe state.
public struct SignalPattern: Sendable, Equatable {
    public var steps: [(state: OutputState, duration: Duration)]

    public static func == (a: SignalPattern, b: SignalPattern) -> Bool {
        a.steps.count == b.steps.count && zip(a.steps, b.steps).allSatisfy { $0.state == $1.state && $0.duration == $1.duration }
    }

    public var totalDuration: Duration { steps.reduce(.zero) { $0 + $1.duration } }

    /// Builds the pattern for `signal` from the configured times. `offline`: decided by the gate
    /// from its snapshot, because the service did not answer — the result's pattern, then two
    /// quick flashes of both lights, so staff know the gate is offline (see the technician's guide).
    /// `direction`: the way a granted scan goes, whose relay pulses.
    public init(
        _ signal: LightPattern,
        relayPulse: Duration,
        greenTime: Duration,
        redTime: Duration,
        offline: Bool = false,
        direction: ScanDirection = .entry
    ) {
        self.init(resultOf: signal, relayPulse: relayPulse, greenTime: greenTime, redTime: redTime, direction: direction)
        if offline { steps += Self.offlineMark }
    }

    /// The offline mark: both lights, 120 ms on, 120 ms off, twice.
    static let offlineMark: [(state: OutputState, duration: Duration)] = [
        (OutputState(green: true, red: true), .milliseconds(120)), (OutputState(), .milliseconds(120)),
        (OutputState(green: true, red: true), .milliseconds(120)), (OutputState(), .milliseconds(120)),
    ]

    private init(resultOf signal: LightPattern, relayPulse: Duration, greenTime: Duration, redTime: Duration, direction: ScanDirection) {
        let red = OutputState(red: true)
        let dark = OutputState()
        switch signal {
        case .granted:
            let pulse = min(relayPulse, greenTime)
            steps = [(.open(direction), pulse)]
            if greenTime > pulse { steps.append((OutputState(green: true), greenTime - pulse)) }
        case .alreadyUsed:
            steps = [(red, redTime)]
        case .unknown:
            steps = Self.blink(on: red, off: dark, onTime: .milliseconds(100), offTime: .milliseconds(100), total: redTime)
        case .wrongEvent:
            steps = Self.blink(on: red, off: dark, onTime: .milliseconds(500), offTime: .milliseconds(500), total: redTime)
        case .expiredOrRevoked:
            var cycle: [(OutputState, Duration)] = [
                (red, .milliseconds(150)), (dark, .milliseconds(150)), (red, .milliseconds(150)), (dark, .milliseconds(550)),
            ]
            steps = []
            var elapsed = Duration.zero
            while elapsed < redTime {
                let (state, duration) = cycle.removeFirst()
                cycle.append((state, duration))
                let length = min(duration, redTime - elapsed)
                steps.append((state, length))
                elapsed += length
            }
        case .laneLocked:
            steps = []
            var elapsed = Duration.zero
            var redTurn = true
            while elapsed < redTime {
                let length = min(.milliseconds(200), redTime - elapsed)
                steps.append((redTurn ? red : OutputState(green: true), length))
                elapsed += length
                redTurn.toggle()
            }
        case .attention:
            steps = [(OutputState.attention, redTime)]
        case .serviceUnavailable:
            steps = Self.blink(
                on: OutputState(green: true, red: true),
                off: dark,
                onTime: .milliseconds(250),
                offTime: .milliseconds(250),
                total: redTime
            )
        }
    }

    private static func blink(
        on: OutputState,
        off: OutputState,
        onTime: Duration,
        offTime: Duration,
        total: Duration
    ) -> [(state: OutputState, duration: Duration)] {
        var steps: [(state: OutputState, duration: Duration)] = []
        var elapsed = Duration.zero
        var lit = true
        while elapsed < total {
            let length = min(lit ? onTime : offTime, total - elapsed)
            steps.append((lit ? on : off, length))
            elapsed += length
            lit.toggle()
        }
        return steps
    }
}
