import Foundation
import GatehouseTestSupport
import KioskHardware
import Testing

/// The box's own figures from a folder shaped like /sys: the CPU's thermal zone among others,
/// the Pi firmware's throttling bits, the rpi_volt monitor where the firmware file is missing,
/// and nothing at all where the kernel gives nothing.
@Suite struct BoxFiguresTests {
    func write(_ root: TemporaryDirectory, _ path: String, _ text: String) throws {
        let full = root.path + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try (text + "\n").write(toFile: full, atomically: true, encoding: .utf8)
    }

    @Test func a_pi_s_temperature_and_power_flags_are_read_from_sysfs() throws {
        let root = try TemporaryDirectory()
        try write(root, "/sys/class/thermal/thermal_zone0/type", "gpu-thermal")
        try write(root, "/sys/class/thermal/thermal_zone0/temp", "39000")
        try write(root, "/sys/class/thermal/thermal_zone1/type", "cpu-thermal")
        try write(root, "/sys/class/thermal/thermal_zone1/temp", "81234")
        try write(root, "/sys/devices/platform/soc/soc:firmware/get_throttled", "0x50005")
        let figures = BoxFigures(root: root.path)
        #expect(figures.cpuTemperature() == 81.234, "the CPU's zone, not the first")
        let (undervoltage, throttled) = figures.powerFlags()
        #expect(undervoltage == true && throttled == true)
        try write(root, "/sys/devices/platform/soc/soc:firmware/get_throttled", "0x0")
        #expect(figures.powerFlags().undervoltage == false && figures.powerFlags().throttled == false)
    }

    @Test func without_the_firmware_file_the_voltage_monitor_says_it_and_nothing_says_nothing() throws {
        let root = try TemporaryDirectory()
        try write(root, "/sys/class/hwmon/hwmon0/name", "cpu_thermal")
        try write(root, "/sys/class/hwmon/hwmon1/name", "rpi_volt")
        try write(root, "/sys/class/hwmon/hwmon1/in0_lcrit_alarm", "1")
        let figures = BoxFigures(root: root.path)
        #expect(figures.powerFlags().undervoltage == true && figures.powerFlags().throttled == nil)
        #expect(figures.cpuTemperature() == nil)
        let empty = BoxFigures(root: try TemporaryDirectory().path)
        #expect(empty.powerFlags().undervoltage == nil && empty.cpuTemperature() == nil)
        // Free space of a real folder: some bytes, a share between 0 and 100.
        let disk = try #require(empty.diskFree(root.path))
        #expect(disk.bytes > 0 && disk.percent > 0 && disk.percent <= 100)
        #expect(empty.diskFree(root.path + "/no/such/folder") == nil)
    }
}
