import FoundationEssentials

// The wire types of offline gates, shared by the service and the kiosk:
//   GET  /api/sync/tickets?after=CURSOR&limit=N   → TicketSyncPage   (device token)
//   POST /api/offline-checkins  OfflineUpload     → OfflineUploadAnswer (device token)
// Times are milliseconds since 1970, hashes base64url without padding: a 100,000-ticket snapshot
// is a few megabytes, not tens.

/// What a gate keeps of one ticket to decide without the service: the SHA-256 of its token
/// (never the token), its number, status and expiry, and where it was first used. No names, no
/// e-mail: a stolen gate box leaks no personal data and cannot make codes.
public struct SyncedTicket: Codable, Sendable, Equatable {
    public typealias Status = TicketStatus

    public var number: Int
    /// base64url of the 32-byte token hash.
    public var hash: String
    public var status: Status
    public var expiresAt: Int64?
    public var usedAt: Int64?
    public var usedGate: String?
    /// The ticket type (no personal data): what a list's `ticketTypes` admit.
    public var type: String?
    /// Entered and not exited since (at a list's gate: through that list's gates).
    public var inside: Bool?
    /// At a `daily` list's gate: the day of the last entry (see `SyncedGateList.day(at:)`).
    public var lastEntryDay: Int?

    public init(
        number: Int,
        hash: String,
        status: Status,
        expiresAt: Int64? = nil,
        usedAt: Int64? = nil,
        usedGate: String? = nil,
        type: String? = nil,
        inside: Bool? = nil,
        lastEntryDay: Int? = nil
    ) {
        self.number = number
        self.hash = hash
        self.status = status
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.usedGate = usedGate
        self.type = type
        self.inside = inside
        self.lastEntryDay = lastEntryDay
    }
}

/// One page of ticket changes after a cursor. A gate applies pages in order; `complete` says
/// nothing newer was left when the page was read.
public struct TicketSyncPage: Codable, Sendable, Equatable {
    public var eventId: String
    /// The service's clock when it read the page (ms since 1970): the gate's time reference.
    public var serverTime: Int64
    /// Where the next pull starts (opaque to the gate).
    public var cursor: String
    public var complete: Bool
    public var tickets: [SyncedTicket]
    /// The event's public keys for signed codes (empty for plain codes), every page.
    public var keys: [SyncedKey]
    /// The check-in list the device's gate belongs to, with its rules, every page; absent for a
    /// gate in no list. At a list's gate the tickets' `status`, `usedAt`, `inside` and
    /// `lastEntryDay` are their passes of that list (revoked stays the ticket's own), so the gate
    /// decides with `GateDecision` as the service does.
    public var gateList: SyncedGateList?
    /// The lane mode the organizer set for this device, every page; absent: none (normal, unless
    /// the box or its key switch says otherwise). The kiosk reports what it applied.
    public var laneMode: LaneMode?
    /// The key this event's gates authenticate their used records to each other with (see
    /// `SyncedPeerKey`), every page.
    public var peerKey: SyncedPeerKey?

    public init(
        eventId: String,
        serverTime: Int64,
        cursor: String,
        complete: Bool,
        tickets: [SyncedTicket],
        keys: [SyncedKey] = [],
        gateList: SyncedGateList? = nil,
        laneMode: LaneMode? = nil,
        peerKey: SyncedPeerKey? = nil
    ) {
        self.peerKey = peerKey
        self.laneMode = laneMode
        self.eventId = eventId
        self.serverTime = serverTime
        self.cursor = cursor
        self.complete = complete
        self.tickets = tickets
        self.keys = keys
        self.gateList = gateList
    }
}

/// The check-in list of a gate and its rules, as a sync page names it.
public struct SyncedGateList: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// Absent: every ticket type.
    public var ticketTypes: [String]?
    /// Absent (a service before rules were synced): the gate cannot decide entries offline.
    public var entry: EntryPolicy?
    public var capacity: Int?
    public var opensAt: Int64?
    public var closesAt: Int64?
    /// People inside the list when the page was read.
    public var inside: Int?
    /// The organizer's UTC offsets (seconds) from a time on, oldest first, covering the days
    /// around the page: a `daily` list's days without a time-zone database on the gate.
    public var utcOffsets: [UTCOffset]?
    /// Ticket types staff must look at before their holder goes in.
    public var attention: [String]?

    public struct UTCOffset: Codable, Sendable, Equatable {
        /// Milliseconds since 1970.
        public var from: Int64
        public var seconds: Int

        public init(from: Int64, seconds: Int) {
            self.from = from
            self.seconds = seconds
        }
    }

    public init(
        id: String,
        name: String,
        ticketTypes: [String]? = nil,
        entry: EntryPolicy? = nil,
        capacity: Int? = nil,
        opensAt: Int64? = nil,
        closesAt: Int64? = nil,
        inside: Int? = nil,
        utcOffsets: [UTCOffset]? = nil,
        attention: [String]? = nil
    ) {
        self.attention = attention
        self.id = id
        self.name = name
        self.ticketTypes = ticketTypes
        self.entry = entry
        self.capacity = capacity
        self.opensAt = opensAt
        self.closesAt = closesAt
        self.inside = inside
        self.utcOffsets = utcOffsets
    }

    /// The rules `GateDecision` reads; nil when the page did not carry them.
    public var rules: GateRules? {
        entry.map {
            GateRules(
                ticketTypes: ticketTypes.map(Set.init),
                entry: $0,
                capacity: capacity,
                opensAt: opensAt,
                closesAt: closesAt,
                attention: attention.map(Set.init)
            )
        }
    }

    /// The calendar day of `at` (ms since 1970) in the organizer's zone, as the service counts
    /// it (days since 1970 there); nil when `at` is before the offsets the page carried.
    public func day(at: Int64) -> Int? {
        guard let offset = utcOffsets?.last(where: { $0.from <= at }) else { return nil }
        return CalendarDay.number(at: at, utcOffsetSeconds: offset.seconds)
    }
}

/// Days since 1970 in a zone, the one way the service and the gate count them.
public enum CalendarDay {
    public static func number(at millis: Int64, utcOffsetSeconds: Int) -> Int {
        let local = millis + Int64(utcOffsetSeconds) * 1000
        return Int(local >= 0 ? local / 86_400_000 : (local - 86_399_999) / 86_400_000)
    }
}

/// One of an event's Ed25519 public keys: signed codes name it by id.
public struct SyncedKey: Codable, Sendable, Equatable {
    public var id: Int
    /// base64url of the 32-byte public key.
    public var publicKey: String

    public init(id: Int, publicKey: String) {
        self.id = id
        self.publicKey = publicKey
    }
}

/// Which clock an offline decision's time came from (recorded with each offline check-in).
public enum OfflineClock: String, Codable, Sendable {
    /// The system clock, which systemd-timesyncd reports synchronised.
    case synchronized
    /// The service's time at the last contact plus the monotonic clock since (same boot).
    case serverMonotonic = "server+monotonic"
}

/// An entry (an admission) or an exit a gate decided without the service, as it uploads it later.
public struct OfflineCheckin: Codable, Sendable, Equatable {
    public var scanId: String
    /// The code the gate scanned (`GH:…` or `GS:…`): the proof that it was shown to the gate.
    /// The service finds the ticket by its hash; a device that only knows the snapshot's hashes
    /// cannot make one, so it cannot mark tickets used that it never saw. Once uploaded, a code
    /// is worthless: its ticket is used.
    public var code: String?
    /// base64url of the token hash the gate matched (optional: the service checks it against
    /// the code's when given).
    public var hash: String?
    public var ticketNumber: Int
    /// When the gate admitted (ms since 1970, by `clock`).
    public var at: Int64
    public var clock: OfflineClock
    /// Absent: an entry (gates from before exits were journaled).
    public var direction: ScanDirection?

    public init(
        scanId: String,
        code: String?,
        hash: String? = nil,
        ticketNumber: Int,
        at: Int64,
        clock: OfflineClock,
        direction: ScanDirection? = nil
    ) {
        self.scanId = scanId
        self.code = code
        self.hash = hash
        self.ticketNumber = ticketNumber
        self.at = at
        self.clock = clock
        self.direction = direction
    }
}

public struct OfflineUpload: Codable, Sendable, Equatable {
    public var deviceId: String
    public var gateId: String
    public var checkins: [OfflineCheckin]

    public init(deviceId: String, gateId: String, checkins: [OfflineCheckin]) {
        self.deviceId = deviceId
        self.gateId = gateId
        self.checkins = checkins
    }

    /// Most check-ins in one upload; a gate sends more in several.
    public static let maximumCount = 1000
}

/// What the service made of one uploaded admission.
public struct OfflineCheckinResult: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        /// The ticket was unused: it is now used, marked as decided offline at that gate and time.
        case recorded
        /// This scanId was decided before (an earlier upload, or online with a lost answer):
        /// nothing was written; `result` is that first decision.
        case replayed
        /// The ticket was already used (or revoked, or re-issued) when the upload came: both
        /// admissions stay in the log, and the conflict is reported to the organizer. A code that
        /// names no ticket at all is answered so too, and nothing is written.
        case conflict
        /// The entry itself is wrong (no code, a code that does not match its hash, a time in
        /// the future, a scanId seen twice): nothing was written; `detail` says why. A gate
        /// keeps the entry and, after a few refusals, sets it aside and reports it.
        case refused
    }

    public var scanId: String
    public var outcome: Outcome
    /// The first decision, for `replayed`; the ticket's state for `conflict`.
    public var result: CheckinResult?
    /// Why an entry was refused.
    public var detail: String?

    public init(scanId: String, outcome: Outcome, result: CheckinResult? = nil, detail: String? = nil) {
        self.scanId = scanId
        self.outcome = outcome
        self.result = result
        self.detail = detail
    }
}

public struct OfflineUploadAnswer: Codable, Sendable, Equatable {
    public var results: [OfflineCheckinResult]

    public init(results: [OfflineCheckinResult]) { self.results = results }
}

/// base64url without padding, for token hashes on the wire.
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        let standard = Data(bytes).base64EncodedString().utf8
        return String(
            decoding: standard.compactMap { byte -> UInt8? in
                switch byte {
                case UInt8(ascii: "+"): UInt8(ascii: "-")
                case UInt8(ascii: "/"): UInt8(ascii: "_")
                case UInt8(ascii: "="): nil
                default: byte
                }
            },
            as: UTF8.self
        )
    }

    /// nil for anything that is not base64url.
    public static func decode(_ text: String) -> [UInt8]? {
        guard text.utf8.allSatisfy({ $0.isBase64URL }) else { return nil }
        var standard = text.utf8.map { byte -> UInt8 in
            switch byte {
            case UInt8(ascii: "-"): UInt8(ascii: "+")
            case UInt8(ascii: "_"): UInt8(ascii: "/")
            default: byte
            }
        }
        while standard.count % 4 != 0 { standard.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(standard)).map { Array($0) }
    }
}

extension UInt8 {
    fileprivate var isBase64URL: Bool {
        (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self) || (0x30...0x39).contains(self) || self == 0x2D || self == 0x5F
    }
}

/// The event's key for gate-to-gate used records: HMAC-SHA256 under it proves a record comes from
/// a gate the service gave it to (an enrolled kiosk of this event). The service makes a new one
/// whenever one of the event's kiosks is revoked, so a revoked box's records stop counting as
/// soon as the others have synced once.
public struct SyncedPeerKey: Codable, Sendable, Equatable {
    /// Names the key without revealing it (the first bytes of its SHA-256), sent in each record.
    public var id: String
    /// 32 bytes, base64url.
    public var key: String

    public init(id: String, key: String) {
        self.id = id
        self.key = key
    }
}
