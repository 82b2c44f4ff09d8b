import FoundationEssentials
import GatehouseCore
import KioskCore
import KioskOffline
import KioskPeers
import Logging
import ServiceLifecycle

/// Every ten seconds (the first two seconds after the start) tells the service how this box is: camera, reads,
/// connection, snapshot, backlog, clock, lane, alarm, disk, temperature and power, with what
/// happened since the last heartbeat landed. A heartbeat that does not land keeps its events for
/// the next; nothing here waits on, or slows, a decision.
struct HeartbeatService: Service {
    static let interval: Duration = .seconds(10)
    /// The first one waits for the camera to open and the first sync to answer, so it says how
    /// the box is rather than that it is starting.
    static let firstAfter: Duration = .seconds(2)

    let configuration: KioskConfiguration
    let health: KioskHealth
    let modes: LaneModes
    let snapshot: OfflineSnapshot
    let transport: any SyncTransport
    let clock: TrustedClock
    let stateDirectory: String?
    let box: (any BoxReadings)?
    let timekeeper: any Timekeeper
    /// Where the box's `/metrics` listener (`metrics_listen`) reads the latest figures.
    var latestMetrics: LatestMetrics?
    /// The peer exchange's figures, for the metrics; nil: no peers.
    var peers: PeerExchange?
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            let started = timekeeper.now()
            var last = (at: started, counts: health.counts)
            var failing = false
            var lastDelivered: Double?
            var textfileFailing = false
            let textfile = configuration.metricsTextfile.map(MetricsTextfile.init)
            try? await timekeeper.sleep(for: Self.firstAfter)
            while !Task.isCancelled {
                let now = timekeeper.now()
                let counts = health.counts
                let elapsed = now - last.at
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                var heartbeat = describe(
                    uptime: now - started,
                    frames: counts.frames &- last.counts.frames,
                    codes: counts.codes &- last.counts.codes,
                    over: seconds
                )
                last = (now, counts)
                let events = health.takeEvents()
                heartbeat.events = events.isEmpty ? nil : events
                switch await transport.heartbeat(heartbeat) {
                case .success:
                    lastDelivered = Date().timeIntervalSince1970.rounded()
                    if failing { logger.info("Heartbeat delivered again", metadata: ["gate.id": "\(configuration.gateID)"]) }
                    failing = false
                case .failure(let failure):
                    health.returnEvents(events)
                    // Once per outage: the sync's own messages say the rest.
                    if !failing {
                        logger.notice("Heartbeat not delivered", metadata: ["gate.id": "\(configuration.gateID)", "error": "\(failure)"])
                    }
                    failing = true
                }
                let metrics = KioskMetrics.text(heartbeat, counts: counts, lastDelivered: lastDelivered, peers: peers?.figures)
                latestMetrics?.publish(metrics)
                if let textfile {
                    do {
                        try textfile.write(metrics)
                        textfileFailing = false
                    } catch {
                        if !textfileFailing { logger.error("Metrics textfile cannot be written", metadata: ["error": "\(error)"]) }
                        textfileFailing = true
                    }
                }
                try? await timekeeper.sleep(for: Self.interval)
            }
        }
    }

    /// This box now; `frames` and `codes` read over the last `seconds`.
    func describe(uptime: Duration, frames: Int, codes: Int, over seconds: Double) -> Heartbeat {
        var heartbeat = Heartbeat(deviceId: configuration.deviceID, gateId: configuration.gateID)
        heartbeat.version = ProductVersion.current
        heartbeat.uptimeSeconds = Int(uptime.components.seconds)
        switch health.camera {
        case .starting: heartbeat.camera = "starting"
        case .online: heartbeat.camera = "ok"
        case .offline(let why):
            heartbeat.camera = "offline"
            heartbeat.cameraDetail = KioskHealth.line(why)
        }
        if seconds >= 1 {
            heartbeat.framesPerSecond = (Double(max(0, frames)) / seconds).tenths
            heartbeat.codesPerMinute = Int((Double(max(0, codes)) * 60 / seconds).rounded())
        }
        heartbeat.decoder = configuration.decoder.rawValue
        heartbeat.lastDecision = health.lastResult.map { KioskHealth.line($0) }
        switch health.service {
        case .unknown: break
        case .reachable: heartbeat.online = true
        case .unreachable, .rejected: heartbeat.online = false
        }
        if let state = try? snapshot.state {
            heartbeat.snapshotTickets = state.tickets
            heartbeat.backlog = state.pendingUploads
            if let contact = state.lastSync {
                heartbeat.clockTrusted = clock.now(since: contact) != nil
                heartbeat.snapshotAgeSeconds = clock.age(of: contact).map { Int($0.components.seconds) }
            }
        }
        heartbeat.laneMode = modes.current.mode
        heartbeat.alarm = health.alarm.map { KioskHealth.line($0) }
        if let box {
            if let stateDirectory, let disk = box.diskFree(stateDirectory) {
                heartbeat.diskFreeBytes = disk.bytes
                heartbeat.diskFreePercent = disk.percent.tenths
            }
            heartbeat.cpuTemperatureCelsius = box.cpuTemperature().map { $0.tenths }
            (heartbeat.undervoltage, heartbeat.throttled) = box.powerFlags()
        }
        return heartbeat
    }
}

extension Double {
    /// To one decimal, as a figure on the gates page.
    fileprivate var tenths: Double { (self * 10).rounded() / 10 }
}
