import FoundationEssentials

/// How a check-in request wants to be treated.
public enum CheckinMode: String, Codable, Sendable {
    /// Check the ticket in (the default).
    case commit
    /// Answer as `commit` would, but change nothing (for scanners whose staff press Confirm).
    case validate
}

/// The decision for one scan. Decisions are HTTP 200 answers; only a wrong request is a 4xx.
public enum CheckinResult: String, Codable, Sendable, CaseIterable {
    case valid
    case alreadyUsed = "already_used"
    case notFound = "not_found"
    case wrongEvent = "wrong_event"
    case expired
    case revoked
    /// Not a code of ours at all (another QR, garbage, a damaged read).
    case invalid
    /// A person left (an exit scan): always let out.
    case exit
    /// The ticket's type is not admitted at this gate's check-in list.
    case notOnList = "not_on_list"
    /// Before the list opens.
    case notOpen = "not_open"
    /// After the list closes.
    case closed
    /// The list's capacity of people inside is reached.
    case full
    /// Inside already, on a list that admits again only after an exit.
    case alreadyInside = "already_inside"
    /// Only in the log: a check-in taken back by the device that made it.
    case annulled

    /// Lets a person in.
    public var admits: Bool { self == .valid }
    /// Lets a person through, in or out: the answer's `ok`.
    public var passes: Bool { self == .valid || self == .exit }
}

/// `POST /api/checkins/{scanId}/annul` body: the device that made the scan, at its gate.
public struct AnnulRequest: Codable, Sendable, Equatable {
    public var deviceId: String
    public var gateId: String

    public init(deviceId: String, gateId: String) {
        self.deviceId = deviceId
        self.gateId = gateId
    }
}

/// `POST /api/checkin` body.
public struct CheckinRequest: Codable, Sendable, Equatable {
    public var qrData: String
    public var deviceId: String
    public var gateId: String
    /// Made by the scanner for each scan and reused on retry, so a retry gets the first answer.
    public var scanId: String?
    public var mode: CheckinMode?
    /// `entry` when absent.
    public var direction: ScanDirection?

    public init(
        qrData: String,
        deviceId: String,
        gateId: String,
        scanId: String? = nil,
        mode: CheckinMode? = nil,
        direction: ScanDirection? = nil
    ) {
        self.direction = direction
        self.qrData = qrData
        self.deviceId = deviceId
        self.gateId = gateId
        self.scanId = scanId
        self.mode = mode
    }
}

/// What staff may see of a known ticket at the gate.
public struct TicketSummary: Codable, Sendable, Equatable {
    public var id: String
    public var number: Int
    public var holderName: String?
    public var ticketType: String?

    public init(id: String, number: Int, holderName: String?, ticketType: String?) {
        self.id = id
        self.number = number
        self.holderName = holderName
        self.ticketType = ticketType
    }
}

/// `POST /api/checkin` answer.
public struct CheckinAnswer: Codable, Sendable, Equatable {
    public var ok: Bool
    public var result: CheckinResult
    public var message: String
    public var ticket: TicketSummary?
    public var firstUsedAt: Date?
    public var firstUsedGate: String?
    /// True when the gate's list asks staff to look at this ticket's type before its holder
    /// goes in; absent otherwise.
    public var attention: Bool?
    /// An offline gate's refusal: true when the first use is another gate's record sent gate to
    /// gate during the outage (`firstUsedGate` names it); never set by the service.
    public var firstUsedByPeer: Bool?

    public init(
        result: CheckinResult,
        message: String,
        ticket: TicketSummary? = nil,
        firstUsedAt: Date? = nil,
        firstUsedGate: String? = nil,
        attention: Bool = false
    ) {
        self.attention = attention ? true : nil
        self.ok = result.passes
        self.result = result
        self.message = message
        self.ticket = ticket
        self.firstUsedAt = firstUsedAt
        self.firstUsedGate = firstUsedGate
    }
}

/// Short, human messages for each result: what a screen or a log shows staff.
public enum CheckinMessage {
    public static func text(for result: CheckinResult, firstUsedAt: Date?, firstUsedGate: String?, timeZone: TimeZone = .current) -> String {
        switch result {
        case .valid: return "Valid — entry allowed"
        case .alreadyUsed:
            var text = "Already used"
            if let gate = firstUsedGate { text += " at \(gate)" }
            if let at = firstUsedAt { text += (firstUsedGate == nil ? " at " : ", ") + clockTime(at, timeZone: timeZone) }
            return text
        case .notFound: return "Unknown ticket"
        case .wrongEvent: return "Ticket is for another event"
        case .expired: return "Ticket expired"
        case .revoked: return "Ticket revoked"
        case .invalid: return "Not a Gatehouse ticket"
        case .exit: return "Exit — goodbye"
        case .notOnList: return "Ticket type not admitted at this gate"
        case .notOpen: return "Not open yet"
        case .closed: return "Closed"
        case .full: return "Full — capacity reached"
        case .alreadyInside: return "Already inside"
        case .annulled: return "Check-in taken back"
        }
    }

    static func clockTime(_ date: Date, timeZone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String {
            let v = value ?? 0
            return v < 10 ? "0\(v)" : "\(v)"
        }
        return "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second))"
    }
}
