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
    }

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
        let meta = Dictionary(uniqueKeysWithValues: try db.rows("SELECT key, value FROM meta") { ($0.text(0), $0.text(1)) })
        var contact: Contact?
        if let time = meta["sync_server_time"].flatMap(Int64.init), let boot = meta["sync_boot_id"],
            let bootTime = meta["sync_boot_time"].flatMap(Int64.init)
        {
            contact = Contact(serverTime: time, bootID: boot, bootTime: bootTime)
        }
        return State(
            eventID: meta["event_id"],
            cursor: meta["cursor"],
            complete: meta["complete"] == "1",
            tickets: 0,
            lastSync: contact,
            pendingUploads: 0
        )
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
                var meta: [(String, String)] = [("event_id", page.eventId), ("cursor", page.cursor)]
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
        for ticket in page.tickets {
            guard (1...Int(Int32.max)).contains(ticket.number) else { throw SnapshotError("sync page: bad ticket number \(ticket.number)") }
            guard let hash = Base64URL.decode(ticket.hash), hash.count == 32 else {
                throw SnapshotError("sync page: ticket \(ticket.number) has no valid hash")
            }
            if let gate = ticket.usedGate, !Self.isIdentifier(gate) { throw SnapshotError("sync page: ticket \(ticket.number) has a bad gate") }
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
    public func admit(scanID: String, ticket: Int, hash: [UInt8], at: Int64, clock: OfflineClock, gate: String) throws {
        try database.withLock { db in
            try db.transaction {
                try db.run(
                    "INSERT INTO journal (scan_id, number, hash, at, clock, gate) VALUES (?, ?, ?, ?, ?, ?)",
                    [.text(scanID), .integer(Int64(ticket)), .blob(hash), .integer(at), .text(clock.rawValue), .text(gate)]
                )
            }
        }
    }

    /// Admissions not yet accepted by the service, oldest first.
    public func pendingUploads(limit: Int) throws -> [OfflineCheckin] {
        try database.withLock { db in
            try db.rows(
                "SELECT scan_id, hash, number, at, clock FROM journal WHERE uploaded = 0 ORDER BY at, scan_id LIMIT ?",
                [.integer(Int64(limit))]
            ) {
                OfflineCheckin(
                    scanId: $0.text(0),
                    hash: Base64URL.encode($0.blob(1)),
                    ticketNumber: Int($0.int(2)),
                    at: $0.int(3),
                    clock: OfflineClock(rawValue: $0.text(4)) ?? .serverMonotonic
                )
            }
        }
    }

    /// Marks admissions the service has answered for (recorded, replayed or conflict).
    public func markUploaded(_ results: [OfflineCheckinResult]) throws {
        try database.withLock { db in
            try db.transaction {
                for result in results {
                    try db.run(
                        "UPDATE journal SET uploaded = 1, outcome = ? WHERE scan_id = ?",
                        [.text(result.outcome.rawValue), .text(result.scanId)]
                    )
                }
            }
        }
    }
}

public struct SnapshotError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
