import ArgumentParser
import FoundationEssentials
import GatehouseCore
import KioskCore
import KioskHardware
import Logging

#if canImport(Glibc)
import Glibc
#endif

@main
struct GateKiosk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate-kiosk",
        abstract: "Gate kiosk daemon: camera → QR → check-in → lights and turnstile relay.",
        discussion: "Configuration: /etc/gate-kiosk/gate-kiosk.conf (see `gate-kiosk config`).",
        version: ProductVersion.current,
        subcommands: [Run.self, Enroll.self, Decode.self, Selftest.self, ConfigCommand.self, ModeCommand.self],
        defaultSubcommand: Run.self
    )
}

/// sysexits.h: a configuration value is wrong.
let exitConfigurationError: Int32 = 78
/// sysexits.h: a needed device or service is not available.
let exitUnavailable: Int32 = 69

/// Options shared by `run` and `selftest`.
struct KioskOptions: ParsableArguments {
    @Option(help: "Configuration file (default: $GATE_KIOSK_CONFIG or /etc/gate-kiosk/gate-kiosk.conf).")
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one setting, e.g. --set gate_id=north-1 (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Flag(help: "Run without hardware: frames from --frames, GPIO printed (and logged to --gpio-log).")
    var dryRun = false

    @Option(help: "Dry run: folder of grey PGM images used as camera frames.")
    var frames: String?

    @Option(help: "Dry run: file that receives every GPIO change as a JSON line.")
    var gpioLog: String?

    @Option(help: "Dry run: folder whose files are the inputs (alarm: 1 while the fire alarm is active, 0 while not).")
    var inputs: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        if dryRun && frames == nil { throw ValidationError("--dry-run needs --frames DIR (a folder of PGM images)") }
        if !dryRun && (frames != nil || gpioLog != nil || inputs != nil) {
            throw ValidationError("--frames, --gpio-log and --inputs work only with --dry-run")
        }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    var level: Logger.Level { Logger.Level(rawValue: logLevel) ?? .info }

    /// The configuration, or exit 78 with the bad key, value and what is allowed.
    func loadConfiguration() throws -> KioskConfiguration {
        var pairs: [String: String] = [:]
        for item in overrides {
            guard let equals = item.firstIndex(of: "=") else {
                fail("--set '\(item)': expected key=value", code: exitConfigurationError)
            }
            pairs[item[..<equals].trimmedOfBlanks] = item[item.index(after: equals)...].trimmedOfBlanks
        }
        do {
            return try KioskConfiguration.load(path: config, environment: ProcessInfo.processInfo.environment, overrides: pairs)
        } catch let error as ConfigurationError {
            fail(error.description, code: exitConfigurationError)
        }
    }
}

/// Prints to stderr and exits: for errors a technician must fix before anything can run.
func fail(_ message: String, code: Int32) -> Never {
    POSIXOutput.write("gate-kiosk: \(message)\n", to: POSIXOutput.standardError)
    exit(code)
}
