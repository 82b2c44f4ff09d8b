import GatehouseCore
import KioskOffline
import Logging
import Synchronization

/// The figures of the peer exchange since the start (for the metrics and the journal).
public struct PeerFigures: Sendable, Equatable {
    public var sent = 0
    public var applied = 0
    /// Copies sent again in a catch-up that this gate already had.
    public var duplicates = 0
    public var dropped: [String: Int] = [:]
    /// Peers (configured and discovered) and how many of them answered lately.
    public var peers = 0
    public var reachable = 0

    /// Every reason a datagram is dropped for (`dropped`'s keys).
    public static let dropReasons = PeerMessage.Drop.allCases.map(\.rawValue)
}

/// Gate-to-gate used records: every offline decision of this gate goes at once to its peers,
/// every record of theirs goes into the snapshot before the next decision, and a hello every two
/// seconds asks each peer for what this gate is missing (a start, a reboot, a cable back, a lost
/// datagram). Nothing here waits for a peer: sends never block, and a peer that does not answer
/// stops offline decisions only while this gate catches up after it rejoins, for at most
/// `catchUpLimit`.
public final class PeerExchange: PeerGate, Sendable {
    public struct Settings: Sendable {
        public var deviceID: String
        public var gateID: String
        public var peers: [PeerEndpoint]
        public var discovery: PeerEndpoint?
        public var maxAge: Duration
        public var catchUpLimit: Duration = .seconds(30)
        public var helloInterval: Duration = .seconds(2)
        /// Unheard this long, a peer that speaks again is caught up with before the next decision.
        public var silenceLimit: Duration = .seconds(10)

        public init(deviceID: String, gateID: String, peers: [PeerEndpoint], discovery: PeerEndpoint?, maxAge: Duration) {
            self.deviceID = deviceID
            self.gateID = gateID
            self.peers = peers
            self.discovery = discovery
            self.maxAge = maxAge
        }
    }

    enum CatchUp: Equatable {
        case waiting(since: ContinuousClock.Instant)
        case current
        case gaveUp
    }

    struct Peer {
        var catchUp: CatchUp
        var lastHeard: ContinuousClock.Instant?
        var lastAsked: ContinuousClock.Instant?
        var configured: Bool
    }

    struct State {
        var peers: [PeerEndpoint: Peer] = [:]
        var lastSent: Int64 = 0
        var lastHello: ContinuousClock.Instant?
        var figures = PeerFigures()
        var reportedFigures = PeerFigures()
        var lastReport: ContinuousClock.Instant?
        /// The event and key as last read from the snapshot, and when.
        var context: (context: Context?, pages: Int)?
        /// When each address was last answered (peers or not): one answer per 250 ms.
        var answered: [PeerEndpoint: ContinuousClock.Instant] = [:]
    }

    let settings: Settings
    let snapshot: OfflineSnapshot
    let clock: TrustedClock
    let send: @Sendable ([UInt8], PeerEndpoint) -> Bool
    let logger: Logger
    let instance: String
    let started = ContinuousClock.now
    private let state: Mutex<State>

    /// `send` hands a datagram to the socket (never blocking); false when it could not.
    public init(
        settings: Settings,
        snapshot: OfflineSnapshot,
        clock: TrustedClock,
        logger: Logger,
        send: @escaping @Sendable ([UInt8], PeerEndpoint) -> Bool
    ) throws {
        self.settings = settings
        self.snapshot = snapshot
        self.clock = clock
        self.logger = logger
        self.send = send
        instance = try snapshot.peerInstance()
        var initial = State()
        // Records from before this start reach the peers through their hellos.
        initial.lastSent = try snapshot.outboxHighest()
        for peer in settings.peers { initial.peers[peer] = Peer(catchUp: .waiting(since: started), configured: true) }
        state = Mutex(initial)
    }

    var sender: String { settings.deviceID + "#" + instance }

    public var figures: PeerFigures { state.withLock { $0.figures } }

    // MARK: PeerGate

    public var notReady: String? {
        let now = ContinuousClock.now
        if settings.discovery != nil, now - started < settings.helloInterval + .milliseconds(500) { return "finding peer gates on the LAN" }
        let waiting = state.withLock { state in
            state.peers.filter { if case .waiting(let since) = $0.value.catchUp { now - since < settings.catchUpLimit } else { false } }.keys
        }
        guard !waiting.isEmpty else { return nil }
        return "catching up with peer gate \(waiting.map(\.description).sorted().joined(separator: ", ")) (at most \(settings.catchUpLimit))"
    }

    public func announce() {
        guard let context = context() else { return }
        state.withLock { state in
            guard let records = try? snapshot.outbox(after: state.lastSent, limit: 500), let last = records.last else { return }
            let targets = Array(state.peers.keys)
            for record in records {
                guard let datagram = datagram(record, context: context, resent: false) else { continue }
                for target in targets where send(datagram, target) { state.figures.sent += 1 }
            }
            state.lastSent = last.seq
        }
    }

    // MARK: Datagrams

    struct Context {
        var event: String
        var keyID: String
        var key: [UInt8]
    }

    /// One of this gate's records, sealed; `resent` in answer to a hello.
    private func datagram(_ record: PeerRecord, context: Context, resent: Bool) -> [UInt8]? {
        PeerMessage(record: record, key: context.keyID, event: context.event, device: settings.deviceID, instance: instance, resent: resent)
            .sealed(key: context.key)
    }

    /// What a datagram needs: the event and its key, from the last sync. Without them (a box
    /// that never synced) there is nothing to say and nothing can be checked.
    func context() -> Context? {
        // Read again only after a page: a flood of datagrams must not keep the snapshot, which
        // every decision reads, busy — and a new key counts from the page that brought it.
        let pages = snapshot.pagesApplied
        if let cached = state.withLock({ state in state.context.flatMap { $0.pages == pages ? $0 : nil } }) {
            return cached.context
        }
        var context: Context?
        if let event = try? snapshot.syncState.eventID, let key = try? snapshot.peerKey {
            context = Context(event: event, keyID: key.id, key: key.key)
        }
        state.withLock { $0.context = (context, pages) }
        return context
    }

    /// One datagram from `from`: checked, then applied or answered; dropped and counted when it
    /// is not what an enrolled gate of this event sends.
    public func receive(_ datagram: ArraySlice<UInt8>, from: PeerEndpoint) {
        let context = context()
        let opened = PeerMessage.open(Array(datagram), key: context.map { ($0.keyID, $0.key) }, event: context?.event)
        let message: PeerMessage
        switch opened {
        case .failure(let drop):
            count(drop)
            return
        case .success(let opened): message = opened
        }
        guard let context, message.sender != sender else { return }
        heard(from, sender: message.sender, context: context)
        switch message.t {
        case .record:
            guard let record = message.record else { return count(.malformed) }
            take(record, from: message, endpoint: from, context: context)
        case .hello:
            answer(from, wants: message.w?[sender] ?? 0, requester: message.sender, context: context)
        case .caughtUp:
            guard message.to == sender else { return }
            let wasWaiting = state.withLock { state -> Bool in
                guard let peer = state.peers[from], peer.isWaiting else { return false }
                state.peers[from]!.catchUp = .current
                return true
            }
            if wasWaiting {
                logger.notice(
                    "Caught up with a peer gate",
                    metadata: ["gate.id": "\(settings.gateID)", "peer.address": "\(from)", "peer.gate": "\(message.g)"]
                )
            }
        }
    }

    private func take(_ record: PeerRecord, from message: PeerMessage, endpoint: PeerEndpoint, context: Context) {
        if let contact = try? snapshot.syncState.lastSync, let now = clock.now(since: contact)?.at {
            let oldest = now - Int64(settings.maxAge.components.seconds) * 1000
            guard record.at <= now + 120_000, record.at >= oldest else { return count(.outOfWindow) }
        }
        let outcome: PeerApply
        let receivedAt = clock.wallClock()
        do {
            outcome = try snapshot.applyPeer(record, sender: message.sender, receivedAt: receivedAt)
        } catch {
            logger.error("A peer gate's record cannot be written to the snapshot", metadata: ["gate.id": "\(settings.gateID)", "error": "\(error)"])
            return
        }
        switch outcome {
        case .applied:
            state.withLock { $0.figures.applied += 1 }
            logger.info(
                "Peer record applied",
                metadata: [
                    "gate.id": "\(settings.gateID)", "peer.gate": "\(record.gate)", "peer.device": "\(message.d)",
                    "peer.kind": "\(record.kind.rawValue)",
                    "scan.id": "\(record.scanID)", "peer.seq": "\(record.seq)", "peer.received_ms": "\(receivedAt)",
                ]
            )
            // A gap before it: a datagram was lost; ask for it now rather than at the next hello.
            if let mark = try? snapshot.peerMark(sender: message.sender), mark < record.seq - 1 { hello(endpoint, context: context, urgent: true) }
        case .outOfOrder:
            count(.outOfOrder)
        case .duplicate:
            if message.r == true {
                state.withLock { $0.figures.duplicates += 1 }
            } else {
                count(.replayed)
            }
        }
    }

    /// A peer heard from: one silent for long (a reboot, a cable back, this gate's own) is caught
    /// up with before the next offline decision.
    private func heard(_ endpoint: PeerEndpoint, sender: String, context: Context) {
        let now = ContinuousClock.now
        let rejoined = state.withLock { state -> Bool in
            var peer = state.peers[endpoint] ?? Peer(catchUp: .waiting(since: now), configured: false)
            var rejoined = state.peers[endpoint] == nil
            if let last = peer.lastHeard, now - last > settings.silenceLimit, !peer.isWaiting {
                peer.catchUp = .waiting(since: now)
                rejoined = true
            }
            peer.lastHeard = now
            // Discovered peers: only those that answer to the multicast group's hellos.
            if state.peers[endpoint] == nil && settings.discovery == nil { return false }
            state.peers[endpoint] = peer
            return rejoined
        }
        if rejoined {
            logger.notice("Peer gate heard: catching up with it", metadata: ["gate.id": "\(settings.gateID)", "peer.address": "\(endpoint)"])
            hello(endpoint, context: context, urgent: true)
        }
    }

    /// Sends the requester this gate's records after `wants`, then "caught up" once nothing is left.
    private func answer(_ endpoint: PeerEndpoint, wants: Int64, requester: String, context: Context) {
        let now = ContinuousClock.now
        let allowed = state.withLock { state -> Bool in
            // A replayed hello cannot turn this gate into a flood: one answer per peer per 250 ms.
            if let last = state.answered[endpoint], now - last < .milliseconds(250) { return false }
            if state.answered.count >= 1024 { state.answered.removeAll() }
            state.answered[endpoint] = now
            return true
        }
        guard allowed, let records = try? snapshot.outbox(after: wants, limit: 200) else { return }
        var sent = 0
        for record in records {
            if let datagram = datagram(record, context: context, resent: true), send(datagram, endpoint) { sent += 1 }
        }
        if records.count < 200 {
            var done = PeerMessage(
                .caughtUp,
                key: context.keyID,
                event: context.event,
                device: settings.deviceID,
                instance: instance,
                gate: settings.gateID
            )
            done.to = requester
            done.hi = records.last?.seq ?? wants
            if let datagram = done.sealed(key: context.key) { _ = send(datagram, endpoint) }
        }
        state.withLock { $0.figures.sent += sent }
    }

    /// Asks a peer for what this gate is missing (what it has of every sender it knows).
    func hello(_ endpoint: PeerEndpoint, context: Context, urgent: Bool = false) {
        let now = ContinuousClock.now
        if urgent {
            let allowed = state.withLock { state -> Bool in
                if let last = state.peers[endpoint]?.lastAsked, now - last < .milliseconds(200) { return false }
                state.peers[endpoint]?.lastAsked = now
                return true
            }
            guard allowed else { return }
        }
        var message = PeerMessage(
            .hello,
            key: context.keyID,
            event: context.event,
            device: settings.deviceID,
            instance: instance,
            gate: settings.gateID
        )
        message.w = Dictionary(((try? snapshot.peerMarks()) ?? [:]).prefix(256).map { ($0.key, $0.value) }, uniquingKeysWith: max)
        if let datagram = message.sealed(key: context.key) { _ = send(datagram, endpoint) }
    }

    // MARK: The clock

    /// Every quarter second: new records out (take-backs among them), hellos when due, peers
    /// that did not answer in time given up on, and the figures to the journal when they changed.
    public func tick() {
        announce()
        let now = ContinuousClock.now
        let (due, gaveUp) = state.withLock { state -> (Bool, [PeerEndpoint]) in
            let due = state.lastHello.map { now - $0 >= settings.helloInterval } ?? true
            if due { state.lastHello = now }
            var gaveUp: [PeerEndpoint] = []
            for (endpoint, peer) in state.peers {
                if case .waiting(let since) = peer.catchUp, now - since >= settings.catchUpLimit {
                    state.peers[endpoint]!.catchUp = .gaveUp
                    gaveUp.append(endpoint)
                }
            }
            state.figures.peers = state.peers.count
            state.figures.reachable = state.peers.values.filter { $0.lastHeard.map { now - $0 < settings.silenceLimit } ?? false }.count
            return (due, gaveUp)
        }
        for endpoint in gaveUp {
            logger.warning(
                "Peer gate did not answer within \(settings.catchUpLimit): offline decisions go on from the snapshot alone",
                metadata: ["gate.id": "\(settings.gateID)", "peer.address": "\(endpoint)"]
            )
        }
        if due, let context = context() {
            let targets = state.withLock { Array($0.peers.keys) } + (settings.discovery.map { [$0] } ?? [])
            for target in targets { hello(target, context: context) }
        }
        reportFigures(now: now)
    }

    private func count(_ drop: PeerMessage.Drop) {
        state.withLock { $0.figures.dropped[drop.rawValue, default: 0] += 1 }
    }

    /// Dropped datagrams to the journal, at most every two seconds and only when they changed: a
    /// flood is a few lines, not one per datagram.
    private func reportFigures(now: ContinuousClock.Instant) {
        let report = state.withLock { state -> PeerFigures? in
            guard state.figures.dropped != state.reportedFigures.dropped, state.lastReport.map({ now - $0 >= .seconds(2) }) ?? true else {
                return nil
            }
            state.lastReport = now
            state.reportedFigures = state.figures
            return state.figures
        }
        guard let report else { return }
        var metadata: Logger.Metadata = ["gate.id": "\(settings.gateID)", "peer.applied": "\(report.applied)"]
        for drop in PeerMessage.Drop.allCases { metadata["peer.dropped_\(drop.rawValue)"] = "\(report.dropped[drop.rawValue] ?? 0)" }
        logger.warning("Peer datagrams dropped", metadata: metadata)
    }
}

extension PeerExchange.Peer {
    var isWaiting: Bool {
        if case .waiting = catchUp { true } else { false }
    }
}
