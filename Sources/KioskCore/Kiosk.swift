import FoundationEssentials
import GatehouseCore
import Logging

/// The decision loop: takes scans, applies the lane rules, asks the service, shows the result.
/// One scan at a time: while a result shows, newer scans wait (only the freshest is kept).
public final class Kiosk: Sendable {
    public struct Timing: Sendable {
        public var relayPulse: Duration
        public var greenTime: Duration
        public var redTime: Duration
        public var cooldown: Duration

        public init(relayPulse: Duration, greenTime: Duration, redTime: Duration, cooldown: Duration) {
            self.relayPulse = relayPulse
            self.greenTime = greenTime
            self.redTime = redTime
            self.cooldown = cooldown
        }

        public init(_ configuration: KioskConfiguration) {
            self.init(
                relayPulse: configuration.relayPulse,
                greenTime: configuration.greenTime,
                redTime: configuration.redTime,
                cooldown: configuration.cooldown
            )
        }
    }

    /// A scan older than this when its turn comes is dropped: its holder may have walked on.
    static let staleScan: Duration = .milliseconds(750)

    private let client: any CheckinClient
    private let player: SignalPlayer
    private let timing: Timing
    private let gateID: String
    private let timekeeper: any Timekeeper
    private let health: KioskHealth
    private let logger: Logger
    /// Decides from the snapshot when the service does not answer; nil: the gate shuts instead.
    private let offline: (any OfflineDecider)?
    /// While it holds the lane open, scans are not taken.
    private let alarm: FireAlarm?
    /// The lane's mode; nil: always normal.
    private let modes: LaneModes?
    /// With a passage sensor: an admission stands once the turnstile turned, and is taken back
    /// when it did not within the timeout.
    private let passage: Passage?
    /// Which way each scan goes.
    private let direction: LaneDirection
    /// Tickets the list asks staff to look at wait for the staff button; nil: the kiosk has
    /// nowhere to keep the admission while it waits (no state directory).
    private let attention: Attention?
    /// Known down: scans go straight to the offline decider.
    private let uplink: Uplink?

    /// A lane where staff look at some tickets (the list's attention types) before they open.
    public struct Attention: Sendable {
        /// The staff button; nil: none wired, so such a ticket is taken back at once.
        public var button: (any PassageConfirmation)?
        public var ledger: any PassageLedger
        public var timeout: Duration

        public init(button: (any PassageConfirmation)?, ledger: any PassageLedger, timeout: Duration) {
            self.button = button
            self.ledger = ledger
            self.timeout = timeout
        }
    }

    /// A lane with a passage sensor.
    public struct Passage: Sendable {
        public var confirmation: any PassageConfirmation
        public var ledger: any PassageLedger
        public var timeout: Duration
        public var relayMode: RelayMode

        public init(confirmation: any PassageConfirmation, ledger: any PassageLedger, timeout: Duration, relayMode: RelayMode) {
            self.confirmation = confirmation
            self.ledger = ledger
            self.timeout = timeout
            self.relayMode = relayMode
        }
    }

    public init(
        client: any CheckinClient,
        player: SignalPlayer,
        timing: Timing,
        gateID: String,
        health: KioskHealth,
        logger: Logger,
        offline: (any OfflineDecider)? = nil,
        alarm: FireAlarm? = nil,
        passage: Passage? = nil,
        modes: LaneModes? = nil,
        direction: LaneDirection = LaneDirection(fixed: .entry),
        attention: Attention? = nil,
        uplink: Uplink? = nil
    ) {
        self.uplink = uplink
        self.attention = attention
        self.direction = direction
        self.modes = modes
        self.passage = passage
        self.alarm = alarm
        self.offline = offline
        self.client = client
        self.player = player
        self.timing = timing
        self.gateID = gateID
        self.timekeeper = player.timekeeper
        self.health = health
        self.logger = logger
    }

    /// Runs until `scans` ends or the task is cancelled; leaves the outputs safe.
    public func run(scans: AsyncStream<ScanEvent>) async {
        var lane = Lane(cooldown: timing.cooldown)
        defer { try? player.outputs.apply(.safe) }
        for await scan in scans {
            if Task.isCancelled { break }
            guard timekeeper.now() - scan.frameAt <= Self.staleScan else { continue }
            await handle(scan, lane: &lane)
        }
    }

    /// Decides the first code in the frame that is not cooling down.
    func handle(_ scan: ScanEvent, lane: inout Lane) async {
        // An evacuation: the lane is open for everyone, and no ticket is burned meanwhile.
        if alarm?.isActive == true { return }
        if let (mode, source) = modes?.current, mode != .normal {
            await handle(scan, in: mode, setBy: source, lane: &lane)
            return
        }
        for payload in scan.payloads {
            let decision = lane.consider(payload, now: timekeeper.now())
            switch decision {
            case .coolingDown:
                continue
            case .refuseLocally:
                lane.finished(payload, scanId: nil, outcome: nil, now: timekeeper.now())
                logger.info(
                    "Code refused locally",
                    metadata: [
                        "gate.id": "\(gateID)", "checkin.result": "invalid", "checkin.reason": "\(LightPattern.unknown.rawValue)",
                        "code.bytes": "\(payload.count)",
                    ]
                )
                health.setLastResult("not a ticket code")
                await show(.unknown)
                return
            case .submit(let qrData, let scanId):
                let way: ScanDirection
                switch direction.current {
                case .known(let known): way = known
                case .unknown(let why):
                    // Not finished: once the input reads again, the same code is decided.
                    logger.warning("Scan not decided: the lane's direction is unknown", metadata: ["gate.id": "\(gateID)", "error": "\(why)"])
                    health.setLastResult("not decided: direction unknown")
                    await show(.serviceUnavailable)
                    return
                }
                health.decisionStarted(timekeeper.now())
                defer { health.decisionEnded() }
                let outcome: CheckinReply
                if offline != nil, let uplink, uplink.isKnownDown {
                    outcome = .unreachable("the service is known to be unreachable (retrying in the background)")
                } else {
                    outcome = await client.checkin(qrData: qrData, scanId: scanId, direction: way)
                    if case .unreachable = outcome { uplink?.lost() } else { uplink?.reached() }
                }
                if case .unreachable(let why) = outcome, let offline {
                    switch offline.decide(qrData: qrData, scanId: scanId, direction: way) {
                    case .decided(let answer):
                        // Final: the gate will not ask the service about this scan again; the
                        // upload tells the service later, with the same scanId.
                        lane.finished(payload, scanId: scanId, outcome: .answered(answer), now: timekeeper.now())
                        let signal = recordOffline(answer, scanId: scanId, frameAt: scan.frameAt, why: why, direction: way)
                        let admission = Admission(scanId: scanId, offline: true, direction: way, payload: payload)
                        if signal == .granted, answer.attention == true {
                            await attend(admission, lane: &lane)
                        } else if signal == .granted, let passage {
                            await admit(admission, passage: passage, lane: &lane)
                        } else {
                            await show(signal, offline: true, direction: way)
                        }
                        return
                    case .cannotDecide(let reason):
                        logger.warning(
                            "Offline decision impossible",
                            metadata: ["gate.id": "\(gateID)", "scan.id": "\(scanId)", "offline.reason": "\(reason)"]
                        )
                    }
                }
                lane.finished(payload, scanId: scanId, outcome: outcome, now: timekeeper.now())
                let signal = record(outcome, scanId: scanId, frameAt: scan.frameAt, direction: way)
                let admission = Admission(scanId: scanId, offline: false, direction: way, payload: payload)
                if signal == .granted, case .answered(let answer) = outcome, answer.attention == true {
                    await attend(admission, lane: &lane)
                } else if signal == .granted, let passage {
                    await admit(admission, passage: passage, lane: &lane)
                } else {
                    await show(signal, direction: way)
                }
                return
            }
        }
    }

    /// A scan while the lane is not in normal mode: nobody's ticket is checked in. Free passage
    /// logs it, a locked lane shows why it does not open, an out-of-order lane ignores it.
    private func handle(_ scan: ScanEvent, in mode: LaneMode, setBy source: LaneModeSource?, lane: inout Lane) async {
        guard mode != .outOfOrder, let payload = scan.payloads.first(where: { lane.consider($0, now: timekeeper.now()) != .coolingDown }) else {
            return
        }
        lane.finished(payload, scanId: nil, outcome: nil, now: timekeeper.now())
        logger.info(
            mode == .free ? "Scan in free passage: not checked in" : "Scan at a locked lane: not checked in",
            metadata: ["gate.id": "\(gateID)", "lane_mode": "\(mode.rawValue)", "lane_mode.source": "\(source?.rawValue ?? "none")"]
        )
        if mode == .locked { await show(.laneLocked) }
    }

    /// Logs the outcome, updates health, and picks the signal.
    private func record(_ outcome: CheckinReply, scanId: String, frameAt: Duration, direction: ScanDirection) -> LightPattern {
        let latency = (timekeeper.now() - frameAt).wholeMilliseconds
        var metadata: Logger.Metadata = ["gate.id": "\(gateID)", "scan.id": "\(scanId)", "checkin.latency_ms": "\(latency)"]
        if self.direction.isBidirectional { metadata["checkin.direction"] = "\(direction.rawValue)" }
        switch outcome {
        case .answered(let answer):
            health.setService(.reachable)
            let signal = LightPattern(answer.result)
            metadata["checkin.result"] = "\(answer.result.rawValue)"
            metadata["checkin.reason"] = "\(signal.rawValue)"
            if let number = answer.ticket?.number { metadata["ticket.number"] = "\(number)" }
            // The holder's name and the code stay out of the log.
            logger.log(level: answer.ok ? .info : .notice, "Check-in decided", metadata: metadata)
            health.setLastResult("\(answer.result.rawValue)\(answer.ticket.map { " #\($0.number)" } ?? "")")
            return signal
        case .unreachable(let why):
            health.setService(.unreachable(why))
            metadata["checkin.result"] = "unreachable"
            metadata["checkin.reason"] = "\(LightPattern.serviceUnavailable.rawValue)"
            metadata["error"] = "\(why)"
            logger.warning("Check-in service unreachable", metadata: metadata)
            health.setLastResult("service unreachable")
            return .serviceUnavailable
        case .rejected(let status, let detail):
            health.setService(.rejected("HTTP \(status): \(detail)"))
            metadata["checkin.result"] = "rejected"
            metadata["checkin.reason"] = "\(LightPattern.serviceUnavailable.rawValue)"
            metadata["http.status"] = "\(status)"
            metadata["error"] = "\(detail)"
            logger.error("Check-in service refused this kiosk", metadata: metadata)
            health.setLastResult("refused by service (HTTP \(status))")
            return .serviceUnavailable
        }
    }

    /// Logs an offline decision (the service's state, then the decision), updates health.
    private func recordOffline(_ answer: CheckinAnswer, scanId: String, frameAt: Duration, why: String, direction: ScanDirection) -> LightPattern {
        health.setService(.unreachable(why))
        let signal = LightPattern(answer.result)
        var metadata: Logger.Metadata = [
            "gate.id": "\(gateID)", "scan.id": "\(scanId)", "checkin.latency_ms": "\((timekeeper.now() - frameAt).wholeMilliseconds)",
            "checkin.result": "\(answer.result.rawValue)", "checkin.reason": "\(signal.rawValue)", "checkin.offline": "true", "error": "\(why)",
        ]
        if self.direction.isBidirectional { metadata["checkin.direction"] = "\(direction.rawValue)" }
        if let number = answer.ticket?.number { metadata["ticket.number"] = "\(number)" }
        if !answer.ok, let gate = answer.firstUsedGate {
            // Where the ticket went in, and whether a peer gate's record says so.
            metadata["checkin.used_gate"] = "\(gate)"
            if let at = answer.firstUsedAt { metadata["checkin.used_at_ms"] = "\(Int64((at.timeIntervalSince1970 * 1000).rounded()))" }
            if answer.firstUsedByPeer == true { metadata["checkin.used_by"] = "peer" }
        }
        logger.notice("Check-in decided offline", metadata: metadata)
        health.setLastResult("\(answer.result.rawValue)\(answer.ticket.map { " #\($0.number)" } ?? "") (offline)")
        return signal
    }

    /// A granted scan the lane has yet to let through.
    private struct Admission {
        var scanId: String
        var offline: Bool
        var direction: ScanDirection
        var payload: [UInt8]
    }

    /// A ticket staff must look at: the intent journaled, then amber (both lights, the lane
    /// shut) until the staff button is pressed or the timeout passes. Pressed, the admission
    /// goes on as any other (through the passage sensor when there is one); not pressed, or no
    /// button wired, it is taken back, and the holder may scan again.
    private func attend(_ admission: Admission, lane: inout Lane) async {
        let scanId = admission.scanId
        guard let attention else {
            // Nowhere to keep the intent: the check-in cannot be taken back, so it stands, and
            // the lane stays shut until staff let the holder in by hand.
            logger.error(
                "Ticket needs a look, and this kiosk cannot wait for the staff button (no state directory): the check-in stands, the lane stays shut",
                metadata: ["gate.id": "\(gateID)", "scan.id": "\(scanId)", "attention": "no_ledger"]
            )
            await show(.expiredOrRevoked)
            return
        }
        guard journal(admission, in: attention.ledger, lane: &lane) else {
            await show(.serviceUnavailable)
            return
        }
        let outputs = player.outputs
        var pressed = false
        if let button = attention.button {
            let expectation = button.expectPassage()
            let started = timekeeper.now()
            logger.notice(
                "Ticket needs a look: waiting for the staff button",
                metadata: ["gate.id": "\(gateID)", "scan.id": "\(scanId)", "attention": "waiting"]
            )
            health.setWaiting("a ticket needs a look; press the staff button")
            defer { health.setWaiting(nil) }
            do {
                try outputs.apply(.attention)
            } catch {
                logger.error("GPIO output failed", metadata: ["error": "\(error)"])
            }
            pressed = await button.waitForPassage(expectation, timeout: attention.timeout)
            try? outputs.rest()
            if Task.isCancelled { return }  // the ledger keeps the intent; the next start takes it back
            logger.notice(
                pressed ? "Staff confirmed the ticket" : "Staff button not pressed: admission taken back",
                metadata: [
                    "gate.id": "\(gateID)", "scan.id": "\(scanId)", "attention": pressed ? "confirmed" : "timeout",
                    "attention.after_ms": "\((timekeeper.now() - started).wholeMilliseconds)",
                ]
            )
        } else {
            logger.warning(
                "Ticket needs a look and no staff button is wired (attention_button): admission taken back",
                metadata: ["gate.id": "\(gateID)", "scan.id": "\(scanId)", "attention": "no_button"]
            )
            await show(.attention)
        }
        guard pressed else {
            takeBack(scanId: scanId, ledger: attention.ledger, lane: &lane, payload: admission.payload)
            return
        }
        if let passage {
            await open(admission, passage: passage, lane: &lane)
        } else {
            do { try attention.ledger.passed(scanId: scanId) } catch {
                logger.error("Admission journal cannot be written", metadata: ["gate.id": "\(gateID)", "error": "\(error)"])
            }
            await show(.granted, offline: admission.offline, direction: admission.direction)
        }
    }

    /// Writes the intent before anything opens; false (and taken back) when it cannot be written.
    private func journal(_ admission: Admission, in ledger: any PassageLedger, lane: inout Lane) -> Bool {
        do {
            try ledger.expect(scanId: admission.scanId, offline: admission.offline, code: admission.payload, direction: admission.direction)
            return true
        } catch {
            // Without the intent on disk a crash would burn the ticket: the gate stays shut,
            // and the admission is taken back now.
            logger.error("Admission journal cannot be written; the gate stays shut", metadata: ["gate.id": "\(gateID)", "error": "\(error)"])
            takeBack(scanId: admission.scanId, ledger: ledger, lane: &lane, payload: admission.payload)
            return false
        }
    }

    /// A granted scan at a lane with a passage sensor: the intent journaled, then the relay open
    /// (a pulse, or held) under green until the turnstile reports a passage or the timeout
    /// passes; without a passage the admission is taken back, and the guest may scan again.
    private func admit(_ admission: Admission, passage: Passage, lane: inout Lane) async {
        guard journal(admission, in: passage.ledger, lane: &lane) else {
            await show(.serviceUnavailable)
            return
        }
        await open(admission, passage: passage, lane: &lane)
    }

    /// Opens for a journaled admission and waits for its passage.
    private func open(_ admission: Admission, passage: Passage, lane: inout Lane) async {
        let (scanId, direction, payload) = (admission.scanId, admission.direction, admission.payload)
        let outputs = player.outputs
        let expectation = passage.confirmation.expectPassage()
        let opened = timekeeper.now()
        var passed = false
        do {
            try outputs.apply(.open(direction))
            if passage.relayMode == .pulse {
                try await timekeeper.sleep(for: min(timing.relayPulse, passage.timeout))
                try outputs.apply(OutputState(green: true))
            }
            passed = await passage.confirmation.waitForPassage(expectation, timeout: passage.timeout - (timekeeper.now() - opened))
            try outputs.rest()
        } catch is CancellationError {
            try? outputs.rest()
            // Stopped while waiting: the ledger keeps the intent, and the next start takes it back.
            return
        } catch {
            try? outputs.rest()
            logger.error("GPIO output failed", metadata: ["error": "\(error)"])
        }
        let waited = (timekeeper.now() - opened).wholeMilliseconds
        if passed {
            do { try passage.ledger.passed(scanId: scanId) } catch {
                logger.error("Passage journal cannot be written", metadata: ["gate.id": "\(gateID)", "error": "\(error)"])
            }
            logger.info(
                "Passage confirmed",
                metadata: ["gate.id": "\(gateID)", "scan.id": "\(scanId)", "passage": "confirmed", "passage.after_ms": "\(waited)"]
            )
        } else {
            logger.notice(
                "No passage: admission taken back",
                metadata: ["gate.id": "\(gateID)", "scan.id": "\(scanId)", "passage": "timeout", "passage.after_ms": "\(waited)"]
            )
            takeBack(scanId: scanId, ledger: passage.ledger, lane: &lane, payload: payload)
        }
    }

    /// The guest may scan again at once: the lane forgets the code's cooldown.
    private func takeBack(scanId: String, ledger: any PassageLedger, lane: inout Lane, payload: [UInt8]) {
        lane.forget(payload)
        do {
            let done = try ledger.takeBack(scanId: scanId)
            health.setLastResult("no passage: \(done)")
        } catch {
            logger.error("Admission cannot be taken back", metadata: ["gate.id": "\(gateID)", "scan.id": "\(scanId)", "error": "\(error)"])
        }
    }

    private func show(_ signal: LightPattern, offline: Bool = false, direction: ScanDirection = .entry) async {
        let pattern = SignalPattern(
            signal,
            relayPulse: timing.relayPulse,
            greenTime: timing.greenTime,
            redTime: timing.redTime,
            offline: offline,
            direction: direction
        )
        do {
            try await player.play(pattern)
        } catch is CancellationError {
            return
        } catch {
            logger.error("GPIO output failed", metadata: ["error": "\(error)"])
        }
    }
}
