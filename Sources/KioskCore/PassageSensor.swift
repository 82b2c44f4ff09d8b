import GatehouseCore
import Logging
import Synchronization

/// Where a lane keeps its admissions until the turnstile confirms them: durable, so an
/// admission the sensor never confirmed is taken back after a crash too.
public protocol PassageLedger: Sendable {
    /// Before the relay opens: this admission (of the scanned `code`, in `direction`) waits for
    /// its passage.
    func expect(scanId: String, offline: Bool, code: [UInt8], direction: ScanDirection) throws
    /// The turnstile turned: the admission stands.
    func passed(scanId: String) throws
    /// Nobody went through: the admission is taken back (an offline one from the journal, an
    /// online one by an annul the sync sends until the service has it). Returns what was done.
    func takeBack(scanId: String) throws -> String
}

/// Waits for the turnstile to report a completed passage.
public protocol PassageConfirmation: Sendable {
    /// Called before the relay opens: from now on a passage counts for this admission (a guest
    /// may go through during the relay's pulse, before anyone waits).
    func expectPassage() -> PassageExpectation
    /// True when a passage has been reported since `expectation`, waiting up to `timeout`.
    func waitForPassage(_ expectation: PassageExpectation, timeout: Duration) async -> Bool
}

/// Where the sensor's count stood when an admission began to expect its passage.
public struct PassageExpectation: Sendable, Equatable {
    public let passagesBefore: Int

    public init(passagesBefore: Int) { self.passagesBefore = passagesBefore }
}

/// The passage sensor (a rotation contact): counts each clear → asserted edge, hands them to
/// the admission waiting for one, and logs a passage nobody was admitted for (tailgating, or
/// someone pushing the arm) — the count of people through the lane is what the sensor says.
/// The staff button of a lane with attention tickets is the same kind of contact: a press
/// confirms the admission waiting for one.
public final class PassageSensor: PassageConfirmation, Sendable {
    /// What the contact is, for the log.
    public enum Role: Sendable {
        case passage
        case staffButton
    }

    private struct State {
        var passages = 0
        var waiting = false
        var level: InputLevel?
    }

    private let input: any InputLine
    private let timekeeper: any Timekeeper
    private let gateID: String
    private let logger: Logger
    private let role: Role
    private let state = Mutex(State())
    /// How often a waiting admission looks at the count: well inside a person's step.
    static let poll: Duration = .milliseconds(10)

    public init(input: any InputLine, timekeeper: any Timekeeper, gateID: String, logger: Logger, role: Role = .passage) {
        self.role = role
        self.input = input
        self.timekeeper = timekeeper
        self.gateID = gateID
        self.logger = logger
    }

    /// Until cancelled.
    public func run() async {
        for await level in input.levels() {
            let (passage, unexpected) = state.withLock { state -> (Bool, Bool) in
                defer { state.level = level }
                // The first reading is the level at start, not an edge.
                guard level == .asserted, let before = state.level, before != .asserted else { return (false, false) }
                state.passages += 1
                return (true, !state.waiting)
            }
            switch (role, level) {
            case (.passage, .broken(let why)):
                logger.error("Passage sensor cannot be read: admissions are taken back", metadata: ["gate.id": "\(gateID)", "error": "\(why)"])
            case (.staffButton, .broken(let why)):
                logger.error(
                    "Staff button cannot be read: tickets that need a look are taken back",
                    metadata: ["gate.id": "\(gateID)", "error": "\(why)"]
                )
            default: break
            }
            if passage, unexpected, role == .passage {
                logger.warning("Passage without an admission", metadata: ["gate.id": "\(gateID)", "passage": "unexpected"])
            }
        }
    }

    public func expectPassage() -> PassageExpectation {
        state.withLock { state in
            state.waiting = true
            return PassageExpectation(passagesBefore: state.passages)
        }
    }

    public func waitForPassage(_ expectation: PassageExpectation, timeout: Duration) async -> Bool {
        let start = expectation.passagesBefore
        defer { state.withLock { $0.waiting = false } }
        let deadline = timekeeper.now() + timeout
        while timekeeper.now() < deadline {
            if state.withLock({ $0.passages }) > start { return true }
            do { try await timekeeper.sleep(for: Self.poll) } catch { return false }
        }
        return state.withLock { $0.passages } > start
    }
}

/// How the relay opens for a confirmed passage.
public enum RelayMode: String, Sendable, CaseIterable {
    /// A pulse of `relay_pulse_ms` (an arm that unlocks for one turn).
    case pulse
    /// Energised until the passage, or the timeout.
    case hold
}
