import GatehouseCore
import KioskCore
import KioskOffline
import KioskPeers
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
        /// The snapshot and its sync; nil when the state directory cannot hold one (the gate then
        /// shuts during an outage, as with offline_mode = deny).
        public var offline: OfflineParts?
        /// The fire panel's contact, when `alarm` is configured.
        public var alarm: (any InputLine)?
        /// The turnstile's passage sensor, when `passage = sensor`.
        public var passage: (any InputLine)?
        /// A bidirectional lane's direction input, when `direction_input = on`.
        public var direction: (any InputLine)?
        /// The staff button for tickets that need a look, when `attention_button = on`.
        public var attentionButton: (any InputLine)?
        /// The lane's key switch (`mode_input = on`), and the box's own setting (`gate-kiosk mode`).
        public var keySwitch: (any LaneModeInput)?
        public var boxMode: (any LaneModeInput)?

        public init(
            source: any FrameSource,
            decoder: any QRDecoder,
            outputs: LaneOutputs,
            client: any CheckinClient,
            offline: OfflineParts? = nil,
            alarm: (any InputLine)? = nil,
            passage: (any InputLine)? = nil,
            direction: (any InputLine)? = nil,
            attentionButton: (any InputLine)? = nil,
            keySwitch: (any LaneModeInput)? = nil,
            boxMode: (any LaneModeInput)? = nil
        ) {
            self.attentionButton = attentionButton
            self.direction = direction
            self.keySwitch = keySwitch
            self.boxMode = boxMode
            self.passage = passage
            self.alarm = alarm
            self.source = source
            self.decoder = decoder
            self.outputs = outputs
            self.client = client
            self.offline = offline
        }
    }

    public struct OfflineParts {
        public var snapshot: OfflineSnapshot
        public var transport: any SyncTransport
        public var clock: TrustedClock
        public var syncInterval: Duration
        /// The state directory, whose free space the heartbeat reports, and the box's readings.
        public var stateDirectory: String?
        public var box: (any BoxReadings)?

        public init(
            snapshot: OfflineSnapshot,
            transport: any SyncTransport,
            clock: TrustedClock = .system,
            syncInterval: Duration = .seconds(1),
            stateDirectory: String? = nil,
            box: (any BoxReadings)? = nil
        ) {
            self.stateDirectory = stateDirectory
            self.box = box
            self.snapshot = snapshot
            self.transport = transport
            self.clock = clock
            self.syncInterval = syncInterval
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
        let uplink = Uplink()
        var peerService: PeerService?
        var decider: SnapshotDecider?
        if configuration.offlineMode == .snapshot, let offline = parts.offline {
            decider = SnapshotDecider(
                snapshot: offline.snapshot,
                clock: offline.clock,
                maxAge: configuration.offlineMaxAge,
                gateID: configuration.gateID,
                direction: configuration.direction
            )
            peerService = peers(offline)
            decider?.peers = peerService?.exchange
        } else if configuration.usesPeers {
            logger.warning("peers are set, but this gate decides nothing offline (offline_mode = deny, or no state directory): no peer traffic")
        }
        let alarm = parts.alarm.map {
            FireAlarm(
                input: $0,
                clearAfter: configuration.alarmClear,
                outputs: parts.outputs,
                health: health,
                timekeeper: timekeeper,
                gateID: configuration.gateID,
                logger: logger
            )
        }
        let modes = LaneModes(outputs: parts.outputs, health: health, gateID: configuration.gateID, logger: logger)
        let button = parts.attentionButton.map {
            PassageSensor(input: $0, timekeeper: timekeeper, gateID: configuration.gateID, logger: logger, role: .staffButton)
        }
        let direction = parts.direction == nil ? LaneDirection(fixed: configuration.direction) : LaneDirection()
        var sensor: PassageSensor?
        var passage: Kiosk.Passage?
        if let input = parts.passage {
            if let offline = parts.offline {
                let confirmation = PassageSensor(input: input, timekeeper: timekeeper, gateID: configuration.gateID, logger: logger)
                sensor = confirmation
                passage = Kiosk.Passage(
                    confirmation: confirmation,
                    ledger: offline.snapshot,
                    timeout: configuration.passageTimeout,
                    relayMode: configuration.relayMode
                )
            } else {
                logger.critical(
                    "passage = sensor needs the state directory (the admissions it waits for are kept there): admissions are not confirmed"
                )
            }
        }
        if let offline = parts.offline {
            // Before anything decides: admissions left waiting (for a passage, or for the staff
            // button) when the kiosk stopped never went through, so they are taken back (the
            // annuls go out with the next sync).
            do {
                let takenBack = try offline.snapshot.takeBackUnconfirmed()
                if takenBack > 0 {
                    logger.notice("Admissions left waiting before the restart taken back", metadata: ["passage.taken_back": "\(takenBack)"])
                }
            } catch {
                logger.error("Admissions left waiting cannot be read", metadata: ["error": "\(error)"])
            }
        }
        let kiosk = Kiosk(
            client: parts.client,
            player: SignalPlayer(outputs: parts.outputs, timekeeper: timekeeper),
            timing: Kiosk.Timing(configuration),
            gateID: configuration.gateID,
            health: health,
            logger: logger,
            offline: decider,
            alarm: alarm,
            passage: passage,
            modes: modes,
            direction: direction,
            attention: parts.offline.map {
                Kiosk.Attention(button: button, ledger: $0.snapshot, timeout: configuration.attentionTimeout)
            },
            uplink: uplink
        )
        if configuration.offlineMode == .deny {
            health.setSnapshot("offline mode off (offline_mode = deny)")
        } else if parts.offline == nil {
            health.setSnapshot("OFFLINE MODE UNAVAILABLE (no state directory)")
        }
        var services: [any Service] = [
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
        if let sensor { services.insert(PassageService(sensor: sensor), at: 1) }
        if let button { services.insert(PassageService(sensor: button), at: 1) }
        if let input = parts.direction {
            services.insert(DirectionService(direction: direction, input: input, health: health, gateID: configuration.gateID, logger: logger), at: 1)
        }
        let modeInputs = [(parts.keySwitch, LaneModeSource.keySwitch), (parts.boxMode, .box)].compactMap { input, source in
            input.map { ($0, source) }
        }
        if !modeInputs.isEmpty { services.insert(LaneModeService(modes: modes, inputs: modeInputs), at: 1) }
        if let alarm {
            // Right after the outputs: the alarm holds them open from the start, and a
            // shutdown stops it only after the decision loop (see OutputsService).
            services.insert(AlarmService(alarm: alarm), at: 1)
        }
        if let peerService { services.insert(peerService, at: services.count - 1) }
        if let offline = parts.offline {
            let latestMetrics = configuration.metricsListen.map { _ in LatestMetrics() }
            if let address = configuration.metricsListen, let latestMetrics {
                services.append(MetricsListener(address: address, latest: latestMetrics, logger: logger))
            }
            services.append(
                HeartbeatService(
                    configuration: configuration,
                    health: health,
                    modes: modes,
                    snapshot: offline.snapshot,
                    transport: offline.transport,
                    clock: offline.clock,
                    stateDirectory: offline.stateDirectory,
                    box: offline.box,
                    timekeeper: timekeeper,
                    latestMetrics: latestMetrics,
                    peers: peerService?.exchange,
                    logger: logger
                )
            )
            var sync = OfflineSyncService(
                snapshot: offline.snapshot,
                transport: offline.transport,
                clock: offline.clock,
                timekeeper: timekeeper,
                health: health,
                deviceID: configuration.deviceID,
                gateID: configuration.gateID,
                logger: logger
            )
            sync.interval = offline.syncInterval
            // Uploads always (a journal from before a switch to deny still goes to the service);
            // the snapshot only when it is used.
            sync.pullsSnapshot = configuration.offlineMode == .snapshot
            sync.laneModes = modes
            sync.uplink = uplink
            // Before the supervisor: the STATUS line shows the snapshot from the first round.
            services.insert(sync, at: services.count - 1)
        }
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

    /// The peer exchange, when `peers` or `peer_discovery` asks for one. A socket that cannot be
    /// had (the port taken, say) is logged loudly: the gate then decides offline alone.
    private func peers(_ offline: OfflineParts) -> PeerService? {
        guard configuration.usesPeers else { return nil }
        let settings = PeerExchange.Settings(
            deviceID: configuration.deviceID,
            gateID: configuration.gateID,
            peers: configuration.peers.compactMap(PeerEndpoint.init),
            discovery: configuration.peerDiscovery ? PeerEndpoint.discoveryGroup(port: UInt16(configuration.peerListen.port)) : nil,
            maxAge: configuration.offlineMaxAge
        )
        do {
            let service = try PeerService.make(
                listen: configuration.peerListen,
                settings: settings,
                snapshot: offline.snapshot,
                clock: offline.clock,
                logger: logger
            )
            logger.notice(
                "Peer gates configured",
                metadata: [
                    "gate.id": "\(configuration.gateID)", "peer.listen": "\(configuration.peerListen)",
                    "peer.peers": "\(configuration.peers.map(\.description).joined(separator: ","))",
                    "peer.discovery": "\(configuration.peerDiscovery ? "on" : "off")",
                ]
            )
            return service
        } catch {
            logger.critical("Peer gates unavailable: offline decisions are this gate's alone", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
