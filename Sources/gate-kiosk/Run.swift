import ArgumentParser
import FoundationEssentials
import GatehouseCore
import KioskCore
import KioskDryRun
import KioskHardware
import KioskOffline
import Logging
import QRReading
import SystemdJournal
import SystemdNotify

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the kiosk daemon (the default; what gate-kiosk.service starts).")

    @OptionGroup var options: KioskOptions

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        LoggingSystem.bootstrap(KioskLogging.makeHandlerFactory(environment: environment, level: options.level))
        let logger = Logger(label: "gate-kiosk")
        let configuration = try options.loadConfiguration()
        let parts = try KioskParts.make(configuration, options: options, logger: logger)
        try await KioskDaemon(configuration: configuration, parts: parts, notifier: SystemdNotifier(environment: environment), logger: logger).run()
    }
}

/// Builds the real (or dry-run) parts from the configuration; exits with a clear message when
/// one is missing.
enum KioskParts {
    static func make(_ configuration: KioskConfiguration, options: KioskOptions, logger: Logger) throws -> KioskDaemon.Parts {
        let environment = ProcessInfo.processInfo.environment
        let token: String
        do {
            token = try DeviceToken.read(path: configuration.tokenPath(environment: environment))
        } catch {
            fail("\(error)", code: exitConfigurationError)
        }
        let requester: any LineRequester
        let source: any FrameSource
        if options.dryRun, let frames = options.frames {
            requester = RecordedLineRequester(timeline: try GPIOTimeline(logPath: options.gpioLog, timekeeper: SystemTimekeeper()))
            source = FolderFrameSource(
                folder: frames,
                frameRate: configuration.frameRate,
                width: configuration.frameWidth,
                height: configuration.frameHeight
            )
        } else {
            requester = GpiodLineRequester()
            let camera = V4L2Capture(
                settings: .init(
                    path: configuration.cameraDevice,
                    width: configuration.frameWidth,
                    height: configuration.frameHeight,
                    frameRate: configuration.frameRate
                )
            )
            source = FaultInjection.frameSource(camera, environment: environment)
        }
        let outputs: LaneOutputs
        do {
            outputs = try LaneOutputs.request(
                using: requester,
                green: configuration.green,
                red: configuration.red,
                relay: configuration.relay,
                exitRelay: configuration.exitRelay
            )
        } catch {
            logger.critical("GPIO lines unavailable", metadata: ["error": "\(error)"])
            fail("GPIO: \(error)", code: exitUnavailable)
        }
        if !options.dryRun {
            // Which libgpiod the binary was built against (1.x on Debian 12, 2.x on Debian 13): the
            // two take different code paths in the shim, and a technician may need to know.
            logger.info("GPIO lines requested", metadata: ["gpio.libgpiod": "\(GpiodLineRequester.apiVersion).x"])
        }
        let settings = CurlCheckinClient.Settings(
            serverURL: configuration.serverURL,
            deviceID: configuration.deviceID,
            gateID: configuration.gateID,
            token: token,
            connectTimeout: configuration.connectTimeout,
            deadline: configuration.requestDeadline,
            direction: configuration.direction
        )
        let client = try CurlCheckinClient(settings: settings)
        // Which engines read, and which zxing-cpp the binary was built against (1.4 on Debian 12,
        // 2.x on Debian 13): a technician comparing two gates' read rates needs both.
        logger.info(
            "QR decoder ready",
            metadata: ["decoder.engines": "\(configuration.decoder.rawValue)", "decoder.zxing": "\(QRScanner.zxingVersion)"]
        )
        return KioskDaemon.Parts(
            source: source,
            decoder: LiveQRDecoder(engines: configuration.decoder),
            outputs: outputs,
            client: client,
            offline: offlineParts(settings, environment: environment, logger: logger),
            alarm: alarmInput(configuration, options: options, logger: logger),
            passage: passageInput(configuration, options: options, logger: logger),
            direction: directionInput(configuration, options: options, logger: logger),
            attentionButton: attentionButton(configuration, options: options, logger: logger),
            keySwitch: keySwitch(configuration, options: options, logger: logger),
            boxMode: LaneModeFile(path: stateDirectory(environment) + "/" + laneModeFile, clearWord: "remote")
        )
    }

    /// A dry run's input: `--inputs DIR/name`, read as the wiring would be; `setting` is the key
    /// that asked for it, named when `--inputs` is missing.
    static func dryRunInput(
        _ name: String,
        for setting: String,
        missing: (String) -> InputLevel,
        _ configuration: KioskConfiguration,
        options: KioskOptions
    )
        -> FileInputLine
    {
        guard let folder = options.inputs else { fail("\(setting) in a dry run needs --inputs DIR", code: exitConfigurationError) }
        return FileInputLine(name: name, path: folder + "/" + name, missing: missing(folder), debounce: configuration.inputDebounce)
    }

    /// The box's lane mode file in the state directory (`gate-kiosk mode` writes it).
    static let laneModeFile = "lane-mode"

    /// The key switch: `--inputs DIR/mode` (a mode's name) in a dry run, else one libgpiod input
    /// per position. A position that cannot be had reads broken: the lane is out of order.
    static func keySwitch(_ configuration: KioskConfiguration, options: KioskOptions, logger: Logger) -> (any LaneModeInput)? {
        guard configuration.modeInput else { return nil }
        if options.dryRun {
            guard let folder = options.inputs else { fail("mode_input = on in a dry run needs --inputs DIR", code: exitConfigurationError) }
            return LaneModeFile(path: folder + "/mode", clearWord: "normal")
        }
        return KeySwitch(
            positions: configuration.modeLines.map { position in
                let name = "mode-\(position.mode.rawValue)"
                do {
                    return (
                        position.mode,
                        try GpiodInputLine(name, wiring: position.wiring, debounce: configuration.inputDebounce) { $0 ? .asserted : .clear }
                    )
                } catch {
                    logger.critical("Key switch input unavailable: the lane is out of order", metadata: ["error": "\(error)"])
                    return (position.mode, UnavailableInputLine(name: name, reason: "\(error)"))
                }
            }
        )
    }

    /// The passage sensor's input: a file of `--inputs` in a dry run (missing: no passage), else
    /// a libgpiod line. A sensor that cannot be had is an error: every admission would be taken
    /// back.
    static func passageInput(_ configuration: KioskConfiguration, options: KioskOptions, logger: Logger) -> (any InputLine)? {
        guard configuration.passage == .sensor else { return nil }
        if options.dryRun {
            return dryRunInput("passage", for: "passage = sensor", missing: { _ in .clear }, configuration, options: options)
        }
        do {
            return try GpiodInputLine("passage", wiring: configuration.passageLine, debounce: configuration.inputDebounce) {
                $0 ? .asserted : .clear
            }
        } catch {
            logger.critical("Passage sensor unavailable", metadata: ["error": "\(error)"])
            fail("GPIO: \(error)", code: exitUnavailable)
        }
    }

    /// The staff button: a file of `--inputs` in a dry run (`1` while pressed; missing: not
    /// pressed), else a libgpiod line. One that cannot be had is logged: such tickets are then
    /// taken back, as without a button.
    static func attentionButton(_ configuration: KioskConfiguration, options: KioskOptions, logger: Logger) -> (any InputLine)? {
        guard configuration.attentionButton else { return nil }
        if options.dryRun {
            return dryRunInput("attention", for: "attention_button = on", missing: { _ in .clear }, configuration, options: options)
        }
        do {
            return try GpiodInputLine("attention", wiring: configuration.attentionButtonLine, debounce: configuration.inputDebounce) {
                $0 ? .asserted : .clear
            }
        } catch {
            logger.critical("Staff button unavailable: tickets that need a look are taken back", metadata: ["error": "\(error)"])
            return UnavailableInputLine(name: "attention", reason: "\(error)")
        }
    }

    /// A bidirectional lane's direction input: a file of `--inputs` in a dry run (`1`: exit;
    /// missing: unknown, so the lane stays shut), else a libgpiod line. One that cannot be had
    /// reads broken: scans wait, the lane says why, and nothing is decided the wrong way.
    static func directionInput(_ configuration: KioskConfiguration, options: KioskOptions, logger: Logger) -> (any InputLine)? {
        guard configuration.directionInput else { return nil }
        if options.dryRun {
            return dryRunInput(
                "direction",
                for: "direction_input = on",
                missing: { .broken("\($0)/direction is missing") },
                configuration,
                options: options
            )
        }
        do {
            return try GpiodInputLine("direction", wiring: configuration.directionLine, debounce: configuration.inputDebounce) {
                $0 ? .asserted : .clear
            }
        } catch {
            logger.critical("Direction input unavailable: scans are not decided", metadata: ["error": "\(error)"])
            return UnavailableInputLine(name: "direction", reason: "\(error)")
        }
    }

    /// The fire alarm's input: a file of `--inputs` in a dry run, else a libgpiod line. A line
    /// that cannot be requested reads as broken — the lane is held open and says why — rather
    /// than leaving an evacuation route to a kiosk that cannot hear the panel.
    static func alarmInput(_ configuration: KioskConfiguration, options: KioskOptions, logger: Logger) -> (any InputLine)? {
        let wiring = configuration.alarm
        guard wiring != .none else { return nil }
        if options.dryRun {
            return dryRunInput(
                "alarm",
                for: "alarm = \(wiring.rawValue)",
                missing: { wiring == .nc ? .broken("\($0)/alarm is missing: a cut wire") : .clear },
                configuration,
                options: options
            )
        }
        do {
            return try GpiodInputLine("alarm", wiring: configuration.alarmLine, debounce: configuration.inputDebounce) {
                wiring.level(contactClosed: $0)
            }
        } catch {
            logger.critical("Fire alarm input unavailable: the lane is held open", metadata: ["error": "\(error)", "alarm": "broken"])
            return UnavailableInputLine(name: "alarm", reason: "\(error)")
        }
    }

    /// The offline snapshot in the state directory (`$STATE_DIRECTORY`, which the unit's
    /// StateDirectory= sets, else /var/lib/gate-kiosk). A directory that cannot hold it is logged
    /// loudly and the kiosk runs without: during an outage the gate then shuts.
    static func offlineParts(
        _ settings: CurlCheckinClient.Settings,
        environment: [String: String],
        logger: Logger
    ) -> KioskDaemon.OfflineParts? {
        let directory = stateDirectory(environment)
        let path = directory + "/offline.sqlite"
        do {
            let transport = try CurlSyncClient(settings: settings)
            return KioskDaemon.OfflineParts(
                snapshot: try OfflineSnapshot(path: path),
                transport: transport,
                stateDirectory: directory,
                box: BoxFigures()
            )
        } catch {
            logger.critical(
                "Offline snapshot unavailable; the gate shuts while the service is away",
                metadata: ["file": "\(path)", "error": "\(error)"]
            )
            return nil
        }
    }

    /// systemd may list several directories, colon-separated: the first is ours.
    static func stateDirectory(_ environment: [String: String]) -> String {
        environment["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) } ?? "/var/lib/gate-kiosk"
    }
}
