import FoundationEssentials
import GatehouseCore
import SQLiteSupport
import Synchronization

/// The box's copy of its event's tickets and its journal of offline admissions: one SQLite file
/// (WAL, synchronous=FULL) in the kiosk's state directory, made 0600.
///
/// A ticket is its number, the SHA-256 of its token, status, expiry and first use — never the
/// token, a name or an e-mail. A sync page is checked whole before any of it is applied, and
/// applied in one transaction: bad or truncated data leaves the previous snapshot as it was. An
/// admission is committed (fsynced) before `admit` returns, so it survives a power cut that comes
/// after the relay pulse.
public final class OfflineSnapshot: Sendable {
    /// One ticket as the snapshot knows it (the journal's admissions included).
    public struct Ticket: Sendable, Equatable {
        public var number: Int
        public var status: SyncedTicket.Status
        public var expiresAt: Int64?
        public var usedAt: Int64?
        public var usedGate: String?
    }

    /// When the box last heard from the service: the service's clock, and the box's monotonic
    /// clock (CLOCK_BOOTTIME) and boot at that moment.
    public struct Contact: Sendable, Equatable {
        public var serverTime: Int64
        public var bootID: String
        public var bootTime: Int64

        public init(serverTime: Int64, bootID: String, bootTime: Int64) {
            self.serverTime = serverTime
            self.bootID = bootID
            self.bootTime = bootTime
        }
    }

    public struct State: Sendable, Equatable {
        public var eventID: String?
        public var cursor: String?
        /// A first full pull has finished: the snapshot holds every ticket of the event.
        public var complete: Bool
        public var tickets: Int
        /// The last successful sync.
        public var lastSync: Contact?
        public var pendingUploads: Int
        /// Offline admissions the service refused again and again, set aside (see `markUploaded`).
        public var quarantined: Int = 0
        /// The name of the check-in list this gate belongs to, as the last sync said.
        public var gateList: String?
    }

    /// Refusals after which a journal entry is set aside instead of sent again.
    public static let refusalsBeforeQuarantine = 3
    /// Times a service may send or a snapshot may hold (ms since 1970, up to the year 2200).
    /// Anything else is a tampered file or a hostile answer, never arithmetic input.
    static let plausibleTimes: ClosedRange<Int64> = 0...7_258_118_400_000

    private let database: Mutex<SQLiteConnection>
    public let path: String

    static let schema = """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS tickets (
            number INTEGER PRIMARY KEY,
            hash BLOB NOT NULL,
            status TEXT NOT NULL,
            expires_at INTEGER,
            used_at INTEGER,
            used_gate TEXT
        );
        CREATE INDEX IF NOT EXISTS tickets_hash ON tickets (hash);
        CREATE TABLE IF NOT EXISTS journal (
            scan_id TEXT PRIMARY KEY,
            number INTEGER NOT NULL,
            hash BLOB NOT NULL,
            at INTEGER NOT NULL,
            clock TEXT NOT NULL,
            gate TEXT NOT NULL,
            uploaded INTEGER NOT NULL DEFAULT 0,
            outcome TEXT
        );
        CREATE INDEX IF NOT EXISTS journal_pending ON journal (uploaded, at);
        -- uploaded: 0 pending, 1 answered by the service, 2 set aside after repeated refusals.
        CREATE INDEX IF NOT EXISTS journal_hash ON journal (hash);
        CREATE TABLE IF NOT EXISTS keys (id INTEGER PRIMARY KEY, public_key BLOB NOT NULL);
        """

    public init(path: String) throws {
        self.path = path
        let connection = try SQLiteConnection(path: path)
        let mode = try connection.firstRow("PRAGMA journal_mode = WAL") { $0.text(0) }
        guard mode?.lowercased() == "wal" else { throw SnapshotError("cannot switch \(path) to WAL mode") }
        // A small page cache: the kiosk's memory goal is 30 MB, and a lookup touches a few pages.
        try connection.execute("PRAGMA synchronous = FULL; PRAGMA cache_size = -256")
        try connection.execute(Self.schema)
        // Journals from before the upload carried its proof: the scanned code (erased once the
        // service has the admission) and the refusals counted so far.
        let columns = Set(try connection.rows("PRAGMA table_info(journal)") { $0.text(1) })
        if !columns.contains("code") { try connection.execute("ALTER TABLE journal ADD COLUMN code TEXT") }
        if !columns.contains("refusals") { try connection.execute("ALTER TABLE journal ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0") }
        database = Mutex(connection)
    }

    // MARK: Reading

    /// Everything, counts included (for the status line and selftest: counting is O(tickets)).
    public var state: State {
        get throws {
            try database.withLock { db in
                var state = try Self.meta(db)
                state.tickets = Int(try db.firstRow("SELECT count(*) FROM tickets") { $0.int(0) } ?? 0)
                state.pendingUploads = Int(try db.firstRow("SELECT count(*) FROM journal WHERE uploaded = 0") { $0.int(0) } ?? 0)
                state.quarantined = Int(try db.firstRow("SELECT count(*) FROM journal WHERE uploaded = 2") { $0.int(0) } ?? 0)
                return state
            }
        }
    }

    /// Event, cursor, completeness and last sync, without the counts (zero): what every offline
    /// decision reads, in microseconds.
    public var syncState: State {
        get throws { try database.withLock { try Self.meta($0) } }
    }

    private static func meta(_ db: SQLiteConnection) throws -> State {
        // A tampered file may hold a key twice (its table rebuilt without the primary key): the
        // first one counts, and the daemon does not trap on it.
        let meta = Dictionary(try db.rows("SELECT key, value FROM meta") { ($0.text(0), $0.text(1)) }, uniquingKeysWith: { first, _ in first })
        var contact: Contact?
        if let time = meta["sync_server_time"].flatMap(Int64.init), plausibleTimes.contains(time), let boot = meta["sync_boot_id"],
            let bootTime = meta["sync_boot_time"].flatMap(Int64.init), bootTime >= 0
        {
            contact = Contact(serverTime: time, bootID: boot, bootTime: bootTime)
        }
        var state = State(
            eventID: meta["event_id"],
            cursor: meta["cursor"],
            complete: meta["complete"] == "1",
            tickets: 0,
            lastSync: contact,
            pendingUploads: 0
        )
        state.gateList = meta["gate_list"]
        return state
    }

    /// The ticket with this token hash, with this box's own offline admission if it made one.
    public func ticket(hash: [UInt8]) throws -> Ticket? {
        try database.withLock { db in
            guard
                var ticket = try db.firstRow(
                    "SELECT number, status, expires_at, used_at, used_gate FROM tickets WHERE hash = ?",
                    [.blob(hash)],
                    { row in
                        Ticket(
                            number: Int(row.int(0)),
                            status: SyncedTicket.Status(rawValue: row.text(1)) ?? .revoked,
                            expiresAt: row.optionalInt(2),
                            usedAt: row.optionalInt(3),
                            usedGate: row.optionalText(4)
                        )
                    }
                )
            else { return nil }
            // A sync may still say "unused" before this box's upload reached the service.
            if ticket.status != .revoked, let admitted = try Self.firstAdmission(hash: hash, in: db) {
                ticket.status = .used
                if ticket.usedAt == nil || admitted.0 < ticket.usedAt! {
                    ticket.usedAt = admitted.0
                    ticket.usedGate = admitted.1
                }
            }
            return ticket
        }
    }

    /// The event's public key for signed codes with this id.
    public func publicKey(id: UInt8) throws -> [UInt8]? {
        try database.withLock { db in try db.firstRow("SELECT public_key FROM keys WHERE id = ?", [.integer(Int64(id))]) { $0.blob(0) } }
    }

    /// This box's offline admission of the code with this hash, if it made one (for signed codes
    /// of tickets the snapshot does not hold yet).
    public func admission(hash: [UInt8]) throws -> (at: Int64, gate: String)? {
        try database.withLock { db in try Self.firstAdmission(hash: hash, in: db) }
    }

    private static func firstAdmission(hash: [UInt8], in db: SQLiteConnection) throws -> (at: Int64, gate: String)? {
        try db.firstRow("SELECT at, gate FROM journal WHERE hash = ? ORDER BY at LIMIT 1", [.blob(hash)]) { ($0.int(0), $0.text(1)) }
    }

    // MARK: Sync

    /// Applies one page of the service's change feed, or throws and changes nothing.
    public func apply(_ page: TicketSyncPage, contact: Contact) throws {
        try Self.check(page)
        let rows = page.tickets.map { ($0, Base64URL.decode($0.hash)!) }
        try database.withLock { db in
            try db.transaction {
                let event = try db.firstRow("SELECT value FROM meta WHERE key = 'event_id'") { $0.text(0) }
                if let event, event != page.eventId {
                    // The device was moved to another event: the old tickets mean nothing here.
                    // The journal stays: its admissions still go to the service.
                    try db.execute("DELETE FROM tickets; DELETE FROM meta WHERE key IN ('cursor', 'complete')")
                }
                for (ticket, hash) in rows {
                    try db.run(
                        "INSERT OR REPLACE INTO tickets (number, hash, status, expires_at, used_at, used_gate) VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            .integer(Int64(ticket.number)), .blob(hash), .text(ticket.status.rawValue), .optional(ticket.expiresAt),
                            .optional(ticket.usedAt), .optional(ticket.usedGate),
                        ]
                    )
                }
                // Every page carries the event's public keys: the set is replaced whole.
                try db.execute("DELETE FROM keys")
                for key in page.keys {
                    try db.run("INSERT INTO keys (id, public_key) VALUES (?, ?)", [.integer(Int64(key.id)), .blob(Base64URL.decode(key.publicKey)!)])
                }
                // Every page names the gate's check-in list (or none): the newest pull's word holds.
                try db.execute("DELETE FROM meta WHERE key = 'gate_list'")
                var meta: [(String, String)] = [("event_id", page.eventId), ("cursor", page.cursor)]
                if let list = page.gateList { meta.append(("gate_list", list.name)) }
                if page.complete {
                    meta += [
                        ("complete", "1"), ("sync_server_time", String(contact.serverTime)), ("sync_boot_id", contact.bootID),
                        ("sync_boot_time", String(contact.bootTime)),
                    ]
                }
                for (key, value) in meta {
                    try db.run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [.text(key), .text(value)])
                }
            }
        }
    }

    /// Refuses a page that is not what the service sends: the whole page, before anything is applied.
    static func check(_ page: TicketSyncPage) throws {
        guard Self.isIdentifier(page.eventId) else { throw SnapshotError("sync page: bad eventId") }
        guard let cursor = Int64(page.cursor), cursor >= 0 else { throw SnapshotError("sync page: bad cursor") }
        guard plausibleTimes.contains(page.serverTime) else { throw SnapshotError("sync page: serverTime \(page.serverTime) is not a time") }
        for ticket in page.tickets {
            guard (1...Int(Int32.max)).contains(ticket.number) else { throw SnapshotError("sync page: bad ticket number \(ticket.number)") }
            guard let hash = Base64URL.decode(ticket.hash), hash.count == 32 else {
                throw SnapshotError("sync page: ticket \(ticket.number) has no valid hash")
            }
            if let gate = ticket.usedGate, !Self.isIdentifier(gate) { throw SnapshotError("sync page: ticket \(ticket.number) has a bad gate") }
        }
        if let list = page.gateList {
            // The name goes into the journal's words: printable text of a list name's length.
            let printable = !list.name.unicodeScalars.contains { $0.properties.generalCategory == .control }
            guard Self.isIdentifier(list.id), !list.name.isEmpty, list.name.utf8.count <= 800, printable else {
                throw SnapshotError("sync page: bad check-in list")
            }
        }
        for key in page.keys {
            guard (1...255).contains(key.id), Base64URL.decode(key.publicKey)?.count == 32 else {
                throw SnapshotError("sync page: bad signing key \(key.id)")
            }
        }
    }

    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128 && !text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    // MARK: Journal

    /// Records an offline admission and marks the ticket used, durably, before it returns.
    /// `code` is what was scanned: the upload's proof. It stays on the box only until the service
    /// has the admission (its ticket is used by then, so the code admits nobody else).
    public func admit(scanID: String, ticket: Int, hash: [UInt8], code: String, at: Int64, clock: OfflineClock, gate: String) throws {
        try database.withLock { db in
            try db.transaction {
                try db.run(
                    "INSERT INTO journal (scan_id, number, hash, code, at, clock, gate) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [.text(scanID), .integer(Int64(ticket)), .blob(hash), .text(code), .integer(at), .text(clock.rawValue), .text(gate)]
                )
            }
        }
    }

    /// Admissions not yet accepted by the service, oldest first.
    public func pendingUploads(limit: Int) throws -> [OfflineCheckin] {
        try database.withLock { db in
            try db.rows(
                "SELECT scan_id, hash, number, at, clock, code FROM journal WHERE uploaded = 0 ORDER BY at, scan_id LIMIT ?",
                [.integer(Int64(limit))]
            ) {
                OfflineCheckin(
                    scanId: $0.text(0),
                    code: $0.optionalText(5),
                    hash: Base64URL.encode($0.blob(1)),
                    ticketNumber: Int($0.int(2)),
                    at: $0.int(3),
                    clock: OfflineClock(rawValue: $0.text(4)) ?? .serverMonotonic
                )
            }
        }
    }

    /// Takes in the service's answers: recorded, replayed and conflict are final (the code is
    /// erased); a refused entry stays to be sent again, until it has been refused
    /// `refusalsBeforeQuarantine` times, when it is set aside. Returns the entries set aside now.
    @discardableResult
    public func markUploaded(_ results: [OfflineCheckinResult]) throws -> [OfflineCheckinResult] {
        try database.withLock { db in
            try db.transaction {
                var setAside: [OfflineCheckinResult] = []
                for result in results {
                    guard result.outcome == .refused else {
                        try db.run(
                            "UPDATE journal SET uploaded = 1, outcome = ?, code = NULL WHERE scan_id = ?",
                            [.text(result.outcome.rawValue), .text(result.scanId)]
                        )
                        continue
                    }
                    let refusals = try db.firstRow(
                        "UPDATE journal SET refusals = refusals + 1, outcome = ? WHERE scan_id = ? AND uploaded = 0 RETURNING refusals",
                        [.text("refused: \(result.detail ?? "no reason given")"), .text(result.scanId)],
                        { $0.int(0) }
                    )
                    if let refusals, refusals >= Self.refusalsBeforeQuarantine {
                        try db.run("UPDATE journal SET uploaded = 2, code = NULL WHERE scan_id = ?", [.text(result.scanId)])
                        setAside.append(result)
                    }
                }
                return setAside
            }
        }
    }
}

public struct SnapshotError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
