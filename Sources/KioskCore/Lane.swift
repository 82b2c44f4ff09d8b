import GatehouseCore

/// The rules of one lane: which scans go to the service and which wait or are dropped.
///
/// - While a result shows, scans wait (the caller does not offer them).
/// - A code decided within the cooldown is not sent again: its holder is still in front of the
///   camera, and a second check-in would flash red at someone just let in.
/// - A payload that cannot be one of our tickets is refused here, without a network call.
/// - A code whose last attempt got no answer keeps its scanId, so the retry gets the service's
///   first answer instead of "already used".
public struct Lane: Sendable {
    public enum Decision: Sendable, Equatable {
        /// Ask the service.
        case submit(qrData: String, scanId: String)
        /// Refuse at once: not a Gatehouse code.
        case refuseLocally
        /// Drop: this code was decided moments ago.
        case coolingDown
    }

    public var cooldown: Duration
    /// Codes decided recently, with when.
    private var decided: [[UInt8]: Duration] = [:]
    /// scanIds of codes whose last attempt got no answer.
    private var unanswered: [[UInt8]: (scanId: String, at: Duration)] = [:]
    /// How long an unanswered scanId is kept for a retry.
    static let retryWindow: Duration = .seconds(120)

    public init(cooldown: Duration) {
        self.cooldown = cooldown
    }

    public mutating func consider(_ payload: [UInt8], now: Duration) -> Decision {
        forgetOld(now: now)
        if let at = decided[payload], now - at < cooldown { return .coolingDown }
        guard let text = Self.ticketCodeText(payload) else { return .refuseLocally }
        if let pending = unanswered[payload] { return .submit(qrData: text, scanId: pending.scanId) }
        // 130 random bits, made without Foundation's UUID (the daemon keeps Foundation's heavier
        // parts out of memory).
        return .submit(qrData: text, scanId: "s" + Base32.randomString(count: 26))
    }

    /// The code's text when the payload is one of ours, plain or signed (whether a signature is
    /// good is for the service, or the snapshot, to say).
    static func ticketCodeText(_ payload: [UInt8]) -> String? {
        if let plain = TicketCode.parse(bytes: payload) { return plain.text }
        guard payload.count <= SignedTicketCode.prefix.utf8.count + 9 + SignedTicketCode.blobLength + 2,
            let text = String(validating: payload, as: UTF8.self), let signed = SignedTicketCode.parse(text)
        else { return nil }
        return signed.text
    }

    /// Records how a scan ended.
    public mutating func finished(_ payload: [UInt8], scanId: String?, outcome: CheckinReply?, now: Duration) {
        switch outcome {
        case .unreachable?:
            if let scanId { unanswered[payload] = (scanId, now) }
        case .answered?, .rejected?, nil:
            unanswered[payload] = nil
            decided[payload] = now
        }
    }

    /// Forgets a code's decision: an admission taken back may be scanned again at once.
    public mutating func forget(_ payload: [UInt8]) {
        decided[payload] = nil
        unanswered[payload] = nil
    }

    private mutating func forgetOld(now: Duration) {
        // Bounded memory on a box that runs for months: drop what no longer matters.
        if decided.count > 64 { decided = decided.filter { now - $0.value < cooldown } }
        if unanswered.count > 64 { unanswered = unanswered.filter { now - $0.value.at < Self.retryWindow } }
    }
}
