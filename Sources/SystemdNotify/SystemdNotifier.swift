import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// sd_notify(3) without libsystemd: `READY=1`, `STATUS=…`, `WATCHDOG=1`, `STOPPING=1` as datagrams
/// to `$NOTIFY_SOCKET`. Does nothing when not started by systemd.
public final class SystemdNotifier: Sendable {
    private let sender: UnixDatagramSender?
    /// How often to ping the watchdog (half of `WatchdogSec=`), or nil when it is off.
    public let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        sender = environment["NOTIFY_SOCKET"].flatMap { UnixDatagramSender(path: $0) }
        if let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0,
            environment["WATCHDOG_PID"].map({ $0 == String(getpid()) }) ?? true
        {
            watchdogInterval = .microseconds(Int64(usec / 2))
        } else {
            watchdogInterval = nil
        }
    }

    public var isActive: Bool { sender != nil }

    public func notify(_ assignments: String...) {
        guard let sender else { return }
        sender.send(Array(assignments.joined(separator: "\n").utf8))
    }

    public func ready(status: String) { notify("READY=1", "STATUS=\(Self.oneLine(status))") }
    public func status(_ text: String) { notify("STATUS=\(Self.oneLine(text))") }
    public func watchdog() { notify("WATCHDOG=1") }
    /// Asks systemd to act as if the watchdog had run out now (systemd ≥ 243): for a daemon that
    /// knows it is hung, so the restart does not wait a whole WatchdogSec after the last ping.
    public func watchdogTrigger(status: String) { notify("WATCHDOG=trigger", "STATUS=\(Self.oneLine(status))") }
    public func stopping() { notify("STOPPING=1", "STATUS=Stopping") }

    public static func oneLine(_ text: String) -> String { text.replacing("\n", with: " ") }
}
