import CCrypto
import FoundationEssentials
import GatehouseCore
import KioskCore

/// Decides a scan from the snapshot when the service does not answer, with the service's own
/// `GateDecision`: at a gate in no list an unused, unexpired ticket of this event is admitted
/// once; at a check-in list's gate the list's rules (ticket types, hours, re-entry, capacity)
/// decide, with the tickets' passes of that list. Entries and exits are journaled before the
/// answer, so before the relay opens; everything else is refused with its reason. It declines
/// (the gate shuts) without a complete snapshot, with one older than `maxAge`, without a clock it
/// can trust, or for an entry at a list's gate whose rules the snapshot does not carry.
public struct SnapshotDecider: OfflineDecider {
    public let snapshot: OfflineSnapshot
    public let clock: TrustedClock
    public let maxAge: Duration
    public let gateID: String
    public let direction: ScanDirection
    /// The gates this one tells of its admissions, and hears of theirs; nil: none configured.
    public var peers: (any PeerGate)?

    public init(snapshot: OfflineSnapshot, clock: TrustedClock, maxAge: Duration, gateID: String, direction: ScanDirection = .entry) {
        self.direction = direction
        self.snapshot = snapshot
        self.clock = clock
        self.maxAge = maxAge
        self.gateID = gateID
    }

    /// A scan in the lane's configured direction.
    public func decide(qrData: String, scanId: String) -> OfflineDecision {
        decide(qrData: qrData, scanId: scanId, direction: direction)
    }

    public func decide(qrData: String, scanId: String, direction: ScanDirection) -> OfflineDecision {
        let state: OfflineSnapshot.State
        do { state = try snapshot.syncState } catch { return .cannotDecide("the snapshot cannot be read: \(error)") }
        guard state.complete, let event = state.eventID, let contact = state.lastSync else { return .cannotDecide("no complete snapshot yet") }
        guard let age = clock.age(of: contact), let now = clock.now(since: contact) else {
            return .cannotDecide("no trusted clock (restarted without the service, and the system clock is not synchronised)")
        }
        // Entries wait while the gate catches up with its peers; people leaving never do.
        if direction == .entry, let waiting = peers?.notReady { return .cannotDecide(waiting) }
        guard age <= maxAge else {
            return .cannotDecide(
                "the snapshot is \(age.components.seconds / 60) min old, more than offline_max_age (\(maxAge.components.seconds / 60) min)"
            )
        }
        var rules = GateRules()
        var day: Int?
        if let list = state.gateList {
            // A service that sent the list's name without its rules: the plain rule would let in
            // whom the list keeps out, so entries wait for the service; a person leaving is
            // always let out.
            guard let listRules = state.gateListRules?.rules else {
                guard direction == .exit else { return .cannotDecide("this gate belongs to check-in list \(list): its rules need the service") }
                return .decided(Self.answer(.exit))
            }
            rules = listRules
            day = state.gateListRules?.day(at: now.at)
            if rules.entry == .daily, day == nil, direction == .entry {
                return .cannotDecide("check-in list \(list) admits once a day, and the snapshot does not say which day it is")
            }
        }
        // What the code is: a plain one (its token's hash), or a signed one that verifies with
        // the event's key of its id (its blob's hash, and the window it carries).
        let hash: [UInt8]
        var window: (from: Int64, until: Int64?)?
        if let code = TicketCode.parse(qrData) {
            guard code.eventID == event else { return .decided(Self.answer(.wrongEvent)) }
            hash = Self.sha256(Array(code.token.utf8))
        } else if let signed = SignedTicketCode.parse(qrData) {
            guard signed.eventID == event else { return .decided(Self.answer(.wrongEvent)) }
            guard let key = try? snapshot.publicKey(id: signed.keyID), Self.verify(signed, key: key) else {
                // Forged, altered, or signed with a key this event never had.
                return .decided(Self.answer(.invalid))
            }
            hash = Self.sha256(Array(signed.blob.utf8))
            window = (signed.validFrom, signed.validUntil)
        } else {
            return .decided(Self.answer(.invalid))
        }
        let ticket: OfflineSnapshot.Ticket?
        do { ticket = try snapshot.ticket(hash: hash) } catch { return .cannotDecide("the snapshot cannot be read: \(error)") }
        let facts: TicketFacts?
        if let ticket {
            facts = TicketFacts(
                eventId: event,
                ticketType: ticket.type,
                status: ticket.status,
                expiresAt: ticket.expiresAt,
                usedAt: ticket.usedAt,
                usedGate: ticket.usedGate,
                inside: ticket.inside,
                lastEntryDay: ticket.lastEntryDay
            )
        } else if let window {
            // A verified signed code of a ticket sold after the last sync: its code carries what
            // the snapshot would (but its type), and this gate's journal what it did here before.
            guard now.at >= window.from - 3_600_000 else { return .decided(Self.answer(.invalid)) }
            let earlier = try? snapshot.admission(hash: hash)
            facts = TicketFacts(
                eventId: event,
                status: earlier == nil ? .unused : .used,
                expiresAt: window.until,
                usedAt: earlier?.at,
                usedGate: earlier?.gate,
                inside: earlier?.inside ?? false,
                lastEntryDay: earlier?.lastEntryDay
            )
        } else {
            facts = nil
        }
        let scan = GateScan(deviceEvent: event, codeEvent: event, gate: gateID, direction: direction, at: now.at, day: day)
        let verdict = GateDecision.decide(ticket: facts, scan: scan, rules: rules, inside: state.listInside)
        let summary = ticket.map { TicketSummary(id: "", number: $0.number, holderName: nil, ticketType: $0.type) }
        guard verdict.result.passes, facts != nil else {
            var refusal = Self.answer(verdict.result, ticket: summary, usedAt: facts?.usedAt, usedGate: facts?.usedGate)
            if let peer = ticket?.usedByPeer, peer == facts?.usedGate { refusal.firstUsedByPeer = true }
            return .decided(refusal)
        }
        // Journaled (fsynced) before the answer: a journal that cannot be written shuts the gate.
        do {
            try snapshot.record(
                OfflineSnapshot.Decided(
                    scanID: scanId,
                    number: ticket?.number ?? 0,
                    hash: hash,
                    code: qrData,
                    at: now.at,
                    clock: now.clock,
                    gate: gateID,
                    direction: direction,
                    day: day,
                    changed: ticket == nil ? nil : verdict.changed,
                    insideChange: verdict.insideChange,
                    before: facts
                )
            )
        } catch {
            return .cannotDecide("the offline journal cannot be written: \(error)")
        }
        // At once, before the relay opens: the holder's next gate may be a second away.
        peers?.announce()
        var answer = Self.answer(verdict.result, ticket: summary)
        if rules.needsAttention(verdict.result, ticketType: ticket?.type) { answer.attention = true }
        return .decided(answer)
    }

    /// Ed25519 through libcrypto.
    static func verify(_ code: SignedTicketCode, key: [UInt8]) -> Bool {
        guard key.count == 32, code.signature.count == 64 else { return false }
        let message = code.signedMessage
        return key.withUnsafeBufferPointer { key in
            code.signature.withUnsafeBufferPointer { signature in
                message.withUnsafeBytes { gh_ed25519_verify(key.baseAddress, $0.baseAddress, $0.count, signature.baseAddress) == 1 }
            }
        }
    }

    static func answer(_ result: CheckinResult, ticket: TicketSummary? = nil, usedAt: Int64? = nil, usedGate: String? = nil) -> CheckinAnswer {
        // A plain message: CheckinMessage's would load time-zone and calendar code into the daemon.
        CheckinAnswer(
            result: result,
            message: "\(result.rawValue), decided offline",
            ticket: ticket,
            firstUsedAt: usedAt.map { Date(timeIntervalSince1970: Double($0) / 1000) },
            firstUsedGate: usedGate
        )
    }

    /// The snapshot's key of a code of ours (its token's hash, or a signed code's blob's), or
    /// nil; nothing verified: for codes the service has already decided.
    static func ticketHash(_ qrData: String) -> [UInt8]? {
        if let code = TicketCode.parse(qrData) { return sha256(Array(code.token.utf8)) }
        if let signed = SignedTicketCode.parse(qrData) { return sha256(Array(signed.blob.utf8)) }
        return nil
    }

    /// SHA-256 through libcrypto (already loaded by libcurl).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        let ok = bytes.withUnsafeBytes { raw in digest.withUnsafeMutableBufferPointer { gh_sha256(raw.baseAddress, raw.count, $0.baseAddress) } }
        precondition(ok == 1, "SHA-256 failed in libcrypto")
        return digest
    }
}

/// The gates of the same event this one exchanges used records with.
public protocol PeerGate: Sendable {
    /// Why offline decisions wait (catching up with the peers after a start or a rejoin); nil:
    /// they need not.
    var notReady: String? { get }
    /// Sends this gate's records the peers have not been sent yet; never blocks on a peer.
    func announce()
}
