import KioskCore
import Logging
import ServiceLifecycle
import SystemdNotify
import UnixSignals

/// The kiosk's composition root: its parts as services in one `ServiceGroup`, run until SIGTERM
/// or SIGINT.
///
/// Order: outputs (safe) → capture thread → decision loop → systemd supervisor (READY=1, status,
/// watchdog). A graceful shutdown goes the other way — STOPPING=1, the decision loop stops, the
/// capture thread leaves its loop, the outputs are made safe — and is bounded: past
/// `shutdownLimit` the group cancels what is left (the outputs service still makes them safe), and
/// past `cancellationLimit` more the process ends, well inside the unit's TimeoutStopSec=15s.
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
    let timekeeper: any Timekeeper
    /// How long a graceful shutdown may take before the rest is cancelled.
    public var shutdownLimit: Duration = .seconds(5)
    /// How long cancelled parts may take to end before the process gives up on them.
    public var cancellationLimit: Duration = .seconds(3)

    public init(
        configuration: KioskConfiguration,
        parts: Parts,
        notifier: SystemdNotifier,
        logger: Logger,
        timekeeper: any Timekeeper = SystemTimekeeper()
    ) {
        self.configuration = configuration
        self.parts = parts
        self.notifier = notifier
        self.logger = logger
        self.timekeeper = timekeeper
    }

    /// The group, for `run()` and for tests that stop it themselves; `signals` are the ones that
    /// start a graceful shutdown.
    public func serviceGroup(signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        let health = KioskHealth()
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
        let kiosk = Kiosk(
            client: parts.client,
            player: SignalPlayer(outputs: parts.outputs, timekeeper: timekeeper),
            timing: Kiosk.Timing(configuration),
            gateID: configuration.gateID,
            health: health,
            logger: logger
        )
        let services: [any Service] = [
            OutputsService(outputs: parts.outputs, logger: logger),
            CaptureService(loop: capture, scans: continuation),
            DecisionService(kiosk: kiosk, scans: scans),
            SupervisorService(
                health: health,
                notifier: notifier,
                configuration: configuration,
                timekeeper: timekeeper,
                logger: logger,
                cameraName: parts.source.name
            ),
        ]
        // Any part that ends or fails ends the kiosk (systemd restarts it), through the same
        // ordered shutdown.
        var group = ServiceGroupConfiguration(
            services: services.map {
                .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
            },
            gracefulShutdownSignals: signals,
            logger: logger
        )
        group.maximumGracefulShutdownDuration = shutdownLimit
        group.maximumCancellationDuration = cancellationLimit
        return ServiceGroup(configuration: group)
    }

    public func run() async throws {
        try await serviceGroup().run()
    }
}
