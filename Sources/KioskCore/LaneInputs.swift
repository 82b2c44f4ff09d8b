/// What an input of the lane says.
public enum InputLevel: Sendable, Equatable {
    /// The contact says what it is there for: the alarm is active, a passage happened.
    case asserted
    case clear
    /// It cannot be read: the line is gone, the chip failed, a dry run's file is missing where
    /// a missing file means a cut wire. What that means is the reader's to say (a broken fire
    /// alarm line is an alarm).
    case broken(String)
}

/// One input of the lane. Real: a libgpiod line with edge events on a thread of its own; dry
/// run: a file; tests: a script.
public protocol InputLine: Sendable {
    var name: String { get }
    /// The level now, then each change (debounced by the line), until the task is cancelled.
    func levels() -> AsyncStream<InputLevel>
}

/// How a fire panel's contact is wired to the alarm input.
public enum AlarmWiring: String, Sendable, CaseIterable {
    /// No alarm input.
    case none
    /// Normally closed: the contact opens on alarm, so a cut wire is an alarm too (fail-safe).
    case nc
    /// Normally open: the contact closes on alarm; a cut wire cannot be told from calm.
    case no

    /// The level a line's logical value means (true: the contact is closed).
    public func level(contactClosed: Bool) -> InputLevel {
        switch self {
        case .nc: return contactClosed ? .clear : .asserted
        case .no, .none: return contactClosed ? .asserted : .clear
        }
    }
}

/// An input that could not be had at all (no such chip or line): it reads broken, always, so a
/// fire alarm wired to it holds the lane open and says why instead of ignoring the alarm.
public struct UnavailableInputLine: InputLine {
    public let name: String
    public let reason: String

    public init(name: String, reason: String) {
        self.name = name
        self.reason = reason
    }

    public func levels() -> AsyncStream<InputLevel> {
        AsyncStream { continuation in continuation.yield(.broken(reason)) }
    }
}
