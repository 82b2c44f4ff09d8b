import CV4L2
import Dispatch
import GatehouseCore
import KioskCore
import KioskHardware
import Logging
import ServiceLifecycle
import SystemdNotify

#if canImport(Glibc)
import Glibc
#endif

/// The lane's outputs as a service: safe when the kiosk starts (a restart after a crash begins
/// shut), and safe again when it stops — gracefully, or when cancelled because the shutdown ran
/// out of time. First in the group, so the group stops it last, after everything that moves them.
struct OutputsService: Service {
    let outputs: LaneOutputs
    let logger: Logger

    func run() async throws {
        setSafe(when: "at start")
        // Returns at graceful shutdown, throws at cancellation: safe either way.
        try? await gracefulShutdown()
        setSafe(when: "at shutdown")
    }

    private func setSafe(when: String) {
        do {
            try outputs.apply(.safe)
        } catch {
            logger.error("GPIO output failed \(when)", metadata: ["error": "\(error)"])
        }
    }
}

/// The fire alarm input, watched for the kiosk's whole life.
struct AlarmService: Service {
    let alarm: FireAlarm

    func run() async throws {
        await cancelWhenGracefulShutdown { await alarm.run() }
    }
}

/// The lane mode's local sources (the key switch, the box's setting), followed for the kiosk's
/// whole life; the organizer's comes with the sync.
struct LaneModeService: Service {
    let modes: LaneModes
    let inputs: [(any LaneModeInput, LaneModeSource)]

    func run() async throws {
        let modes = modes
        let inputs = inputs
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for (input, source) in inputs { group.addTask { await modes.follow(input.modes(), as: source) } }
            }
        }
    }
}

/// The passage sensor, watched for the kiosk's whole life.
struct PassageService: Service {
    let sensor: PassageSensor

    func run() async throws {
        await cancelWhenGracefulShutdown { await sensor.run() }
    }
}

/// A bidirectional lane's direction input, watched for the kiosk's whole life.
struct DirectionService: Service {
    let direction: LaneDirection
    let input: any InputLine
    let health: KioskHealth
    let gateID: String
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown { await direction.follow(input, gateID: gateID, health: health, logger: logger) }
    }
}

/// The capture loop on a thread of its own (V4L2's poll(2) and zbar block), stopped through the
/// loop's stop flag at graceful shutdown or cancellation. `run()` returns once the thread has left
/// the loop — within one frame timeout — and then ends the stream of scans.
struct CaptureService: Service {
    let loop: CaptureLoop
    let scans: AsyncStream<ScanEvent>.Continuation

    func run() async throws {
        let loop = loop
        async let ended: Void = withCheckedContinuation { (ended: CheckedContinuation<Void, Never>) in
            DedicatedThread.start(name: "gate-kiosk-cap") {
                loop.run()
                ended.resume()
            }
        }
        try? await gracefulShutdown()
        loop.stop()
        await ended
        scans.finish()
    }
}

/// The decision loop: scans in, check-ins out, lights and relay. At graceful shutdown it stops at
/// once, cutting a pattern short (the outputs service then makes them safe); a check-in already
/// sent is not lost — the service decided it, and the person scans again.
struct DecisionService: Service {
    let kiosk: Kiosk
    let scans: AsyncStream<ScanEvent>

    func run() async throws {
        await cancelWhenGracefulShutdown { await kiosk.run(scans: scans) }
    }
}

/// systemd: READY=1 once everything above runs, STATUS= on change, WATCHDOG=1 while both loops
/// make progress, STOPPING=1 when a shutdown begins. Last in the group, so it hears of the
/// shutdown first.
struct SupervisorService: Service {
    let health: KioskHealth
    let notifier: SystemdNotifier
    let configuration: KioskConfiguration
    let timekeeper: any Timekeeper
    let logger: Logger
    let cameraName: String

    func run() async throws {
        notifier.ready(status: health.statusLine)
        logger.notice("Gate kiosk running", metadata: ["gate.id": "\(configuration.gateID)", "camera.device": "\(cameraName)"])
        await cancelWhenGracefulShutdown { await supervise() }
        notifier.stopping()
        logger.notice("Gate kiosk stopping", metadata: ["gate.id": "\(configuration.gateID)"])
    }

    /// Status line on change; watchdog ping every half interval while both loops are alive.
    private func supervise() async {
        let interval = notifier.watchdogInterval.map { min($0, .seconds(1)) } ?? .seconds(1)
        // A decision may take the request deadline plus its longest display, and some slack.
        let decisionLimit = configuration.requestDeadline * 2 + max(configuration.greenTime, configuration.redTime) + .seconds(5)
        var lastStatus = ""
        var hungReported = false
        while !Task.isCancelled {
            let status = health.statusLine
            if status != lastStatus {
                notifier.status(status)
                lastStatus = status
            }
            if health.isAlive(now: timekeeper.now(), captureLimit: .seconds(5), decisionLimit: decisionLimit) {
                notifier.watchdog()
                hungReported = false
            } else if !hungReported {
                // A loop is stuck (a camera driver that never returns, say): say so and have
                // systemd restart the unit now rather than WatchdogSec after the last ping.
                logger.critical("Kiosk loop hung; asking systemd for a restart", metadata: ["status": "\(status)"])
                notifier.watchdogTrigger(status: "HUNG: \(status)")
                hungReported = true
            }
            try? await Task.sleep(for: interval)
        }
    }
}
