import FoundationEssentials
import KioskCore

#if canImport(Glibc)
import Glibc
#endif

/// What the box says of itself for its heartbeat, read where the kernel exposes it (no
/// vcgencmd): free space on the state directory, the CPU's temperature, and a Raspberry Pi's
/// under-voltage and throttling flags. A figure the kernel does not give is nil. `root` prefixes
/// every sysfs path, so tests can hand it a folder shaped like /sys.
public struct BoxFigures: BoxReadings {
    public let root: String

    public init(root: String = "") {
        self.root = root
    }

    /// Bytes free for an unprivileged writer, and that share of the file system, in percent.
    public func diskFree(_ path: String) -> (bytes: Int64, percent: Double)? {
        var figures = statvfs()
        guard statvfs(path, &figures) == 0, figures.f_blocks > 0 else { return nil }
        let block = Int64(figures.f_frsize)
        return (Int64(figures.f_bavail) * block, Double(figures.f_bavail) / Double(figures.f_blocks) * 100)
    }

    /// °C of the CPU's thermal zone (one typed cpu-thermal or x86_pkg_temp, else the first).
    public func cpuTemperature() -> Double? {
        let zones =
            (try? FileManager.default.contentsOfDirectory(atPath: root + "/sys/class/thermal"))?.filter { $0.hasPrefix("thermal_zone") }.sorted()
            ?? []
        let preferred = zones.first { ["cpu-thermal", "x86_pkg_temp", "cpu_thermal"].contains(read("/sys/class/thermal/\($0)/type") ?? "") }
        guard let zone = preferred ?? zones.first, let milli = read("/sys/class/thermal/\(zone)/temp").flatMap(Int.init) else { return nil }
        return Double(milli) / 1000
    }

    /// (under-voltage now, throttled now) from the Pi firmware's get_throttled bits (0: under-
    /// voltage, 1: frequency capped, 2: throttled), else under-voltage from the rpi_volt hwmon.
    public func powerFlags() -> (undervoltage: Bool?, throttled: Bool?) {
        if let text = read("/sys/devices/platform/soc/soc:firmware/get_throttled"),
            let bits = Int(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16)
        {
            return (bits & 0x1 != 0, bits & 0x6 != 0)
        }
        let monitors = (try? FileManager.default.contentsOfDirectory(atPath: root + "/sys/class/hwmon")) ?? []
        for monitor in monitors.sorted() where read("/sys/class/hwmon/\(monitor)/name") == "rpi_volt" {
            if let alarm = read("/sys/class/hwmon/\(monitor)/in0_lcrit_alarm") { return (alarm == "1", nil) }
        }
        return (nil, nil)
    }

    private func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: root + path) else { return nil }
        let text = String(decoding: data.prefix(256), as: UTF8.self).trimmedOfBlanks
        return text.isEmpty ? nil : text
    }
}
