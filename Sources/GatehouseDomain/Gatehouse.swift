import CoreMetrics
import Foundation
import GatehouseCore
import GatehouseStorage
import Logging

/// The service's logic, independent of HTTP: mints ids and secrets, validates admin input, and
/// turns store decisions into answers. Routes and the admin CLI both call this.
public struct Gatehouse: Sendable {
    /// Reached only through this type's methods (here and in its extensions), which validate
    /// and log what the store cannot; routes and the CLI call those.
    package let store: any GatehouseStore
    public let now: @Sendable () -> Date
    /// The organizer's time zone: where a `daily` list's day begins.
    public let timeZone: TimeZone
    /// Database outages, each cause logged once per outage.
    public let outages: OutageLog
    /// Where the service's metrics are counted (`ServiceMeters`); none unless the service exports them.
    public let metrics: any MetricsFactory
    /// Public keys of signed codes, so a signed check-in costs no extra database read.
    package let verifyingKeys = VerifyingKeyCache()
    /// Devices by token, so routes check a token before reading a body (see DeviceDirectory).
    package let devices = DeviceDirectory()
    /// Each gate's attention types, so a granted scan costs no extra read.
    package let attention = ListAttention()
    /// What one device may ask in a burst: offline entries (5,000, then 1,000 a second), snapshot
    /// pages (300, then 5 a second: a 100,000-ticket first pull is 100), and pulls from nothing
    /// (3, then one a minute).
    package let uploadLimiter: RateLimiter
    package let syncPageLimiter: RateLimiter
    package let fullPullLimiter: RateLimiter
    /// Seals the codes of mails waiting in the outbox (the key outside the database).
    package let codeSeal: CodeSeal
    /// Rung when mail is queued, so the outbox sender sends it at once.
    public let outboxBell = Doorbell()

    public init(
        store: any GatehouseStore,
        codeSeal: CodeSeal = .random(),
        timeZone: TimeZone = TimeZone(identifier: "UTC")!,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.metrics = metrics
        outages = OutageLog(metrics: metrics)
        self.timeZone = timeZone
        self.store = store
        self.codeSeal = codeSeal
        self.now = now
        uploadLimiter = RateLimiter(capacity: 5_000, perSecond: 1_000, now: now)
        syncPageLimiter = RateLimiter(capacity: 300, perSecond: 5, now: now)
        fullPullLimiter = RateLimiter(capacity: 3, perSecond: 1.0 / 60, now: now)
    }

    // MARK: Limits for admin input

    public static let maximumTicketsPerRequest = 10_000
    package static let maximumNameLength = 200
    package static let maximumIDLength = 128

    // MARK: Events

    public func createEvent(name: String, startsAt: Date?, endsAt: Date?) async throws -> Event {
        let name = try Self.requiredText(name, field: "name")
        if let startsAt, let endsAt, endsAt < startsAt {
            throw InvalidInputError("endsAt must not be before startsAt")
        }
        return try await store.createEvent(id: Identifier.newEventID(), name: name, startsAt: startsAt, endsAt: endsAt, at: now())
    }

    /// Every event, newest first.
    public func events() async throws -> [Event] {
        try await store.events()
    }

    /// Whether the database can serve (for `/healthz`); an outage's cause is logged once per
    /// change, its end once.
    public func isHealthy(logger: Logger) async -> Bool {
        do {
            try await store.healthCheck()
        } catch {
            if case StoreError.unavailable(let why) = error { outages.failed(why, logger: logger) }
            return false
        }
        outages.served(logger: logger)
        return true
    }

    public func event(id: String) async throws -> Event {
        guard let event = try await store.event(id: id) else { throw NotFoundError("event \(id)") }
        return event
    }

    /// Renames or re-times an event (the same rules as creating one).
    public func updateEvent(id: String, name: String, startsAt: Date?, endsAt: Date?, place: String?) async throws -> Event {
        let name = try Self.requiredText(name, field: "name")
        if let startsAt, let endsAt, endsAt < startsAt {
            throw InvalidInputError("endsAt must not be before startsAt")
        }
        guard
            let event = try await store.updateEvent(
                id: id,
                name: name,
                startsAt: startsAt,
                endsAt: endsAt,
                place: try Self.optionalText(place, field: "place")
            )
        else {
            throw NotFoundError("event \(id)")
        }
        return event
    }

    /// An event's tickets by number; `query.search` is a number or part of a name or e-mail.
    public func tickets(eventId: String, query: TicketQuery) async throws -> [Ticket] {
        _ = try await event(id: eventId)
        var query = query
        query.search = try Self.optionalText(query.search, field: "search")
        query.limit = min(max(query.limit, 1), 1000)
        query.offset = max(query.offset, 0)
        return try await store.tickets(eventId: eventId, query: query)
    }

    /// How many tickets of the event a search finds (for the list's page count).
    public func ticketCount(eventId: String, search: String?) async throws -> Int {
        try await store.ticketCount(eventId: eventId, query: TicketQuery(search: try Self.optionalText(search, field: "search")))
    }

    public func devices(eventId: String) async throws -> [DeviceActivity] {
        _ = try await event(id: eventId)
        return try await store.devices(eventId: eventId)
    }

    /// Per-gate numbers since the start, and admissions per minute over the last `minutes`.
    public func checkinCounts(eventId: String, minutes: Int = 60) async throws -> CheckinCounts {
        _ = try await event(id: eventId)
        let since = Date(timeIntervalSince1970: (now().timeIntervalSince1970 / 60).rounded(.down) * 60 - Double(minutes - 1) * 60)
        return try await store.checkinCounts(eventId: eventId, minutesSince: since)
    }

    // MARK: Tickets

    public struct TicketRequest: Sendable {
        public var holderName: String?
        public var email: String?
        public var ticketType: String?
        public var userId: String?
        public var expiresAt: Date?

        public init(holderName: String? = nil, email: String? = nil, ticketType: String? = nil, userId: String? = nil, expiresAt: Date? = nil) {
            self.holderName = holderName
            self.email = email
            self.ticketType = ticketType
            self.userId = userId
            self.expiresAt = expiresAt
        }
    }

    /// Issues one ticket per request, all in one transaction. The plain QR texts exist only in
    /// the returned value.
    public func issueTickets(eventId: String, _ requests: [TicketRequest]) async throws -> [IssuedTicket] {
        guard (1...Self.maximumTicketsPerRequest).contains(requests.count) else {
            throw InvalidInputError("quantity must be between 1 and \(Self.maximumTicketsPerRequest)")
        }
        let minter = try await codeMinter(eventId: eventId)
        var codes: [String] = []
        var news: [NewTicket] = []
        codes.reserveCapacity(requests.count)
        news.reserveCapacity(requests.count)
        for request in requests {
            let code = try minter.mint(expiresAt: request.expiresAt)
            codes.append(code.qrData)
            news.append(
                NewTicket(
                    id: Identifier.newTicketID(),
                    tokenHash: code.tokenHash,
                    userId: try Self.optionalText(request.userId, field: "userId", limit: Self.maximumIDLength),
                    holderName: try Self.optionalText(request.holderName, field: "holderName"),
                    email: try Self.optionalText(request.email, field: "email"),
                    ticketType: try Self.optionalText(request.ticketType, field: "ticketType"),
                    expiresAt: request.expiresAt
                )
            )
        }
        let tickets = try await mapMissing(try await store.issueTickets(eventId: eventId, tickets: news, at: now()))
        return zip(tickets, codes).map { IssuedTicket(ticket: $0, qrData: $1) }
    }

    public func ticket(id: String) async throws -> Ticket {
        guard let ticket = try await store.ticket(id: id) else { throw NotFoundError("ticket \(id)") }
        return ticket
    }

    public func revokeTicket(id: String) async throws -> Ticket {
        guard let ticket = try await store.revokeTicket(id: id) else { throw NotFoundError("ticket \(id)") }
        return ticket
    }

    /// A new token for the ticket: the old QR stops working in the same commit.
    public func reissueTicket(id: String) async throws -> IssuedTicket {
        let current = try await ticket(id: id)
        let code = try await codeMinter(eventId: current.eventId).mint(expiresAt: current.expiresAt)
        guard let ticket = try await store.replaceTicketToken(id: id, tokenHash: code.tokenHash, at: now()) else {
            throw NotFoundError("ticket \(id)")
        }
        return IssuedTicket(ticket: ticket, qrData: code.qrData)
    }

    // MARK: Devices

    /// A new device and its bearer token (shown once, stored hashed).
    public func addDevice(
        name: String,
        gateId: String,
        eventId: String,
        kind: DeviceKind = .kiosk,
        token: String = Secret.newDeviceToken()
    ) async throws -> (device: Device, token: String) {
        try Self.checkIdentifier(gateId, field: "gateId")
        let device = NewDevice(
            id: Identifier.newDeviceID(),
            name: try Self.requiredText(name, field: "name"),
            gateId: try Self.requiredText(gateId, field: "gateId", limit: Self.maximumIDLength),
            eventId: eventId,
            tokenHash: TokenHash.of(token),
            kind: kind
        )
        return (try await mapMissing(try await store.addDevice(device, at: now())), token)
    }

    /// The enrolled, unrevoked device a token belongs to (the staff scanner's session), or 401.
    public func scannerDevice(bearerToken: String) async throws -> Device {
        guard let device = try await store.device(tokenHash: TokenHash.of(bearerToken)) else { throw CheckinError.unauthorized }
        return device
    }

    public func revokeDevice(id: String) async throws -> Device {
        guard let device = try await store.revokeDevice(id: id) else { throw NotFoundError("device \(id)") }
        devices.forget(deviceId: id)
        return device
    }

    /// The enrolled, unrevoked device a bearer token belongs to, remembered for a few seconds:
    /// what routes check before they read a body. Throws `CheckinError.unauthorized`.
    public func enrolledDevice(bearerToken: String) async throws -> Device {
        let hash = TokenHash.of(bearerToken)
        guard let device = try await devices.device(tokenHash: hash, load: { try await store.device(tokenHash: hash) }) else {
            throw CheckinError.unauthorized
        }
        return device
    }

    public func checkins(eventId: String, filter: CheckinFilter) async throws -> [CheckinLogEntry] {
        _ = try await event(id: eventId)
        return try await store.checkins(eventId: eventId, filter: filter)
    }

    // MARK: Enrollment

    /// Pairing codes: 16 base32 characters shown as XXXX-XXXX-XXXX-XXXX (80 bits), used once and
    /// valid for minutes. 80 bits make guessing hopeless from any number of addresses, so no
    /// count of wrong guesses ever has to switch a code off (which let strangers kill every open
    /// code).
    package static let pairingCodeLength = 16
    public static let pairingTimeToLive: ClosedRange<Int> = 5...86_400

    public enum EnrollmentError: Error, Equatable {
        case unknownCode, codeAlreadyUsed, codeExpired
    }

    /// A one-time code a technician types on the gate box to enroll it for `gateId`.
    public func createPairing(eventId: String, gateId: String, name: String?, timeToLive: Int) async throws -> (code: String, expiresAt: Date) {
        guard Self.pairingTimeToLive.contains(timeToLive) else {
            throw InvalidInputError("ttlSeconds must be between \(Self.pairingTimeToLive.lowerBound) and \(Self.pairingTimeToLive.upperBound)")
        }
        let gate = try Self.requiredText(gateId, field: "gateId", limit: Self.maximumIDLength)
        let code = Base32.randomString(count: Self.pairingCodeLength)
        let expiresAt = now().addingTimeInterval(TimeInterval(timeToLive)).truncatedToMillis
        try await mapMissing(
            try await store.createPairing(
                NewPairing(
                    codeHash: TokenHash.of(code),
                    eventId: eventId,
                    gateId: gate,
                    name: try Self.optionalText(name, field: "name") ?? "kiosk \(gate)",
                    expiresAt: expiresAt
                ),
                at: now()
            )
        )
        return (Self.grouped(code), expiresAt)
    }

    /// Trades a pairing code for a new device of `kind` and its token (shown once). Codes of 12
    /// characters (made before codes grew to 16) are still taken while they last.
    public func enroll(code: String, kind: DeviceKind = .kiosk) async throws -> (device: Device, token: String) {
        let normalized = code.uppercased().filter { $0 != "-" && $0 != " " }
        guard [12, Self.pairingCodeLength].contains(normalized.utf8.count), Base32.isBase32(normalized) else { throw EnrollmentError.unknownCode }
        let token = Secret.newDeviceToken()
        switch try await store.redeemPairing(
            codeHash: TokenHash.of(normalized),
            device: NewDeviceCredentials(id: Identifier.newDeviceID(), tokenHash: TokenHash.of(token), kind: kind),
            at: now()
        )
        {
        case .enrolled(let device): return (device, token)
        case .unknown: throw EnrollmentError.unknownCode
        case .alreadyUsed: throw EnrollmentError.codeAlreadyUsed
        case .expired: throw EnrollmentError.codeExpired
        }
    }

    package static func grouped(_ code: String) -> String {
        let characters = Array(code)
        return stride(from: 0, to: characters.count, by: 4).map { String(characters[$0..<min($0 + 4, characters.count)]) }.joined(separator: "-")
    }

    // MARK: Check-in

    public enum CheckinError: Error, Equatable {
        case unauthorized
        case wrongGate(registered: String)
        case scanIdReused
        /// A staff scanner's token asked for what only gate kiosks do (the snapshot, offline uploads).
        case kioskOnly
    }

    /// One device asked for more than its share; it may ask again after `retryAfter` seconds.
    public struct RateLimited: Error, Equatable {
        public var retryAfter: Int
        public var what: String
    }

    /// Decides one scan. `bearerToken` is the device's secret from the Authorization header.
    public func checkin(_ request: CheckinRequest, bearerToken: String, logger: Logger) async throws -> CheckinAnswer {
        let started = ContinuousClock.now
        // Refused at the edge, before any store sees them: a NUL made PostgreSQL reject the whole
        // batch (other gates' scans with it) and SQLite cut the text short (two scanIds collided).
        try Self.checkIdentifier(request.deviceId, field: "deviceId")
        try Self.checkIdentifier(request.gateId, field: "gateId")
        if let scanId = request.scanId { try Self.checkIdentifier(scanId, field: "scanId") }
        let code = try await scannedCode(request.qrData)
        let at = now()
        let attempt = CheckinAttempt(
            deviceId: request.deviceId,
            deviceTokenHash: TokenHash.of(bearerToken),
            gateId: request.gateId,
            scanId: request.scanId,
            mode: request.mode ?? .commit,
            payloadHash: Self.payloadHash(request.qrData, direction: request.direction ?? .entry),
            code: code,
            direction: request.direction ?? .entry,
            at: at,
            day: Self.day(of: at, in: timeZone)
        )
        return try await decide(attempt, started: started, logger: logger)
    }

    /// Decides a check-in attempt (a scan at a gate, or a box office's by hand) in the store and
    /// turns the decision into the answer, counted and logged the same way whatever asked.
    func decide(_ attempt: CheckinAttempt, started: ContinuousClock.Instant, logger: Logger) async throws -> CheckinAnswer {
        let code = attempt.code
        switch try await store.checkin(attempt) {
        case .unauthorized: throw CheckinError.unauthorized
        case .wrongGate(let registered): throw CheckinError.wrongGate(registered: registered)
        case .scanIdReused: throw CheckinError.scanIdReused
        case .decided(var decision):
            // Another event's ticket: the gate learns nothing of it (name, number, use).
            if decision.result == .wrongEvent {
                decision.ticket = nil
                decision.firstUsedAt = nil
                decision.firstUsedGate = nil
            }
            var lookAt = false
            if decision.result == .valid, let code, let type = decision.ticket?.ticketType {
                // A valid ticket is of the device's event: its code names it.
                let types = try await attention.types(eventId: code.eventId, gate: attempt.gateId, store: store)
                lookAt = GateRules(attention: types).needsAttention(decision.result, ticketType: type)
            }
            let answer = CheckinAnswer(
                result: decision.result,
                message: CheckinMessage.text(for: decision.result, firstUsedAt: decision.firstUsedAt, firstUsedGate: decision.firstUsedGate),
                ticket: decision.ticket,
                firstUsedAt: decision.firstUsedAt,
                firstUsedGate: decision.firstUsedGate,
                attention: lookAt
            )
            let store = self.store.kindName
            Counter(
                label: ServiceMeters.checkins,
                dimensions: [("result", decision.result.rawValue), ("gate", attempt.gateId), ("store", store)],
                factory: metrics
            )
            .increment()
            Timer(label: ServiceMeters.checkinDuration, dimensions: [("store", store)], factory: metrics)
                .recordNanoseconds(Self.nanoseconds(ContinuousClock.now - started))
            // Ids and the result only: never the token, the QR text or the holder's name.
            logger.info(
                "Check-in decided",
                metadata: [
                    "checkin.result": "\(decision.result.rawValue)", "gate.id": "\(attempt.gateId)",
                    "device.id": "\(attempt.deviceId)", "ticket.id": "\(decision.ticket?.id ?? "-")",
                    "checkin.mode": "\(attempt.mode.rawValue)", "checkin.replayed": "\(decision.replayed)",
                    "checkin.latency_ms": "\((ContinuousClock.now - started).wholeMilliseconds)",
                ]
            )
            return answer
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    /// What a scan's retry must match: an exit's retry must not replay an entry with the same
    /// scanId, nor the reverse.
    package static func payloadHash(_ qrData: String, direction: ScanDirection) -> [UInt8] {
        TokenHash.of(direction == .exit ? qrData + "\u{0}exit" : qrData)
    }

    /// Takes back a check-in (`POST /api/checkins/{scanId}/annul`): only the device that made
    /// it, at the gate it stands at, within `Annulment.window`. Throws `AnnulRefusal` when it
    /// may not, `CheckinError` for credentials that name no such device.
    public func annul(scanId: String, _ request: AnnulRequest, bearerToken: String, logger: Logger) async throws -> AnnulAnswer {
        try Self.checkIdentifier(scanId, field: "scanId")
        try Self.checkIdentifier(request.deviceId, field: "deviceId")
        try Self.checkIdentifier(request.gateId, field: "gateId")
        let device = try await enrolledDevice(bearerToken: bearerToken)
        guard device.id == request.deviceId else { throw CheckinError.unauthorized }
        guard device.gateId == request.gateId else { throw CheckinError.wrongGate(registered: device.gateId) }
        let onDuty = DeviceOnDuty(id: device.id, gate: device.gateId, event: device.eventId)
        switch try await store.annul(scanId: scanId, device: onDuty, at: now()) {
        case .failure(let refusal):
            throw refusal
        case .success(let answer):
            // Ids only, as for a check-in.
            logger.info(
                "Check-in annulled",
                metadata: [
                    "device.id": "\(device.id)", "gate.id": "\(device.gateId)", "ticket.id": "\(answer.ticket?.id ?? "-")",
                    "annul.again": "\(answer.again)",
                ]
            )
            return answer
        }
    }

    // MARK: Input checks

    package func mapMissing<T>(_ body: @autoclosure () async throws -> T) async throws -> T {
        do { return try await body() } catch StoreError.notFound(let what) { throw NotFoundError(what) }
    }

    package static func requiredText(_ text: String, field: String, limit: Int = maximumNameLength) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw InvalidInputError("\(field) must not be empty") }
        guard trimmed.unicodeScalars.count <= limit else { throw InvalidInputError("\(field) is longer than \(limit) characters") }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw InvalidInputError("\(field) must not contain control characters")
        }
        return trimmed
    }

    /// Ids a scanner sends (deviceId, gateId, scanId): 1 to 128 bytes of printable text.
    package static func checkIdentifier(_ text: String, field: String) throws {
        guard !text.isEmpty, text.utf8.count <= maximumIDLength else {
            throw InvalidInputError("\(field) must be 1 to \(maximumIDLength) bytes")
        }
        guard !text.unicodeScalars.contains(where: isControl) else {
            throw InvalidInputError("\(field) must not contain control characters (NUL, newline, …)")
        }
    }

    /// ASCII is judged by its value, without the Unicode property lookup the rest needs.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x80 ? scalar.value < 0x20 || scalar.value == 0x7f : scalar.properties.generalCategory == .control
    }

    package static func optionalText(_ text: String?, field: String, limit: Int = maximumNameLength) throws -> String? {
        guard let text, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return try requiredText(text, field: field, limit: limit)
    }
}
