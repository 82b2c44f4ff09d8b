import FoundationEssentials
import GatehouseCore
import KioskCore
import SQLiteSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The box's copy of its event's tickets and its journal of offline admissions: one SQLite file
/// (WAL, synchronous=FULL) in the kiosk's state directory, made 0600.
///
/// A ticket is its number, the SHA-256 of its token, type, status, expiry, first use and presence
/// — never the token, a name or an e-mail. At a check-in list's gate, use and presence are the
/// ticket's pass of that list, and the list's rules are kept with the snapshot. A sync page is checked whole before any of it is applied, and
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
        public var type: String? = nil
        public var inside = false
        public var lastEntryDay: Int? = nil
        /// The peer gate whose used record is the ticket's first use (nil: the service's or this
        /// gate's own).
        public var usedByPeer: String? = nil
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
        /// That list's rules, as the last sync said.
        public var gateListRules: SyncedGateList?
        /// People inside that list: the last sync's count and this gate's offline decisions since.
        public var listInside = 0
    }

    /// Refusals after which a journal entry is set aside instead of sent again.
    public static let refusalsBeforeQuarantine = 3
    /// Times a service may send or a snapshot may hold (ms since 1970, up to the year 2200).
    /// Anything else is a tampered file or a hostile answer, never arithmetic input.
    public static let plausibleTimes: ClosedRange<Int64> = 0...7_258_118_400_000

    let database: Mutex<SQLiteConnection>
    public let path: String
    /// Counts the pages applied: what a reader caching something a page may change compares.
    private let pages = Atomic<Int>(0)
    public var pagesApplied: Int { pages.load(ordering: .acquiring) }

    static let schema = """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS tickets (
            number INTEGER PRIMARY KEY,
            hash BLOB NOT NULL,
            status TEXT NOT NULL,
            expires_at INTEGER,
            used_at INTEGER,
            used_gate TEXT,
            type TEXT,
            inside INTEGER NOT NULL DEFAULT 0,
            last_entry_day INTEGER
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
        -- Admissions waiting for the turnstile's passage sensor, and annuls of online check-ins
        -- the service must still hear of (state: 0 to send, 1 done, 2 refused by the service).
        -- An online admission keeps its ticket's hash, direction and the ticket as it was before
        -- it: taken back, the snapshot shows that state (`shown` 1) until the service's own word
        -- after the annul arrives with a page.
        CREATE TABLE IF NOT EXISTS passages (scan_id TEXT PRIMARY KEY, offline INTEGER NOT NULL, at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS service_annuls (scan_id TEXT PRIMARY KEY, requested_at INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0);
        """ + PeerLedger.schema

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
        // Exits and the rules of lists came later: what each entry was, and what it changed.
        if !columns.contains("direction") {
            try connection.execute(
                """
                ALTER TABLE journal ADD COLUMN direction TEXT NOT NULL DEFAULT 'entry';
                ALTER TABLE journal ADD COLUMN day INTEGER;
                ALTER TABLE journal ADD COLUMN inside_change INTEGER NOT NULL DEFAULT 0
                """
            )
        }
        // Taking a decision back: the ticket as it was before it, and where an annul stands
        // (0 none, 1 to be sent to the service, 2 done, 3 the service refused it).
        if !columns.contains("before") {
            try connection.execute(
                "ALTER TABLE journal ADD COLUMN before TEXT; ALTER TABLE journal ADD COLUMN annul INTEGER NOT NULL DEFAULT 0"
            )
        }
        // Online admissions taken back came later: what the snapshot shows of their ticket.
        let passageColumns = Set(try connection.rows("PRAGMA table_info(passages)") { $0.text(1) })
        if !passageColumns.contains("hash") {
            try connection.execute(
                """
                ALTER TABLE passages ADD COLUMN hash BLOB;
                ALTER TABLE passages ADD COLUMN direction TEXT NOT NULL DEFAULT 'entry';
                ALTER TABLE passages ADD COLUMN before TEXT
                """
            )
        }
        let annulColumns = Set(try connection.rows("PRAGMA table_info(service_annuls)") { $0.text(1) })
        if !annulColumns.contains("hash") {
            try connection.execute(
                """
                ALTER TABLE service_annuls ADD COLUMN hash BLOB;
                ALTER TABLE service_annuls ADD COLUMN before TEXT;
                ALTER TABLE service_annuls ADD COLUMN inside_change INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE service_annuls ADD COLUMN shown INTEGER NOT NULL DEFAULT 0
                """
            )
        }
        let ticketColumns = Set(try connection.rows("PRAGMA table_info(tickets)") { $0.text(1) })
        if !ticketColumns.contains("type") {
            // A snapshot from before: it restarts from the first page at the next sync (no list
            // id is kept), so every row gets its type.
            try connection.execute(
                """
                ALTER TABLE tickets ADD COLUMN type TEXT;
                ALTER TABLE tickets ADD COLUMN inside INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE tickets ADD COLUMN last_entry_day INTEGER;
                DELETE FROM meta WHERE key IN ('cursor', 'complete')
                """
            )
        }
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
        state.gateListRules = meta["gate_list_rules"].flatMap { try? JSONDecoder().decode(SyncedGateList.self, from: Data($0.utf8)) }
        state.listInside = meta["list_inside"].flatMap(Int.init) ?? 0
        return state
    }

    /// The ticket with this token hash, with this box's own offline admission if it made one.
    public func ticket(hash: [UInt8]) throws -> Ticket? {
        try database.withLock { db in
            guard
                var ticket = try db.firstRow(
                    "SELECT number, status, expires_at, used_at, used_gate, type, inside, last_entry_day FROM tickets WHERE hash = ?",
                    [.blob(hash)],
                    { row in
                        Ticket(
                            number: Int(row.int(0)),
                            status: SyncedTicket.Status(rawValue: row.text(1)) ?? .revoked,
                            expiresAt: row.optionalInt(2),
                            usedAt: row.optionalInt(3),
                            usedGate: row.optionalText(4),
                            type: row.optionalText(5),
                            inside: row.int(6) != 0,
                            lastEntryDay: row.optionalInt(7).map { Int($0) }
                        )
                    }
                )
            else { return nil }
            // An online admission taken back: the service may not have heard the annul yet.
            if let before = try Self.shownBefore(hash: hash, in: db) {
                ticket.status = SyncedTicket.Status(rawValue: before.status.rawValue) ?? ticket.status
                ticket.usedAt = before.usedAt
                ticket.usedGate = before.usedGate
                ticket.inside = before.inside
                ticket.lastEntryDay = before.lastEntryDay
            }
            // A sync may still say "unused" before this box's upload reached the service.
            if ticket.status != .revoked, let admitted = try Self.firstAdmission(hash: hash, in: db) {
                ticket.status = .used
                if ticket.usedAt == nil || admitted.0 < ticket.usedAt! {
                    ticket.usedAt = admitted.0
                    ticket.usedGate = admitted.1
                }
            }
            // And before another gate's upload did: its used record, sent gate to gate.
            if ticket.status != .revoked {
                try PeerLedger.merge(into: &ticket, hash: hash, in: db)
            }
            return ticket
        }
    }

    /// The ticket as it was before an online admission of this box that was taken back, while
    /// the snapshot's row may still show that admission: the service has not acknowledged the
    /// annul, or no page has brought the ticket since it did. The newest such admission's.
    private static func shownBefore(hash: [UInt8], in db: SQLiteConnection) throws -> SavedTicket? {
        try db.firstRow(
            "SELECT before FROM service_annuls WHERE hash = ? AND shown = 1 AND state IN (0, 1) ORDER BY requested_at DESC LIMIT 1",
            [.blob(hash)],
            { $0.optionalText(0) }
        )?.flatMap(SavedTicket.init(text:))
    }

    /// The event's public key for signed codes with this id.
    public func publicKey(id: UInt8) throws -> [UInt8]? {
        try database.withLock { db in try db.firstRow("SELECT public_key FROM keys WHERE id = ?", [.integer(Int64(id))]) { $0.blob(0) } }
    }

    /// This box's offline admission of the code with this hash, if it made one (for signed codes
    /// of tickets the snapshot does not hold yet): its first entry, and whether its last entry
    /// or exit left the person inside.
    public func admission(hash: [UInt8]) throws -> (at: Int64, gate: String, inside: Bool, lastEntryDay: Int?)? {
        try database.withLock { db in
            guard let first = try Self.firstAdmission(hash: hash, in: db) else {
                return try PeerLedger.firstAdmission(hash: hash, in: db).map { ($0.at, $0.gate, true, nil) }
            }
            let inside = try db.firstRow(
                "SELECT direction FROM journal WHERE hash = ? AND annul = 0 ORDER BY at DESC, rowid DESC LIMIT 1",
                [.blob(hash)]
            ) {
                $0.text(0) == ScanDirection.entry.rawValue
            }
            let lastEntryDay = try db.firstRow(
                "SELECT day FROM journal WHERE hash = ? AND direction = 'entry' AND annul = 0 ORDER BY at DESC, rowid DESC LIMIT 1",
                [.blob(hash)]
            ) { $0.optionalInt(0).map { Int($0) } }
            return (first.at, first.gate, inside ?? true, lastEntryDay ?? nil)
        }
    }

    private static func firstAdmission(hash: [UInt8], in db: SQLiteConnection) throws -> (at: Int64, gate: String)? {
        try db.firstRow("SELECT at, gate FROM journal WHERE hash = ? AND direction = 'entry' AND annul = 0 ORDER BY at LIMIT 1", [.blob(hash)]) {
            ($0.int(0), $0.text(1))
        }
    }

    // MARK: Sync

    /// Applies one page of the service's change feed, or throws and changes nothing. Returns
    /// false when the page names another check-in list than the snapshot was pulled for (the
    /// gate was moved to a list, off one, or to another): the tickets' passes are of the old
    /// one, so the snapshot is emptied and must be pulled again from the start.
    @discardableResult
    public func apply(_ page: TicketSyncPage, contact: Contact, fromStart: Bool = false) throws -> Bool {
        defer { pages.add(1, ordering: .releasing) }
        try Self.check(page)
        let rows = page.tickets.map { ($0, Base64URL.decode($0.hash)!) }
        let rules = try page.gateList.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try database.withLock { db in
            try db.transaction {
                let kept = Dictionary(
                    try db.rows("SELECT key, value FROM meta WHERE key IN ('event_id', 'gate_list_id')") { ($0.text(0), $0.text(1)) },
                    uniquingKeysWith: { first, _ in first }
                )
                if let event = kept["event_id"], event != page.eventId {
                    // The device was moved to another event: the old tickets mean nothing here.
                    // The journal stays: its admissions still go to the service.
                    try db.execute(
                        """
                        DELETE FROM tickets; DELETE FROM peer_records; DELETE FROM peer_marks; DELETE FROM peer_outbox;
                        DELETE FROM sqlite_sequence WHERE name = 'peer_outbox';
                        DELETE FROM meta WHERE key IN ('cursor', 'complete')
                        """
                    )
                } else if kept["gate_list_id"] != page.gateList?.id, !fromStart {
                    try db.execute("DELETE FROM tickets; DELETE FROM meta WHERE key IN ('cursor', 'complete', 'gate_list_id')")
                    if let list = page.gateList {
                        try db.run("INSERT INTO meta (key, value) VALUES ('gate_list_id', ?)", [.text(list.id)])
                    }
                    return false
                }
                for (ticket, hash) in rows {
                    try db.run(
                        """
                        INSERT OR REPLACE INTO tickets (number, hash, status, expires_at, used_at, used_gate, type, inside, last_entry_day)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                        [
                            .integer(Int64(ticket.number)), .blob(hash), .text(ticket.status.rawValue), .optional(ticket.expiresAt),
                            .optional(ticket.usedAt), .optional(ticket.usedGate), .optional(ticket.type),
                            .integer(ticket.inside == true ? 1 : 0), .optional(ticket.lastEntryDay.map(Int64.init)),
                        ]
                    )
                    // What this gate decided and the service has not heard yet still holds.
                    try Self.replayPending(hash: hash, number: ticket.number, in: db)
                    // A row after the service acknowledged an annul is its word after it.
                    try db.run("UPDATE service_annuls SET shown = 0 WHERE hash = ? AND state = 1", [.blob(hash)])
                }
                // Every page carries the event's public keys: the set is replaced whole.
                try db.execute("DELETE FROM keys")
                for key in page.keys {
                    try db.run("INSERT INTO keys (id, public_key) VALUES (?, ?)", [.integer(Int64(key.id)), .blob(Base64URL.decode(key.publicKey)!)])
                }
                // And the key its gates sign used records with: the newest page's holds.
                try db.execute("DELETE FROM meta WHERE key IN ('peer_key', 'peer_key_id')")
                if let key = page.peerKey {
                    try db.run("INSERT INTO meta (key, value) VALUES ('peer_key', ?), ('peer_key_id', ?)", [.text(key.key), .text(key.id)])
                }
                // Every page names the gate's check-in list (or none) and its rules: the newest
                // pull's word holds. The count inside is the service's, plus this gate's own
                // decisions it has not heard yet.
                try db.execute("DELETE FROM meta WHERE key IN ('gate_list', 'gate_list_id', 'gate_list_rules', 'list_inside')")
                var meta: [(String, String)] = [("event_id", page.eventId), ("cursor", page.cursor)]
                if let list = page.gateList, let rules {
                    let pending = try db.firstRow("SELECT coalesce(sum(inside_change), 0) FROM journal WHERE uploaded = 0") { $0.int(0) } ?? 0
                    // Online admissions taken back whose annul the service has not heard.
                    let unheard =
                        try db.firstRow("SELECT coalesce(sum(inside_change), 0) FROM service_annuls WHERE state = 0 AND shown = 1") { $0.int(0) }
                        ?? 0
                    meta += [
                        ("gate_list", list.name), ("gate_list_id", list.id), ("gate_list_rules", rules),
                        ("list_inside", String(Int64(list.inside ?? 0) + pending - unheard)),
                    ]
                }
                if page.complete {
                    meta += [
                        ("complete", "1"), ("sync_server_time", String(contact.serverTime)), ("sync_boot_id", contact.bootID),
                        ("sync_boot_time", String(contact.bootTime)),
                    ]
                }
                for (key, value) in meta {
                    try db.run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [.text(key), .text(value)])
                }
                return true
            }
        }
    }

    /// Puts this gate's decisions the service has not heard yet back on a ticket a page just
    /// replaced, oldest first.
    private static func replayPending(hash: [UInt8], number: Int, in db: SQLiteConnection) throws {
        let pending = try db.rows(
            "SELECT direction, at, gate, day FROM journal WHERE hash = ? AND uploaded = 0 AND annul = 0 ORDER BY at, rowid",
            [.blob(hash)]
        ) { (entry: $0.text(0) == ScanDirection.entry.rawValue, at: $0.int(1), gate: $0.text(2), day: $0.optionalInt(3)) }
        for decided in pending {
            if decided.entry {
                try db.run(
                    """
                    UPDATE tickets SET status = CASE status WHEN 'unused' THEN 'used' ELSE status END,
                        used_gate = CASE WHEN used_at IS NULL OR used_at > ? THEN ? ELSE used_gate END,
                        used_at = CASE WHEN used_at IS NULL OR used_at > ? THEN ? ELSE used_at END,
                        inside = 1, last_entry_day = coalesce(?, last_entry_day)
                    WHERE number = ?
                    """,
                    [
                        .integer(decided.at), .text(decided.gate), .integer(decided.at), .integer(decided.at), .optional(decided.day),
                        .integer(Int64(number)),
                    ]
                )
            } else {
                try db.run("UPDATE tickets SET inside = 0 WHERE number = ?", [.integer(Int64(number))])
            }
        }
    }

    /// Refuses a page that is not what the service sends: the whole page, before anything is applied.
    static func check(_ page: TicketSyncPage) throws {
        guard Self.isIdentifier(page.eventId) else { throw SnapshotError("sync page: bad eventId") }
        // Opaque digits: PostgreSQL's put a transaction id before a 19-digit position (up to 38
        // digits, more than an Int64 holds), the other stores' are a position alone.
        guard (1...38).contains(page.cursor.utf8.count), page.cursor.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw SnapshotError("sync page: bad cursor")
        }
        guard plausibleTimes.contains(page.serverTime) else { throw SnapshotError("sync page: serverTime \(page.serverTime) is not a time") }
        for ticket in page.tickets {
            guard (1...Int(Int32.max)).contains(ticket.number) else { throw SnapshotError("sync page: bad ticket number \(ticket.number)") }
            guard let hash = Base64URL.decode(ticket.hash), hash.count == 32 else {
                throw SnapshotError("sync page: ticket \(ticket.number) has no valid hash")
            }
            if let gate = ticket.usedGate, !Self.isIdentifier(gate) { throw SnapshotError("sync page: ticket \(ticket.number) has a bad gate") }
            if let type = ticket.type, type.utf8.count > 800 { throw SnapshotError("sync page: ticket \(ticket.number) has a bad type") }
            for time in [ticket.expiresAt, ticket.usedAt].compactMap({ $0 }) where !plausibleTimes.contains(time) {
                throw SnapshotError("sync page: ticket \(ticket.number) has a time that is not one")
            }
        }
        if let list = page.gateList {
            // The name goes into the journal's words: printable text of a list name's length.
            let printable = !list.name.unicodeScalars.contains { $0.properties.generalCategory == .control }
            guard Self.isIdentifier(list.id), !list.name.isEmpty, list.name.utf8.count <= 800, printable else {
                throw SnapshotError("sync page: bad check-in list")
            }
            // The rules are arithmetic input: counts and times within what a service sends.
            let times = [list.opensAt, list.closesAt].compactMap { $0 } + (list.utcOffsets ?? []).map(\.from)
            guard times.allSatisfy(plausibleTimes.contains), (list.ticketTypes?.count ?? 0) <= 10_000,
                (list.utcOffsets ?? []).allSatisfy({ abs($0.seconds) <= 86_400 }), (list.utcOffsets?.count ?? 0) <= 1_000,
                (0...Int(Int32.max)).contains(list.capacity ?? 0), (0...Int(Int32.max)).contains(list.inside ?? 0)
            else { throw SnapshotError("sync page: check-in list \(list.id) has rules no service sends") }
        }
        if let key = page.peerKey {
            guard (1...32).contains(key.id.utf8.count), Base64URL.decode(key.id) != nil, Base64URL.decode(key.key)?.count == 32 else {
                throw SnapshotError("sync page: bad peer key")
            }
        }
        for key in page.keys {
            guard (1...255).contains(key.id), Base64URL.decode(key.publicKey)?.count == 32 else {
                throw SnapshotError("sync page: bad signing key \(key.id)")
            }
        }
    }

    /// An id, gate or list name as the service sends them: 1–128 bytes, no control characters.
    public static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128 && !text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    // MARK: Journal

    /// What an offline decision journals: the scan, and what it made of the ticket.
    public struct Decided: Sendable {
        public var scanID: String
        public var number: Int
        public var hash: [UInt8]
        /// What was scanned: the upload's proof. It stays on the box only until the service has
        /// the decision (its ticket is used by then, so the code admits nobody else).
        public var code: String
        public var at: Int64
        public var clock: OfflineClock
        public var gate: String
        public var direction: ScanDirection
        /// The calendar day of `at`, for a daily list.
        public var day: Int?
        /// The ticket as the decision leaves it (nil: unchanged, or not in the snapshot).
        public var changed: TicketFacts?
        /// +1, -1 or 0 to the list's count of people inside.
        public var insideChange: Int
        /// The ticket before the decision (when `changed` is set): what an annul puts back.
        public var before: TicketFacts?

        public init(
            scanID: String,
            number: Int,
            hash: [UInt8],
            code: String,
            at: Int64,
            clock: OfflineClock,
            gate: String,
            direction: ScanDirection = .entry,
            day: Int? = nil,
            changed: TicketFacts? = nil,
            insideChange: Int = 0,
            before: TicketFacts? = nil
        ) {
            self.before = before
            self.scanID = scanID
            self.number = number
            self.hash = hash
            self.code = code
            self.at = at
            self.clock = clock
            self.gate = gate
            self.direction = direction
            self.day = day
            self.changed = changed
            self.insideChange = insideChange
        }
    }

    /// Journals an offline entry or exit and applies it to the snapshot (the ticket, the list's
    /// count), durably, in one transaction, before it returns.
    public func record(_ decided: Decided) throws {
        try database.withLock { db in
            try db.transaction {
                try db.run(
                    """
                    INSERT INTO journal (scan_id, number, hash, code, at, clock, gate, direction, day, inside_change, before)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(decided.scanID), .integer(Int64(decided.number)), .blob(decided.hash), .text(decided.code), .integer(decided.at),
                        .text(decided.clock.rawValue), .text(decided.gate), .text(decided.direction.rawValue), .optional(decided.day.map(Int64.init)),
                        .integer(Int64(decided.insideChange)), .optional(decided.changed == nil ? nil : decided.before.map(SavedTicket.init)?.text),
                    ]
                )
                if let after = decided.changed {
                    try db.run(
                        "UPDATE tickets SET status = ?, used_at = ?, used_gate = ?, inside = ?, last_entry_day = ? WHERE hash = ?",
                        [
                            .text(after.status.rawValue), .optional(after.usedAt), .optional(after.usedGate), .integer(after.inside ? 1 : 0),
                            .optional(after.lastEntryDay.map(Int64.init)), .blob(decided.hash),
                        ]
                    )
                }
                if decided.insideChange != 0 {
                    try db.run(
                        "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'list_inside'",
                        [.integer(Int64(decided.insideChange))]
                    )
                }
                try PeerLedger.queue(.admit, scanID: decided.scanID, in: db)
            }
        }
    }

    /// What taking back an offline decision did.
    public enum Annulment: Sendable, Equatable {
        /// The service never heard of it: it is gone from the journal, and the ticket and the
        /// count are as before it.
        case dropped
        /// The service has it: the snapshot is as before it, and the annul goes to the service
        /// (`pendingAnnuls`) with the next sync.
        case queued
        /// No such decision in the journal, or one that changed nothing.
        case unknown
        /// The ticket was scanned again at this gate since: that scan decided on this one.
        case changedSince
    }

    /// Takes back an offline entry or exit of this gate (the turnstile did not turn): the
    /// snapshot's ticket and count as before it, and the service told when it already has it.
    public func annul(scanID: String) throws -> Annulment {
        try database.withLock { db in try db.transaction { try Self.annul(scanID: scanID, in: db) } }
    }

    private static func annul(scanID: String, in db: SQLiteConnection) throws -> Annulment {
        guard
            let row = try db.firstRow(
                "SELECT rowid, hash, uploaded, before, inside_change, annul FROM journal WHERE scan_id = ?",
                [.text(scanID)],
                { (rowid: $0.int(0), hash: $0.blob(1), uploaded: $0.int(2), before: $0.optionalText(3), change: $0.int(4), annul: $0.int(5)) }
            ), row.annul == 0, row.uploaded != 2
        else { return .unknown }
        let later = try db.firstRow(
            "SELECT 1 FROM journal WHERE hash = ? AND rowid > ? AND annul = 0",
            [.blob(row.hash), .integer(row.rowid)],
            { $0.int(0) }
        )
        guard later == nil else { return .changedSince }
        if let before = row.before.flatMap(SavedTicket.init(text:)) {
            try db.run(
                "UPDATE tickets SET status = ?, used_at = ?, used_gate = ?, inside = ?, last_entry_day = ? WHERE hash = ?",
                [
                    .text(before.status.rawValue), .optional(before.usedAt), .optional(before.usedGate), .integer(before.inside ? 1 : 0),
                    .optional(before.lastEntryDay.map(Int64.init)), .blob(row.hash),
                ]
            )
        }
        if row.change != 0 {
            try db.run("UPDATE meta SET value = CAST(value AS INTEGER) - ? WHERE key = 'list_inside'", [.integer(row.change)])
        }
        // Peer gates that learnt of it forget it too.
        try PeerLedger.queue(.withdraw, scanID: scanID, in: db)
        if row.uploaded == 0 {
            try db.run("DELETE FROM journal WHERE rowid = ?", [.integer(row.rowid)])
            return .dropped
        }
        try db.run("UPDATE journal SET annul = 1 WHERE rowid = ?", [.integer(row.rowid)])
        return .queued
    }

    /// Annuls the service must still hear of (of uploaded offline decisions and of online
    /// check-ins), oldest first.
    public func pendingAnnuls(limit: Int) throws -> [String] {
        try database.withLock { db in
            try db.rows(
                """
                SELECT scan_id FROM (SELECT scan_id, at FROM journal WHERE annul = 1
                  UNION ALL SELECT scan_id, requested_at FROM service_annuls WHERE state = 0) ORDER BY at LIMIT ?
                """,
                [.integer(Int64(limit))]
            ) { $0.text(0) }
        }
    }

    /// The service's word on an annul: done, or refused for good (e.g. too late).
    public func markAnnul(scanID: String, done: Bool) throws {
        try database.withLock { db in
            try db.transaction {
                _ = try db.run("UPDATE journal SET annul = ? WHERE scan_id = ? AND annul = 1", [.integer(done ? 2 : 3), .text(scanID)])
                _ = try db.run("UPDATE service_annuls SET state = ? WHERE scan_id = ? AND state = 0", [.integer(done ? 1 : 2), .text(scanID)])
            }
        }
    }

    /// Admissions not yet accepted by the service, oldest first.
    public func pendingUploads(limit: Int) throws -> [OfflineCheckin] {
        try database.withLock { db in
            try db.rows(
                "SELECT scan_id, hash, number, at, clock, code, direction FROM journal WHERE uploaded = 0 ORDER BY at, rowid LIMIT ?",
                [.integer(Int64(limit))]
            ) {
                OfflineCheckin(
                    scanId: $0.text(0),
                    code: $0.optionalText(5),
                    hash: Base64URL.encode($0.blob(1)),
                    ticketNumber: Int($0.int(2)),
                    at: $0.int(3),
                    clock: OfflineClock(rawValue: $0.text(4)) ?? .serverMonotonic,
                    direction: ScanDirection(rawValue: $0.text(6)) == .exit ? .exit : nil
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

/// A ticket's state as the journal keeps it to put back: compact JSON in one column.
struct SavedTicket: Codable, Equatable {
    var status: TicketStatus
    var usedAt: Int64?
    var usedGate: String?
    var inside: Bool
    var lastEntryDay: Int?

    init(status: TicketStatus, usedAt: Int64?, usedGate: String?, inside: Bool, lastEntryDay: Int?) {
        self.status = status
        self.usedAt = usedAt
        self.usedGate = usedGate
        self.inside = inside
        self.lastEntryDay = lastEntryDay
    }

    init(_ facts: TicketFacts) {
        status = facts.status
        usedAt = facts.usedAt
        usedGate = facts.usedGate
        inside = facts.inside
        lastEntryDay = facts.lastEntryDay
    }

    init?(text: String) {
        guard let saved = try? JSONDecoder().decode(SavedTicket.self, from: Data(text.utf8)) else { return nil }
        self = saved
    }

    var text: String? { (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) } }
}

/// The lane's passage sensor confirms admissions here: the intent is on disk before the relay
/// opens, so an admission nobody passed on is taken back even after a crash.
extension OfflineSnapshot: PassageLedger {
    public func expect(scanId: String, offline: Bool, code: [UInt8], direction: ScanDirection) throws {
        // An offline admission's journal row keeps what it changed; an online one keeps here
        // the ticket as this snapshot shows it now, so a take-back can show it again.
        let hash = offline ? nil : SnapshotDecider.ticketHash(String(decoding: code, as: UTF8.self))
        let before = try hash.flatMap { try ticket(hash: $0) }.map {
            SavedTicket(
                status: TicketStatus(rawValue: $0.status.rawValue) ?? .used,
                usedAt: $0.usedAt,
                usedGate: $0.usedGate,
                inside: $0.inside,
                lastEntryDay: $0.lastEntryDay
            )
        }
        _ = try database.withLock { db in
            try db.run(
                "INSERT OR REPLACE INTO passages (scan_id, offline, at, hash, direction, before) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .text(scanId), .integer(offline ? 1 : 0), .integer(Self.wallClockMillis()), .optional(before == nil ? nil : hash),
                    .text(direction.rawValue), .optional(before?.text),
                ]
            )
        }
    }

    public func passed(scanId: String) throws {
        _ = try database.withLock { db in try db.run("DELETE FROM passages WHERE scan_id = ?", [.text(scanId)]) }
    }

    public func takeBack(scanId: String) throws -> String {
        try database.withLock { db in try db.transaction { try Self.takeBack(scanId: scanId, in: db) } }
    }

    /// Admissions left waiting for a passage when the kiosk stopped: nobody saw one, so each is
    /// taken back. Returns how many.
    @discardableResult
    public func takeBackUnconfirmed() throws -> Int {
        try database.withLock { db in
            try db.transaction {
                let waiting = try db.rows("SELECT scan_id FROM passages ORDER BY at") { $0.text(0) }
                for scanId in waiting { _ = try Self.takeBack(scanId: scanId, in: db) }
                return waiting.count
            }
        }
    }

    private static func takeBack(scanId: String, in db: SQLiteConnection) throws -> String {
        guard
            let waiting = try db.firstRow(
                "SELECT offline, hash, direction, before FROM passages WHERE scan_id = ?",
                [.text(scanId)],
                { (offline: $0.int(0) != 0, hash: $0.optionalBlob(1), direction: $0.text(2), before: $0.optionalText(3)) }
            )
        else {
            return "nothing was waiting"
        }
        try db.run("DELETE FROM passages WHERE scan_id = ?", [.text(scanId)])
        guard waiting.offline else {
            // Until the service has the annul, its pages still show this admission: the snapshot
            // shows the ticket as before it, so an offline decision meanwhile admits the holder.
            let before = waiting.before.flatMap(SavedTicket.init(text:))
            var insideChange: Int64 = 0
            if let before {
                if waiting.direction == ScanDirection.exit.rawValue {
                    insideChange = before.inside ? -1 : 0
                } else {
                    insideChange = before.inside ? 0 : 1
                }
            }
            try db.run(
                """
                INSERT OR IGNORE INTO service_annuls (scan_id, requested_at, state, hash, before, inside_change, shown)
                VALUES (?, ?, 0, ?, ?, ?, ?)
                """,
                [
                    .text(scanId), .integer(wallClockMillis()), .optional(before == nil ? nil : waiting.hash), .optional(before?.text),
                    .integer(insideChange), .integer(before == nil ? 0 : 1),
                ]
            )
            return "annul queued for the service"
        }
        switch try annul(scanID: scanId, in: db) {
        case .dropped: return "offline admission dropped from the journal"
        case .queued: return "annul queued for the service (the offline admission was uploaded)"
        case .changedSince: return "the ticket was scanned again since: kept"
        case .unknown: return "no such offline admission"
        }
    }

    /// Only orders the queue: the service judges an annul by its own clock.
    private static func wallClockMillis() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
