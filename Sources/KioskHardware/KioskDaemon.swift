import CV4L2
import Dispatch
import FoundationEssentials
import KioskCore
import Logging
import Synchronization
import SystemdNotify

#if canImport(Glibc)
import Glibc
#endif

/// Wires the kiosk's parts together and runs them until SIGTERM/SIGINT.
///
/// Order: outputs (safe state) → check-in client → capture thread → decision loop → READY=1;
/// then status lines and watchdog pings while both loops make progress. Shutdown runs in
/// reverse and ends with every output in its safe state.
public struct KioskDaemon {
    public struct Parts {
        public var source: any FrameSource
        public var decoder: any QRDecoder
        public var outputs: LaneOutputs
        public var client: any CheckinClient

        public init(source: any FrameSource, decoder: any QRDecoder, outputs: LaneOutputs, client: any CheckinClient) {
            self.source = source
            self.decoder = decoder
            self.outputs = outputs
            self.client = client
        }
    }

    let configuration: KioskConfiguration
    let parts: Parts
    let notifier: SystemdNotifier
    let logger: Logger
    let timekeeper: any Timekeeper = SystemTimekeeper()

    public init(configuration: KioskConfiguration, parts: Parts, notifier: SystemdNotifier, logger: Logger) {
        self.configuration = configuration
        self.parts = parts
        self.notifier = notifier
        self.logger = logger
    }

    public func run() async {
        let health = KioskHealth()
        do {
            try parts.outputs.apply(.safe)
        } catch {
            logger.error("GPIO output failed", metadata: ["error": "\(error)"])
        }

        let (scans, continuation) = AsyncStream<ScanEvent>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let capture = CaptureLoop(
            source: parts.source,
            decoder: parts.decoder,
            timekeeper: timekeeper,
            health: health,
            logger: logger,
            frameTimeout: .seconds(1),
            onScan: { continuation.yield($0) }
        )
        let captureDone = DispatchSemaphore(value: 0)
        let handoff = CaptureHandoff(capture)
        // The capture loop blocks in poll(2): it gets a thread of its own, named for top and ps.
        DispatchQueue(label: "gate-kiosk-capture").async {
            gh_name_this_thread("gate-kiosk-cap")
            handoff.loop.run()
            captureDone.signal()
        }

        let kiosk = Kiosk(
            client: parts.client,
            player: SignalPlayer(outputs: parts.outputs, timekeeper: timekeeper),
            timing: Kiosk.Timing(configuration),
            gateID: configuration.gateID,
            health: health,
            logger: logger
        )
        let stop = Self.terminationSignals()

        await withTaskGroup(of: Void.self) { group in
            group.addTask { await kiosk.run(scans: scans) }
            let notifier = self.notifier
            let configuration = self.configuration
            let timekeeper = self.timekeeper
            group.addTask { await Self.superviseHealth(health, notifier: notifier, configuration: configuration, timekeeper: timekeeper) }
            notifier.ready(status: health.statusLine)
            logger.notice("Gate kiosk running", metadata: ["gate.id": "\(configuration.gateID)", "camera.device": "\(parts.source.name)"])
            await stop.wait()
            notifier.stopping()
            logger.notice("Gate kiosk stopping", metadata: ["gate.id": "\(configuration.gateID)"])
            capture.stop()
            continuation.finish()
            group.cancelAll()
        }
        captureDone.wait()
        do {
            try parts.outputs.apply(.safe)
        } catch {
            logger.error("GPIO output failed at shutdown", metadata: ["error": "\(error)"])
        }
    }

    /// Status line on change; watchdog ping every half interval while both loops are alive.
    private static func superviseHealth(
        _ health: KioskHealth,
        notifier: SystemdNotifier,
        configuration: KioskConfiguration,
        timekeeper: any Timekeeper
    ) async {
        let interval = notifier.watchdogInterval.map { min($0, .seconds(1)) } ?? .seconds(1)
        // A decision may take the request deadline plus its longest display, and some slack.
        let decisionLimit = configuration.requestDeadline * 2 + max(configuration.greenTime, configuration.redTime) + .seconds(5)
        var lastStatus = ""
        while !Task.isCancelled {
            let status = health.statusLine
            if status != lastStatus {
                notifier.status(status)
                lastStatus = status
            }
            if health.isAlive(now: timekeeper.now(), captureLimit: .seconds(5), decisionLimit: decisionLimit) {
                notifier.watchdog()
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Resolves when SIGTERM or SIGINT arrives.
    static func terminationSignals() -> SignalLatch {
        let latch = SignalLatch()
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { latch.fire() }
            source.resume()
            latch.keep(source)
        }
        return latch
    }
}

/// Passes the capture loop to its thread.
private final class CaptureHandoff: @unchecked Sendable {
    let loop: CaptureLoop
    init(_ loop: CaptureLoop) { self.loop = loop }
}

/// A one-shot latch opened by a signal handler.
final class SignalLatch: @unchecked Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    private var sources: [any DispatchSourceSignal] = []

    func keep(_ source: any DispatchSourceSignal) { sources.append(source) }

    func fire() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.fired { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}
