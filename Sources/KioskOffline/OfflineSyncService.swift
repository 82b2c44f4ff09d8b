import GatehouseCore
import KioskCore
import Logging
import ServiceLifecycle
import Synchronization

/// How the sync loop talks to the service (libcurl on the box, a fake in tests).
public protocol SyncTransport: Sendable {
    func pull(after cursor: String?, limit: Int) async -> Result<TicketSyncPage, SyncFailure>
    func upload(_ upload: OfflineUpload) async -> Result<OfflineUploadAnswer, SyncFailure>
    /// `POST /api/checkins/{scanId}/annul` for this device at its gate.
    func annul(scanId: String, _ request: AnnulRequest) async -> Result<AnnulDelivery, SyncFailure>
    /// `POST /api/devices/{id}/lane`: the mode the lane is in.
    func reportLane(_ report: LaneReport) async -> Result<Void, SyncFailure>
    /// `POST /api/devices/{id}/heartbeat`: what the box says of itself.
    func heartbeat(_ heartbeat: Heartbeat) async -> Result<Void, SyncFailure>
}

/// The service's final word on an annul a gate sent.
public enum AnnulDelivery: Sendable, Equatable {
    /// Taken back (now, or by an earlier try whose answer was lost).
    case annulled
    /// The service will not take it back (too late, scanned again since, unknown): said once, in
    /// the log, and not sent again.
    case refused(String)
}

public struct SyncFailure: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Keeps the snapshot current while the service answers, and uploads offline admissions once it
/// answers again: every `interval`, first the annuls of admissions nobody passed on, then the
/// journal's pending admissions (oldest first, in batches), then the ticket changes since the last cursor, page by page. A page that cannot be
/// used is refused whole and logged; the snapshot stays as it was.
public struct OfflineSyncService: Service {
    public let snapshot: OfflineSnapshot
    public let transport: any SyncTransport
    public let clock: TrustedClock
    public let timekeeper: any Timekeeper
    public let health: KioskHealth
    public let deviceID: String
    public let gateID: String
    public let logger: Logger
    public var interval: Duration = .seconds(1)
    /// 1,000 tickets (about 90 KB of JSON) a page: bigger pages are no faster on a LAN and cost
    /// the kiosk megabytes of decoding memory at the first pull.
    public var pageSize = 1000
    public var uploadBatch = 500
    /// False with offline_mode = deny: only the journal's uploads run.
    public var pullsSnapshot = true
    /// The lane's modes: each page's organizer setting goes in, and the mode in force is
    /// reported back whenever it differs from what the service last heard.
    public var laneModes: LaneModes?
    /// Told when a round reaches the service, or cannot: scans skip the service while it is down.
    public var uplink: Uplink?

    public init(
        snapshot: OfflineSnapshot,
        transport: any SyncTransport,
        clock: TrustedClock,
        timekeeper: any Timekeeper,
        health: KioskHealth,
        deviceID: String,
        gateID: String,
        logger: Logger
    ) {
        self.snapshot = snapshot
        self.transport = transport
        self.clock = clock
        self.timekeeper = timekeeper
        self.health = health
        self.deviceID = deviceID
        self.gateID = gateID
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastProblem: String?
            while !Task.isCancelled {
                let problem = await syncOnce()
                // Any answer of the service's counts as reached; no answer (or a 5xx) as lost.
                if let problem, ["upload: ", "pull: ", "annul: "].contains(where: problem.hasPrefix), !problem.contains(": HTTP 4") {
                    uplink?.lost()
                } else {
                    uplink?.reached()
                }
                // Once per change: a service away for an hour is one line, not 1,800.
                if problem != lastProblem {
                    if let problem {
                        logger.warning("Snapshot sync failed", metadata: ["gate.id": "\(gateID)", "error": "\(problem)"])
                    } else if lastProblem != nil {
                        logger.notice("Snapshot sync working again", metadata: ["gate.id": "\(gateID)"])
                    }
                    lastProblem = problem
                }
                reportState()
                try? await timekeeper.sleep(for: interval)
            }
        }
    }

    /// One round: annuls, uploads, then changes. Returns what went wrong, if anything.
    public func syncOnce() async -> String? {
        do {
            // Annuls first: an online admission taken back before the service heard it, and
            // the same ticket admitted offline since, reach the service in that order (the
            // upload would otherwise meet the first admission and count as a conflict). An
            // offline admission's annul is only queued once its upload was answered.
            for scanId in try snapshot.pendingAnnuls(limit: uploadBatch) {
                switch await transport.annul(scanId: scanId, AnnulRequest(deviceId: deviceID, gateId: gateID)) {
                case .failure(let failure): return "annul: \(failure)"
                case .success(.annulled):
                    try snapshot.markAnnul(scanID: scanId, done: true)
                    logger.notice("Check-in annulled on the service", metadata: ["gate.id": "\(gateID)", "scan.id": "\(scanId)"])
                case .success(.refused(let why)):
                    try snapshot.markAnnul(scanID: scanId, done: false)
                    logger.error(
                        "The service refused to annul a check-in",
                        metadata: ["gate.id": "\(gateID)", "scan.id": "\(scanId)", "error": "\(why)"]
                    )
                }
            }
            uploads: while true {
                let pending = try snapshot.pendingUploads(limit: uploadBatch)
                if pending.isEmpty { break }
                switch await transport.upload(OfflineUpload(deviceId: deviceID, gateId: gateID, checkins: pending)) {
                case .failure(let failure): return "upload: \(failure)"
                case .success(let answer):
                    let setAside = try snapshot.markUploaded(answer.results)
                    let conflicts = answer.results.filter { $0.outcome == .conflict }.count
                    let refused = answer.results.filter { $0.outcome == .refused }
                    logger.log(
                        level: conflicts + refused.count > 0 ? .warning : .notice,
                        "Offline check-ins uploaded",
                        metadata: [
                            "gate.id": "\(gateID)", "offline.count": "\(answer.results.count)",
                            "offline.recorded": "\(answer.results.filter { $0.outcome == .recorded }.count)",
                            "offline.conflicts": "\(conflicts)", "offline.refused": "\(refused.count)",
                        ]
                    )
                    for entry in setAside {
                        logger.error(
                            "Offline check-in set aside: the service refused it \(OfflineSnapshot.refusalsBeforeQuarantine) times",
                            metadata: ["gate.id": "\(gateID)", "scan.id": "\(entry.scanId)", "error": "\(entry.detail ?? "no reason given")"]
                        )
                    }
                    // An answer that leaves its batch pending would loop forever: stop here. A
                    // refused entry is sent again next round, not in this one.
                    if Set(answer.results.map(\.scanId)).isSuperset(of: pending.map(\.scanId)) == false { return "upload: the service skipped some" }
                    if !refused.isEmpty { break uploads }
                }
            }
            guard pullsSnapshot else { return nil }
            var cursor = try snapshot.syncState.cursor
            var applied = 0
            // A first pull of a big event leaves freed heap behind; give it back to the system.
            defer { if applied >= 10_000 { FreedMemory.returnToSystem() } }
            while !Task.isCancelled {
                switch await transport.pull(after: cursor, limit: pageSize) {
                case .failure(let failure): return "pull: \(failure)"
                case .success(let page):
                    do {
                        let fromStart = cursor == nil
                        guard try snapshot.apply(page, contact: clock.contact(serverTime: page.serverTime), fromStart: fromStart) else {
                            logger.notice(
                                "The gate's check-in list changed: pulling the whole snapshot again",
                                metadata: ["gate.id": "\(gateID)", "list.name": "\(page.gateList?.name ?? "none")"]
                            )
                            cursor = nil
                            continue
                        }
                    } catch {
                        logger.error("Sync data refused; the snapshot stays as it was", metadata: ["gate.id": "\(gateID)", "error": "\(error)"])
                        return "refused: \(error)"
                    }
                    cursor = page.cursor
                    applied += page.tickets.count
                    if page.complete { return await reportLane(organizer: page.laneMode) }
                }
            }
            return nil
        } catch {
            return "snapshot: \(error)"
        }
    }

    /// Applies the organizer's setting, and tells the service the mode in force when that
    /// changed (and once after each start).
    private func reportLane(organizer: LaneMode?) async -> String? {
        guard let laneModes else { return nil }
        laneModes.set(organizer, by: .organizer)
        guard let report = laneModes.unreported(deviceID: deviceID, gateID: gateID) else { return nil }
        switch await transport.reportLane(report) {
        case .failure(let failure): return "lane report: \(failure)"
        case .success:
            laneModes.reported(report)
            return nil
        }
    }

    private func reportState() {
        guard let state = try? snapshot.state else { return }
        health.setSnapshot(Self.describe(state, clock: clock))
    }

    /// "snapshot 1,234 tickets, synced 4 s ago" — for the STATUS line and selftest.
    public static func describe(_ state: OfflineSnapshot.State, clock: TrustedClock) -> String {
        guard state.complete, let contact = state.lastSync else { return "snapshot: not yet complete (\(state.tickets) tickets)" }
        let age = clock.age(of: contact).map { "synced \($0.components.seconds) s ago" } ?? "age unknown (clock not trusted)"
        var pending = state.pendingUploads > 0 ? ", \(state.pendingUploads) offline check-ins to upload" : ""
        if state.quarantined > 0 { pending += ", \(state.quarantined) set aside after refusals (see the journal)" }
        return "snapshot \(state.tickets) tickets, \(age)\(pending)"
    }
}
