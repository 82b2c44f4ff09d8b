import Foundation
import GatehouseCore
import ServiceLifecycle

/// What a store needs to create a ticket. The service mints ids and tokens; the store keeps
/// only the token's hash and assigns the ticket number.
public struct NewTicket: Sendable {
    public var id: String
    public var tokenHash: [UInt8]
    public var userId: String?
    public var holderName: String?
    public var email: String?
    public var ticketType: String?
    public var expiresAt: Date?

    public init(
        id: String,
        tokenHash: [UInt8],
        userId: String? = nil,
        holderName: String? = nil,
        email: String? = nil,
        ticketType: String? = nil,
        expiresAt: Date? = nil
    ) {
        self.id = id
        self.tokenHash = tokenHash
        self.userId = userId
        self.holderName = holderName
        self.email = email
        self.ticketType = ticketType
        self.expiresAt = expiresAt
    }
}

extension NewTicket {
    /// The ticket as a store returns it right after storing it: unused, times to the millisecond.
    public func issued(eventId: String, number: Int, at: Date) -> Ticket {
        Ticket(
            id: id,
            eventId: eventId,
            number: number,
            userId: userId,
            holderName: holderName,
            email: email,
            ticketType: ticketType,
            status: .unused,
            expiresAt: expiresAt?.truncatedToMillis,
            createdAt: at.truncatedToMillis
        )
    }
}

public struct NewDevice: Sendable {
    public var id: String
    public var name: String
    public var gateId: String
    public var eventId: String
    public var tokenHash: [UInt8]
    public var kind: DeviceKind

    public init(id: String, name: String, gateId: String, eventId: String, tokenHash: [UInt8], kind: DeviceKind = .kiosk) {
        self.id = id
        self.name = name
        self.gateId = gateId
        self.eventId = eventId
        self.tokenHash = tokenHash
        self.kind = kind
    }
}

extension NewDevice {
    /// The device as a store returns it right after storing it.
    public func registered(at: Date) -> Device {
        Device(id: id, name: name, gateId: gateId, eventId: eventId, revoked: false, createdAt: at.truncatedToMillis, kind: kind)
    }
}

/// A pairing code for one gate, as stored: its hash only.
public struct NewPairing: Sendable {
    public var codeHash: [UInt8]
    public var eventId: String
    public var gateId: String
    public var name: String
    public var expiresAt: Date

    public init(codeHash: [UInt8], eventId: String, gateId: String, name: String, expiresAt: Date) {
        self.codeHash = codeHash
        self.eventId = eventId
        self.gateId = gateId
        self.name = name
        self.expiresAt = expiresAt
    }
}

/// The id, token hash and kind a redeemed pairing gives its new device.
public struct NewDeviceCredentials: Sendable {
    public var id: String
    public var tokenHash: [UInt8]
    public var kind: DeviceKind

    public init(id: String, tokenHash: [UInt8], kind: DeviceKind = .kiosk) {
        self.id = id
        self.tokenHash = tokenHash
        self.kind = kind
    }
}

public enum PairingRedemption: Sendable, Equatable {
    case enrolled(Device)
    case unknown
    case alreadyUsed
    case expired
}

/// One scan to decide, as the store sees it: hashes, never plain secrets.
public struct CheckinAttempt: Sendable {
    public var deviceId: String
    public var deviceTokenHash: [UInt8]
    public var gateId: String
    public var scanId: String?
    public var mode: CheckinMode
    /// SHA-256 of the scanned text, so a retry can be told from a scanner bug that reuses a scanId.
    public var payloadHash: [UInt8]
    /// The parsed code, or nil when the payload is not one of our codes.
    public var code: (eventId: String, tokenHash: [UInt8])?
    public var direction: ScanDirection
    public var at: Date
    /// The calendar day of `at` in the organizer's time zone (days since 1970 there), for lists
    /// that admit once a day.
    public var day: Int?

    public init(
        deviceId: String,
        deviceTokenHash: [UInt8],
        gateId: String,
        scanId: String? = nil,
        mode: CheckinMode,
        payloadHash: [UInt8],
        code: (eventId: String, tokenHash: [UInt8])? = nil,
        direction: ScanDirection = .entry,
        at: Date,
        day: Int? = nil
    ) {
        self.day = day
        self.direction = direction
        self.deviceId = deviceId
        self.deviceTokenHash = deviceTokenHash
        self.gateId = gateId
        self.scanId = scanId
        self.mode = mode
        self.payloadHash = payloadHash
        self.code = code
        self.at = at
    }
}

/// The store's decision on a scan.
public struct CheckinDecision: Sendable, Equatable {
    public var result: CheckinResult
    public var ticket: TicketSummary?
    public var firstUsedAt: Date?
    public var firstUsedGate: String?
    /// True when this answers a retry of a scan already decided.
    public var replayed: Bool

    public init(result: CheckinResult, ticket: TicketSummary? = nil, firstUsedAt: Date? = nil, firstUsedGate: String? = nil, replayed: Bool) {
        self.result = result
        self.ticket = ticket
        self.firstUsedAt = firstUsedAt
        self.firstUsedGate = firstUsedGate
        self.replayed = replayed
    }
}

public enum CheckinOutcome: Sendable, Equatable {
    case decided(CheckinDecision)
    /// No device with that token, the device is revoked, or the token is another device's.
    case unauthorized
    /// The device is registered for another gate.
    case wrongGate(registered: String)
    /// The scanId was used before by this device for a different code.
    case scanIdReused
}

/// A row of the check-in log at its place in the event's stream.
public struct StreamedCheckin: Sendable, Equatable {
    public var position: ChangeCursor
    public var entry: CheckinLogEntry

    public init(position: ChangeCursor, entry: CheckinLogEntry) {
        self.position = position
        self.entry = entry
    }
}

/// One page of a ticket's changes, for gates that sync a snapshot.
public struct TicketChanges: Sendable, Equatable {
    public var tickets: [TicketState]
    /// The position after the last ticket of the page (the first pull starts from nil).
    public var cursor: ChangeCursor
    /// True when the page holds every change the store could hand out when it was read.
    public var complete: Bool

    public init(tickets: [TicketState], cursor: ChangeCursor, complete: Bool) {
        self.tickets = tickets
        self.cursor = cursor
        self.complete = complete
    }
}

/// What a gate may know of a ticket: no token, no personal data.
public struct TicketState: Sendable, Equatable {
    public var number: Int
    public var tokenHash: [UInt8]
    public var status: TicketStatus
    public var expiresAt: Date?
    public var usedAt: Date?
    public var usedGate: String?
    public var ticketType: String?
    /// Inside through a gate in no list.
    public var inside: Bool
    /// Its pass of the list the change feed was read for, if it has one.
    public var pass: ScanUndo.PassState?

    public init(
        number: Int,
        tokenHash: [UInt8],
        status: TicketStatus,
        expiresAt: Date?,
        usedAt: Date?,
        usedGate: String?,
        ticketType: String? = nil,
        inside: Bool = false,
        pass: ScanUndo.PassState? = nil
    ) {
        self.number = number
        self.tokenHash = tokenHash
        self.status = status
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.usedGate = usedGate
        self.ticketType = ticketType
        self.inside = inside
        self.pass = pass
    }

    /// What a gate decides with: the ticket's own use at a gate in no list; at a list's gate its
    /// pass of that list (as `Ticket.facts(on:)`).
    public func facts(eventId: String, onList: Bool) -> TicketFacts {
        guard onList else {
            return TicketFacts(
                eventId: eventId,
                ticketType: ticketType,
                status: status,
                expiresAt: expiresAt?.millis,
                usedAt: usedAt?.millis,
                usedGate: usedGate,
                inside: inside
            )
        }
        return TicketFacts(
            eventId: eventId,
            ticketType: ticketType,
            status: status == .revoked ? .revoked : pass == nil ? .unused : .used,
            expiresAt: expiresAt?.millis,
            usedAt: pass?.usedAt,
            usedGate: pass?.usedGate,
            inside: pass?.inside ?? false,
            lastEntryDay: pass?.lastEntryDay
        )
    }
}

/// Admissions a gate made without the service, uploaded together by one device.
public struct OfflineAdmissions: Sendable {
    public struct Admission: Sendable {
        public var scanId: String
        public var tokenHash: [UInt8]
        public var at: Date
        public var clock: String
        public var direction: ScanDirection
        /// As a check-in's `payloadHash`: an upload's entry and an online scan with one scanId
        /// are told apart as two online scans would be.
        public var payloadHash: [UInt8]

        public init(
            scanId: String,
            tokenHash: [UInt8],
            at: Date,
            clock: String,
            direction: ScanDirection = .entry,
            payloadHash: [UInt8] = []
        ) {
            self.scanId = scanId
            self.tokenHash = tokenHash
            self.at = at
            self.clock = clock
            self.direction = direction
            self.payloadHash = payloadHash
        }
    }

    public var deviceId: String
    public var deviceTokenHash: [UInt8]
    public var gateId: String
    public var admissions: [Admission]

    public init(deviceId: String, deviceTokenHash: [UInt8], gateId: String, admissions: [Admission]) {
        self.deviceId = deviceId
        self.deviceTokenHash = deviceTokenHash
        self.gateId = gateId
        self.admissions = admissions
    }
}

/// What a store made of one uploaded admission.
public enum OfflineRecording: Sendable, Equatable {
    /// The ticket was unused (or used later than this admission): it is now used at the
    /// admission's gate and time.
    case recorded
    /// The scanId was decided before (an earlier upload, or online): that decision stands.
    case replayed(CheckinResult)
    /// The ticket was already used, revoked or re-issued: logged as a conflict, nothing overwritten.
    case conflict(CheckinResult)
}

public enum OfflineUploadOutcome: Sendable, Equatable {
    case recorded([OfflineRecording])
    case unauthorized
    case wrongGate(registered: String)
}

/// One ticket admitted twice, at least once by a gate offline: `first` is the earlier admission,
/// `offline` the later one, whichever was uploaded first (or a ticket that was revoked or
/// re-issued by the time the offline admission arrived).
public struct Conflict: Codable, Sendable, Equatable {
    public var ticketNumber: Int?
    /// already_used, revoked or not_found: the ticket's state when the upload came.
    public var reason: CheckinResult
    public var offline: CheckinLogEntry
    /// The admission that came first, when there was one.
    public var first: CheckinLogEntry?

    public init(ticketNumber: Int?, reason: CheckinResult, offline: CheckinLogEntry, first: CheckinLogEntry?) {
        self.ticketNumber = ticketNumber
        self.reason = reason
        self.offline = offline
        self.first = first
    }
}

/// One of an event's Ed25519 keys for signed codes. Codes name it by `id` (1–255); keys are
/// never deleted, so codes signed before a rotation keep verifying. The private half never
/// leaves the service; gates get the public half with their snapshot.
public struct SigningKey: Sendable, Equatable {
    public var id: Int
    public var publicKey: [UInt8]
    public var privateKey: [UInt8]
    public var createdAt: Date

    public init(id: Int, publicKey: [UInt8], privateKey: [UInt8], createdAt: Date) {
        self.id = id
        self.publicKey = publicKey
        self.privateKey = privateKey
        self.createdAt = createdAt
    }
}

public enum StoreError: Error, Sendable, Equatable {
    case notFound(String)
    case invalid(String)
    case unavailable(String)
    /// The request contradicts what is stored (say, a gate another list already has).
    case conflict(String)
}

/// The one interface the service logic uses; SQLite and PostgreSQL each implement it, and one
/// conformance suite tests both. Opening a store connects and migrates it; its `services` then
/// do the work while the process runs.
public protocol GatehouseStore: Sendable {
    /// `sqlite`, `postgresql` or `mysql`: the store's label on metrics.
    var kindName: String { get }
    func createEvent(
        id: String,
        name: String,
        startsAt: Date?,
        endsAt: Date?,
        place: String?,
        registration: RegistrationSettings,
        at: Date
    ) async throws -> Event
    func events() async throws -> [Event]
    func event(id: String) async throws -> Event?
    /// Renames or re-times an event; nil when there is none with this id.
    func updateEvent(id: String, name: String, startsAt: Date?, endsAt: Date?, place: String?) async throws -> Event?
    /// An event's tickets by number, filtered by `query.search`.
    func tickets(eventId: String, query: TicketQuery) async throws -> [Ticket]
    /// How many tickets `query.search` finds (its limit and offset aside): the list's page count.
    func ticketCount(eventId: String, query: TicketQuery) async throws -> Int
    /// An event's devices by gate, with their last check-in.
    func devices(eventId: String) async throws -> [DeviceActivity]
    func checkinCounts(eventId: String, minutesSince: Date) async throws -> CheckinCounts
    /// How many of an event's tickets are inside now: entered and not exited since, through a
    /// gate in no list or a list's gates.
    func peopleInside(eventId: String) async throws -> Int

    /// Stores a new list; `StoreError.conflict` when one of its gates is another list's.
    func createList(_ list: CheckinList) async throws -> CheckinList
    /// An event's lists, oldest first, with their gates and counts.
    func lists(eventId: String) async throws -> [CheckinList]
    func list(id: String) async throws -> CheckinList?
    /// Replaces a list's settings and gates (its count and passes stay); nil when there is none.
    func replaceList(_ list: CheckinList) async throws -> CheckinList?
    /// Removes a list, its gates and its passes; false when there was none.
    func deleteList(id: String) async throws -> Bool
    /// Lane modes of an event's kiosks that have one requested or reported.
    func laneStates(eventId: String) async throws -> [LaneState]
    func laneState(deviceId: String) async throws -> LaneState?
    /// The organizer's mode for a kiosk (nil: none).
    func requestLaneMode(deviceId: String, mode: LaneMode?, at: Date) async throws
    /// What the kiosk reported its lane is in.
    func reportLane(_ report: LaneReport, at: Date) async throws
    /// The latest heartbeat of each of an event's devices that sent one.
    func heartbeats(eventId: String) async throws -> [StoredHeartbeat]
    func heartbeat(deviceId: String) async throws -> StoredHeartbeat?
    /// Replaces a device's heartbeat row.
    func saveHeartbeat(_ heartbeat: StoredHeartbeat) async throws
    /// Lists whose `exitAllAt` is at or before `now`: (id, that time).
    func listsDueToEmpty(now: Date) async throws -> [(id: String, exitAllAt: Date)]
    /// Counts up to `limit` people inside the list out at `at` (their passes, the count, an
    /// `exit` row each), in one transaction that takes its turn with the list's scans. When
    /// nobody is left it moves `exitAllAt` from `due` to `next` instead, and returns 0.
    func countEveryoneOut(listId: String, due: Date, next: Date, at: Date, limit: Int) async throws -> Int

    /// Creates all tickets or none. Throws `StoreError.notFound` for an unknown event.
    func issueTickets(eventId: String, tickets: [NewTicket], at: Date) async throws -> [Ticket]
    func ticket(id: String) async throws -> Ticket?
    /// The ticket whose code has this hash now (not one it had before a re-issue).
    func ticket(tokenHash: [UInt8]) async throws -> Ticket?
    func revokeTicket(id: String) async throws -> Ticket?
    /// Gives the ticket a new token hash: the old code stops working in the same commit (its hash
    /// is kept as retired, so an offline admission of the old code is still known as this
    /// ticket's). A revoked ticket becomes unused again (revoke, then re-issue, is how a lost
    /// ticket is replaced); a used one stays used.
    /// With `mail`, the new code's mail is queued in the same commit (and any mail still waiting
    /// with the old code is dropped either way).
    func replaceTicketToken(id: String, tokenHash: [UInt8], at: Date, mail: NewMail?) async throws -> Ticket?

    /// Throws `StoreError.notFound` for an unknown event.
    func addDevice(_ device: NewDevice, at: Date) async throws -> Device
    func revokeDevice(id: String) async throws -> Device?

    func checkins(eventId: String, filter: CheckinFilter) async throws -> [CheckinLogEntry]
    /// The event's check-in log in commit order after `cursor` (from the start when nil), at
    /// most `limit` rows: a row that commits later never gets a place before one already handed
    /// out, so a reader resuming from its last position misses none and gets none twice. A row
    /// marked an offline admission (or a conflict) after it was logged comes again, at a new
    /// place, as it now reads. For the event stream.
    func checkinStream(eventId: String, after cursor: ChangeCursor?, limit: Int) async throws -> [StreamedCheckin]

    /// Stores a webhook of an existing event, placed at the end of its stream: it gets what is
    /// logged from now on.
    func addWebhook(_ webhook: NewWebhook, at: Date) async throws -> Webhook
    func webhooks(eventId: String) async throws -> [Webhook]
    func webhook(id: String) async throws -> Webhook?
    /// False when there was none.
    func deleteWebhook(id: String) async throws -> Bool
    /// Takes up to `limit` webhooks due at `at` that no deliverer holds, until `leaseUntil` (or
    /// until settled): two processes never deliver one webhook at once.
    func claimWebhooks(at: Date, leaseUntil: Date, limit: Int) async throws -> [ClaimedWebhook]
    func settleWebhook(id: String, _ settlement: WebhookSettlement) async throws

    /// Rows of one read of the small tables (accounts, sessions, tokens, the audit trail), whose
    /// statements are the same text in every store (`AccountStatements`).
    func rows<T: Sendable>(_ statement: StoreStatement, _ decode: @escaping @Sendable (any StoreRow) -> T) async throws -> [T]
    /// Statements run in one transaction; the rows each changed.
    @discardableResult
    func change(_ statements: [StoreStatement]) async throws -> [Int]
    /// Authenticates the device and decides the scan in one transaction that is durable before
    /// this returns.
    func checkin(_ attempt: CheckinAttempt) async throws -> CheckinOutcome
    /// Takes back the check-in `scanId` of `device` (`Annulment`): the ticket, its pass and the
    /// list's count as they were before it, and an `annulled` row in the log.
    func annul(scanId: String, device: DeviceOnDuty, at: Date) async throws -> Result<AnnulAnswer, AnnulRefusal>

    /// Stores a one-time pairing code (its hash) for a gate. Throws `StoreError.notFound` for an
    /// unknown event.
    func createPairing(_ pairing: NewPairing, at: Date) async throws
    /// Trades a pairing code for a new device in one transaction: the code is marked used only if
    /// it is unused and not expired, and the device is created with it.
    func redeemPairing(codeHash: [UInt8], device: NewDeviceCredentials, at: Date) async throws -> PairingRedemption
    /// When the pairing with this code hash was made; nil for an unknown code (or one made
    /// before the store kept the time).
    func pairingCreatedAt(codeHash: [UInt8]) async throws -> Date?

    // MARK: Registration and mail

    /// Replaces the event's registration settings; nil when there is no such event.
    func setRegistration(eventId: String, _ settings: RegistrationSettings) async throws -> Event?
    /// Decides and stores a registration in one transaction that holds the event's row, so its
    /// capacity holds however many register at once: the ticket, the address it was made for and
    /// the mail that delivers it commit together, or nothing does.
    func register(_ registration: NewRegistration, at: Date) async throws -> RegistrationOutcome
    /// Puts ticket mails in the outbox, each superseding its ticket's earlier pending one.
    func enqueueMail(_ mails: [NewMail], at: Date) async throws
    /// Claims up to `limit` pending mails due by `due` that no sender holds: each is this caller's
    /// until `leaseUntil`, so several service processes never send one twice.
    func claimMail(due: Date, leaseUntil: Date, limit: Int) async throws -> [QueuedMail]
    /// Frees mails claimed by a sender that is gone, at a sender's start: on SQLite, which one
    /// service process uses, every claim is such (a process killed mid-send left it); the server
    /// stores free none, as another process may be sending them. Returns how many were freed.
    func releaseAbandonedMailClaims() async throws -> Int
    /// Marks a mail sent and erases its sealed code.
    func mailSent(id: String, at: Date) async throws
    /// Records a failed attempt: retried at `failure.retryAt`, or failed for good (code erased).
    func mailFailed(id: String, _ failure: MailFailure, at: Date) async throws
    /// The event's ticket mails (one ticket's, with `ticketId`), newest first.
    func mailDeliveries(eventId: String, ticketId: String?) async throws -> [MailDelivery]
    /// Mails waiting to be sent (all events), and since when the oldest of them waits.
    func mailOutboxDepth() async throws -> MailOutboxDepth

    // MARK: Signed codes

    /// The event's signing keys, oldest first (the newest signs new codes).
    func signingKeys(eventId: String) async throws -> [SigningKey]
    /// Adds a key numbered one above the newest. Throws `StoreError.notFound` for an unknown
    /// event, `StoreError.invalid` past key 255.
    func addSigningKey(eventId: String, publicKey: [UInt8], privateKey: [UInt8], at: Date) async throws -> SigningKey

    // MARK: Offline gates

    /// The device with this token, if it is enrolled and not revoked.
    func device(tokenHash: [UInt8]) async throws -> Device?
    /// A device by id, revoked or not.
    func device(id: String) async throws -> Device?
    /// Tickets of the event changed after `cursor` (all, from nil), oldest change first, at most
    /// `limit`. Changes are numbered in commit order, so a gate that pulls from its last cursor
    /// never misses one. With `listId`, each ticket comes with its pass of that list (a pass
    /// that changes changes its ticket, so the feed carries it).
    func ticketChanges(eventId: String, after cursor: ChangeCursor?, limit: Int, listId: String?) async throws -> TicketChanges
    /// Marks the log row of a scan a gate decided offline and uploaded (`checkin` made it):
    /// offline, by `clock`; with `conflict`, admitted by the gate but refused by the rules as the
    /// service saw them. Only the row made at that offline time: a scan decided online first
    /// stays as it was. Idempotent.
    func markOffline(deviceId: String, scanId: String, at: Date, clock: String, conflict: CheckinResult?) async throws
    /// Which of these token hashes name a ticket of the event, by its code now or by one it had
    /// before a re-issue. A read: admissions that name no ticket are answered without a write.
    func knownTokenHashes(eventId: String, _ hashes: [[UInt8]]) async throws -> Set<[UInt8]>
    /// Records admissions a gate made offline, in order, in one transaction: each scanId once.
    /// A ticket's use is its earliest admission, whatever order the uploads arrive in: an
    /// admission earlier than the ticket's recorded use takes its place, and the later one becomes
    /// the conflict.
    func recordOffline(_ upload: OfflineAdmissions) async throws -> OfflineUploadOutcome
    /// The event's offline admissions that collided with another, oldest first.
    func conflicts(eventId: String) async throws -> [Conflict]

    /// Throws when the database cannot answer a trivial query (for `/healthz`).
    func healthCheck() async throws

    /// The store's long-running parts (a writer thread, a connection pool, a batcher), to be run
    /// by the process's `ServiceGroup` in this order and before anything that uses the store, so
    /// a graceful shutdown stops them after it, in reverse: queued writes commit, connections
    /// close. A store opened but not run answers nothing.
    var services: [any Service] { get }
}

extension GatehouseStore {
    public func replaceTicketToken(id: String, tokenHash: [UInt8], at: Date) async throws -> Ticket? {
        try await replaceTicketToken(id: id, tokenHash: tokenHash, at: at, mail: nil)
    }

    /// An event without a place, closed for registration.
    public func createEvent(id: String, name: String, startsAt: Date?, endsAt: Date?, at: Date) async throws -> Event {
        try await createEvent(id: id, name: name, startsAt: startsAt, endsAt: endsAt, place: nil, registration: RegistrationSettings(), at: at)
    }
}

extension GatehouseStore {
    /// The change feed of a gate in no list.
    public func ticketChanges(eventId: String, after cursor: ChangeCursor?, limit: Int) async throws -> TicketChanges {
        try await ticketChanges(eventId: eventId, after: cursor, limit: limit, listId: nil)
    }
}
