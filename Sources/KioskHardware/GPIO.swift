import CGpiod
import KioskCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A GPIO failure, with the errno libgpiod reported.
public struct GPIOError: Error, Equatable, CustomStringConvertible {
    public var operation: String
    public var line: String
    public var errno: Int32

    public var description: String {
        let reason: String
        switch errno {
        case EBUSY: reason = "the line is in use by another program (see gpioinfo)"
        case ENOENT: reason = "no such GPIO chip"
        case EINVAL: reason = "no such line on this chip"
        case EACCES, EPERM: reason = "permission denied (is the user in group gpio?)"
        case ENODEV: reason = "the GPIO chip went away"
        default: reason = String(cString: strerror(errno))
        }
        return "\(operation) \(line): \(reason) (errno \(errno))"
    }
}

/// The seam for GPIO: requests one output line. The real one is libgpiod (1.x or 2.x, chosen
/// when the C shim is compiled); tests use a recorder that keeps a timeline.
public protocol LineRequester: Sendable {
    /// Requests `wiring` as an output, already at `initial` (logical: true = active).
    func requestOutput(_ name: String, wiring: LineWiring, initial: Bool) throws -> any OutputLine
}

/// libgpiod lines.
public struct GpiodLineRequester: LineRequester {
    public let consumer: String

    public init(consumer: String = "gate-kiosk") {
        self.consumer = consumer
    }

    /// 1 or 2: the libgpiod API this binary was built against.
    public static var apiVersion: Int { Int(gh_gpio_api_version()) }

    public func requestOutput(_ name: String, wiring: LineWiring, initial: Bool) throws -> any OutputLine {
        var error: Int32 = 0
        let label = "\(name) (\(wiring.chip) line \(wiring.offset))"
        guard let handle = gh_gpio_request_output(wiring.chip, UInt32(wiring.offset), wiring.activeLow ? 1 : 0, initial ? 1 : 0, consumer, &error)
        else {
            throw GPIOError(operation: "request", line: label, errno: error)
        }
        return GpiodOutputLine(name: name, label: label, handle: handle)
    }
}

/// One requested libgpiod line. Released when the value goes away.
public final class GpiodOutputLine: OutputLine, @unchecked Sendable {
    public let name: String
    private let label: String
    private let handle: OpaquePointer

    init(name: String, label: String, handle: OpaquePointer) {
        self.name = name
        self.label = label
        self.handle = handle
    }

    /// Only the decision loop (one task at a time) sets a line, hence unchecked Sendable.
    public func set(_ active: Bool) throws {
        let result = gh_gpio_set(handle, active ? 1 : 0)
        if result < 0 { throw GPIOError(operation: "set", line: label, errno: -result) }
    }

    deinit {
        // Safe state first: a line's level after release is not guaranteed.
        _ = gh_gpio_set(handle, 0)
        gh_gpio_release(handle)
    }
}

extension LaneOutputs {
    /// Requests the lane's lines, each already in its safe (inactive) state.
    public static func request(
        using requester: any LineRequester,
        green: LineWiring,
        red: LineWiring,
        relay: LineWiring,
        exitRelay: LineWiring? = nil
    ) throws -> LaneOutputs {
        LaneOutputs(
            green: try requester.requestOutput("green", wiring: green, initial: false),
            red: try requester.requestOutput("red", wiring: red, initial: false),
            relay: try requester.requestOutput("relay", wiring: relay, initial: false),
            exitRelay: try exitRelay.map { try requester.requestOutput("exit_relay", wiring: $0, initial: false) }
        )
    }
}

/// One libgpiod input with edge events (a fire panel's contact), read on a thread of its own:
/// the thread sleeps in the kernel until an edge, waits out the contact's bounce, and reads the
/// level. A line that cannot be read is reported `broken` and read again each second.
public final class GpiodInputLine: InputLine, @unchecked Sendable {
    public let name: String
    private let label: String
    private let handle: OpaquePointer
    private let meaning: @Sendable (Bool) -> InputLevel
    private let debounce: Duration
    /// The thread checks it at least this often (and reads the level then, an edge or not).
    static let wakeInterval: Int32 = 200

    /// `meaning`: what the line's logical level (true: active) says.
    public init(
        _ name: String,
        wiring: LineWiring,
        debounce: Duration,
        consumer: String = "gate-kiosk",
        meaning: @escaping @Sendable (Bool) -> InputLevel
    ) throws {
        var error: Int32 = 0
        label = "\(name) (\(wiring.chip) line \(wiring.offset))"
        guard let handle = gh_gpio_request_input(wiring.chip, UInt32(wiring.offset), wiring.activeLow ? 1 : 0, consumer, &error) else {
            throw GPIOError(operation: "request", line: label, errno: error)
        }
        self.name = name
        self.handle = handle
        self.meaning = meaning
        self.debounce = debounce
    }

    /// One reader at a time: the line's edge queue is one.
    public func levels() -> AsyncStream<InputLevel> {
        let stopped = Mutex(false)
        return AsyncStream { continuation in
            DedicatedThread.start(name: "gate-kiosk-in") { [self] in
                var reported: InputLevel?
                while !stopped.withLock({ $0 }) {
                    let value = gh_gpio_get(handle)
                    let level = value < 0 ? .broken(GPIOError(operation: "read", line: label, errno: -value).description) : meaning(value == 1)
                    if level != reported {
                        reported = level
                        continuation.yield(level)
                    }
                    let waited = gh_gpio_wait_edges(handle, Self.wakeInterval)
                    if waited < 0 {
                        continuation.yield(.broken(GPIOError(operation: "wait for", line: label, errno: -waited).description))
                        reported = nil
                        sleep(1)
                    } else if waited == 1, debounce > .zero {
                        var pause = timespec(
                            tv_sec: 0,
                            tv_nsec: Int(debounce.components.attoseconds / 1_000_000_000) + Int(debounce.components.seconds) * 1_000_000_000
                        )
                        nanosleep(&pause, nil)
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in stopped.withLock { $0 = true } }
        }
    }

    deinit { gh_gpio_release_input(handle) }
}
