import FoundationEssentials
import GatehouseCore
import KioskCore

#if canImport(Glibc)
import Glibc
#endif

/// The time an offline decision may rely on. A Raspberry Pi has no real-time clock: after a power
/// cut without network its wall clock can be months off. So the gate trusts, in this order, the
/// service's time at the last sync plus the monotonic clock since (CLOCK_BOOTTIME, which counts
/// suspend and never jumps; only within the same boot), or the system clock when
/// systemd-timesyncd says it is synchronised — and otherwise nothing.
public struct TrustedClock: Sendable {
    /// This boot's id (`/proc/sys/kernel/random/boot_id`).
    public var bootID: @Sendable () -> String?
    /// CLOCK_BOOTTIME in nanoseconds.
    public var bootTime: @Sendable () -> Int64
    /// Whether systemd-timesyncd has synchronised the system clock (its flag file exists).
    public var isSynchronized: @Sendable () -> Bool
    /// The system clock, in ms since 1970.
    public var wallClock: @Sendable () -> Int64

    public init(
        bootID: @escaping @Sendable () -> String?,
        bootTime: @escaping @Sendable () -> Int64,
        isSynchronized: @escaping @Sendable () -> Bool,
        wallClock: @escaping @Sendable () -> Int64
    ) {
        self.bootID = bootID
        self.bootTime = bootTime
        self.isSynchronized = isSynchronized
        self.wallClock = wallClock
    }

    /// The box's real clocks.
    public static let system = TrustedClock(
        bootID: {
            guard let data = FileManager.default.contents(atPath: "/proc/sys/kernel/random/boot_id") else { return nil }
            let text = String(decoding: data, as: UTF8.self).trimmedOfBlanks
            return text.isEmpty ? nil : text
        },
        bootTime: {
            var now = timespec()
            clock_gettime(CLOCK_BOOTTIME, &now)
            return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        },
        // systemd-timesyncd touches this file once it has synchronised the clock (systemd 249+).
        isSynchronized: { access("/run/systemd/timesync/synchronized", F_OK) == 0 },
        wallClock: { Int64(Date().timeIntervalSince1970 * 1000) }
    )

    /// The contact to record now, with the service's time `serverTime`.
    public func contact(serverTime: Int64) -> OfflineSnapshot.Contact {
        OfflineSnapshot.Contact(serverTime: serverTime, bootID: bootID() ?? "", bootTime: bootTime())
    }

    /// Now, and which clock says so; nil when no clock can be trusted.
    public func now(since contact: OfflineSnapshot.Contact?) -> (at: Int64, clock: OfflineClock)? {
        // Overflow-safe: a tampered snapshot's times must not trap the daemon (it would crash-loop
        // even while online); anything that does not add up counts as no trusted contact.
        if let contact, !contact.bootID.isEmpty, contact.bootID == bootID() {
            let elapsed = bootTime().subtractingReportingOverflow(contact.bootTime)
            if !elapsed.overflow, elapsed.partialValue >= 0 {
                let at = contact.serverTime.addingReportingOverflow(elapsed.partialValue / 1_000_000)
                if !at.overflow { return (at.partialValue, .serverMonotonic) }
            }
        }
        if isSynchronized() { return (wallClock(), .synchronized) }
        return nil
    }

    /// How long ago `contact` was; nil when that cannot be known.
    public func age(of contact: OfflineSnapshot.Contact) -> Duration? {
        guard let now = now(since: contact) else { return nil }
        let age = now.at.subtractingReportingOverflow(contact.serverTime)
        return age.overflow ? nil : .milliseconds(max(0, age.partialValue))
    }
}
