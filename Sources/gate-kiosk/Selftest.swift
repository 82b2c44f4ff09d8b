import ArgumentParser
import FoundationEssentials
import GatehouseCore
import KioskCore
import KioskHardware
import KioskOffline
import Logging

struct Selftest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the kiosk at the gate: cycle each LED and the relay, grab frames, ask the service.",
        discussion: "Stop the service first (systemctl stop gate-kiosk): the camera and GPIO lines can have one user only."
    )

    @OptionGroup var options: KioskOptions

    @Option(help: "How long to grab frames, in seconds.")
    var seconds: Double = 3

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let logger = Logger(label: "gate-kiosk-selftest")
        let configuration = try options.loadConfiguration()
        var failures = 0
        func report(_ ok: Bool, _ text: String) {
            print("\(ok ? "OK  " : "FAIL") \(text)")
            if !ok { failures += 1 }
        }
        print(
            "gate \(configuration.gateID), device \(configuration.deviceID), service \(configuration.serverURL), libgpiod API \(GpiodLineRequester.apiVersion).x"
        )

        let parts = try KioskParts.make(configuration, options: options, logger: logger)

        // Outputs: each one on for half a second, so a technician can watch every LED and hear the relay.
        var outputs: [(any OutputLine, LineWiring)] = [
            (parts.outputs.green, configuration.green), (parts.outputs.red, configuration.red), (parts.outputs.relay, configuration.relay),
        ]
        if let line = parts.outputs.exitRelay, let wiring = configuration.exitRelay { outputs.append((line, wiring)) }
        for (line, wiring) in outputs {
            do {
                try line.set(true)
                try await Task.sleep(for: .milliseconds(500))
                try line.set(false)
                report(
                    true,
                    "GPIO \(line.name) on \(wiring.chip) line \(wiring.offset)\(wiring.activeLow ? " (active-low)" : "") switched on and off"
                )
            } catch {
                report(false, "GPIO \(line.name): \(error)")
            }
        }

        // Inputs: read back, so a technician sees the wiring before the first alarm does.
        /// Where an input is read: its file in a dry run, else its line.
        func place(_ input: any InputLine, _ wiring: LineWiring) -> String {
            options.dryRun
                ? "\(options.inputs ?? "")/\(input.name)" : "\(wiring.chip) line \(wiring.offset)\(wiring.activeLow ? " (active-low)" : "")"
        }
        func readBack(_ input: any InputLine, wiring: LineWiring, what: String, healthy: InputLevel, trouble: String) async {
            let place = place(input, wiring)
            var levels = input.levels().makeAsyncIterator()
            switch await levels.next() {
            case let level? where level == healthy: report(true, "\(what) on \(place) reads \(level == .clear ? "clear" : "asserted")")
            case .broken(let why)?: report(false, "\(what) on \(place) cannot be read (\(why)): \(trouble)")
            case .some: report(false, "\(what) on \(place) reads asserted now: \(trouble)")
            case nil: report(false, "\(what) on \(place) gave no reading")
            }
        }
        if let alarm = parts.alarm {
            await readBack(
                alarm,
                wiring: configuration.alarmLine,
                what: "fire alarm input (\(configuration.alarm.rawValue))",
                healthy: .clear,
                trouble: "the lane would be held open"
            )
        }
        if let passage = parts.passage {
            await readBack(
                passage,
                wiring: configuration.passageLine,
                what: "passage sensor",
                healthy: .clear,
                trouble: "the arm is mid-turn or the contact is stuck; admissions would be taken back"
            )
        }

        if let button = parts.attentionButton {
            await readBack(
                button,
                wiring: configuration.attentionButtonLine,
                what: "staff button",
                healthy: .clear,
                trouble: "the button is held or stuck: a press would not be seen, and tickets that need a look would be taken back"
            )
        }
        if let direction = parts.direction {
            let place = place(direction, configuration.directionLine)
            var levels = direction.levels().makeAsyncIterator()
            switch await levels.next() {
            case .asserted?: report(true, "direction input on \(place) reads exit")
            case .clear?: report(true, "direction input on \(place) reads entry")
            case .broken(let why)?: report(false, "direction input on \(place) cannot be read (\(why)): scans would not be decided")
            case nil: report(false, "direction input on \(place) gave no reading")
            }
        }

        // Camera: frames, rate, size, brightness, and any code in view.
        do throws(CaptureError) {
            try parts.source.open()
            defer { parts.source.close() }
            let started = ContinuousClock.now
            var frames = 0
            var size = (0, 0)
            var brightness = 0.0
            var codes = Set<[UInt8]>()
            while ContinuousClock.now - started < .milliseconds(Int64(seconds * 1000)) {
                let payloads = try parts.source.withNextFrame(timeout: .seconds(2)) { pixels, width, height -> [[UInt8]] in
                    size = (width, height)
                    var sum = 0
                    let step = max(1, (width * height) / 4096)
                    var count = 0
                    for index in stride(from: 0, to: width * height, by: step) {
                        sum += Int(pixels[index])
                        count += 1
                    }
                    brightness = Double(sum) / Double(max(1, count))
                    return parts.decoder.decode(pixels: pixels, width: width, height: height)
                }
                frames += 1
                codes.formUnion(payloads)
            }
            let elapsed = ContinuousClock.now - started
            let rate = Double(frames) / (Double(elapsed.wholeMilliseconds) / 1000)
            report(
                frames > 0,
                "camera \(parts.source.name): \(frames) frames of \(size.0)×\(size.1) in \((Double(elapsed.wholeMilliseconds) / 1000).fixed(1)) s (\(rate.fixed(1)) fps), mean brightness \(brightness.fixed(0))/255"
            )
            if brightness < 30 { print("     the picture is very dark: check the lens cap and the lighting") }
            if brightness > 230 { print("     the picture is very bright: check for glare or direct light") }
            print("     QR codes seen: \(codes.count)")
        } catch {
            report(false, "camera \(parts.source.name): \(error)")
        }

        // Service and token, without checking anything in.
        let started = ContinuousClock.now
        let outcome = await parts.client.probe()
        let ms = (ContinuousClock.now - started).wholeMilliseconds
        switch outcome {
        case .answered: report(true, "service \(configuration.serverURL) answered in \(ms) ms and accepts this device's token")
        case .unreachable(let why): report(false, "service \(configuration.serverURL) unreachable: \(why)")
        case .rejected(let status, let detail): report(false, "service refused this kiosk (HTTP \(status)): \(detail)")
        }
        // The offline snapshot: how many tickets and how old, what waits to be uploaded.
        if configuration.offlineMode == .deny {
            print("     offline mode off (offline_mode = deny): the gate shuts while the service is away")
        } else if let offline = parts.offline {
            // One sync round, as the daemon makes every 2 s: pending uploads, then the changes.
            let sync = OfflineSyncService(
                snapshot: offline.snapshot,
                transport: offline.transport,
                clock: offline.clock,
                timekeeper: SystemTimekeeper(),
                health: KioskHealth(),
                deviceID: configuration.deviceID,
                gateID: configuration.gateID,
                logger: logger
            )
            let problem = await sync.syncOnce()
            let state = try? offline.snapshot.state
            let text = state.map { OfflineSyncService.describe($0, clock: offline.clock) } ?? "snapshot cannot be read"
            report(problem == nil && state?.complete == true, text + (problem.map { " (sync: \($0))" } ?? "") + ", in \(offline.snapshot.path)")
        } else {
            report(false, "offline snapshot unavailable: the gate shuts while the service is away (see the log)")
        }
        print(failures == 0 ? "All checks passed." : "\(failures) check(s) failed.")
        if failures > 0 { throw ExitCode(1) }
    }
}
