import FoundationEssentials
import GatehouseCore
import SQLiteSupport
import Synchronization

/// One gate's offline decision as it tells its peers: which ticket (its hash, never the code),
/// where, when and which way — or that the gate took such a decision back (nobody passed).
public struct PeerRecord: Sendable, Equatable {
    public enum Kind: String, Sendable { case admit, withdraw }

    public var kind: Kind
    /// The sender's own numbering, from 1, never reused: what a peer asks for again after a gap.
    public var seq: Int64
    public var scanID: String
    public var hash: [UInt8]
    public var gate: String
    /// The check-in list of the sender's gate: a record counts only at gates of the same list
    /// (or at gates in no list when nil), as a list's passes do on the service.
    public var list: String?
    public var at: Int64
    public var direction: ScanDirection
    public var insideChange: Int

    public init(
        kind: Kind,
        seq: Int64,
        scanID: String,
        hash: [UInt8],
        gate: String,
        list: String?,
        at: Int64,
        direction: ScanDirection,
        insideChange: Int
    ) {
        self.kind = kind
        self.seq = seq
        self.scanID = scanID
        self.hash = hash
        self.gate = gate
        self.list = list
        self.at = at
        self.direction = direction
        self.insideChange = insideChange
    }
}

/// What a peer's record did to this gate's snapshot.
public enum PeerApply: Sendable, Equatable {
    case applied
    /// This box already has that sender's record of that number.
    case duplicate
    /// Its time goes against the sender's numbering (see `applyPeer`): not applied.
    case outOfOrder
}

/// The gate-to-gate part of the snapshot: the records this gate owes its peers (its outbox, in
/// the same transaction as each decision), and the records it learnt from them. A learnt record
/// changes what `ticket(hash:)` says, never the journal: only the admitting gate uploads its own
/// admissions.
enum PeerLedger {
    /// How far two gates' (or one gate's successive) trusted clocks may disagree, in ms.
    static let clockTolerance: Int64 = 120_000

    static let schema = """
        CREATE TABLE IF NOT EXISTS peer_outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            scan_id TEXT NOT NULL,
            hash BLOB NOT NULL,
            gate TEXT NOT NULL,
            list TEXT,
            at INTEGER NOT NULL,
            direction TEXT NOT NULL,
            inside_change INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS peer_records (
            sender TEXT NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            scan_id TEXT NOT NULL,
            hash BLOB NOT NULL,
            gate TEXT NOT NULL,
            list TEXT,
            at INTEGER NOT NULL,
            direction TEXT NOT NULL,
            inside_change INTEGER NOT NULL,
            withdrawn INTEGER NOT NULL DEFAULT 0,
            received_at INTEGER NOT NULL,
            PRIMARY KEY (sender, seq)
        );
        CREATE INDEX IF NOT EXISTS peer_records_hash ON peer_records (hash);
        -- Per sender: every record up to this number is here (what a hello asks after).
        CREATE TABLE IF NOT EXISTS peer_marks (sender TEXT PRIMARY KEY, contiguous INTEGER NOT NULL);
        """

    /// Queues the journal row `scanID` for the peers (called inside the decision's transaction,
    /// before a withdrawn row is deleted).
    static func queue(_ kind: PeerRecord.Kind, scanID: String, in db: SQLiteConnection) throws {
        try db.run(
            """
            INSERT INTO peer_outbox (kind, scan_id, hash, gate, list, at, direction, inside_change)
            SELECT ?, scan_id, hash, gate, (SELECT value FROM meta WHERE key = 'gate_list_id'), at, direction, inside_change
            FROM journal WHERE scan_id = ?
            """,
            [.text(kind.rawValue), .text(scanID)]
        )
    }

    static func ourList(in db: SQLiteConnection) throws -> String? {
        try db.firstRow("SELECT value FROM meta WHERE key = 'gate_list_id'") { $0.text(0) }
    }

    /// What the peers reported of this ticket at this gate's list, not taken back, oldest first.
    private static func reported(hash: [UInt8], in db: SQLiteConnection) throws -> [(gate: String, at: Int64, entry: Bool)] {
        try db.rows(
            """
            SELECT gate, at, direction FROM peer_records WHERE hash = ? AND kind = 'admit' AND withdrawn = 0 AND list IS ?
            ORDER BY at, seq
            """,
            [.blob(hash), .optional(try ourList(in: db))]
        ) { (gate: $0.text(0), at: $0.int(1), entry: $0.text(2) == ScanDirection.entry.rawValue) }
    }

    /// The first entry a peer reported for this ticket at this gate's list, not taken back.
    static func firstAdmission(hash: [UInt8], in db: SQLiteConnection) throws -> (at: Int64, gate: String)? {
        try reported(hash: hash, in: db).first(where: \.entry).map { ($0.at, $0.gate) }
    }

    /// Puts what the peers reported onto a ticket as the snapshot and the journal show it.
    static func merge(into ticket: inout OfflineSnapshot.Ticket, hash: [UInt8], in db: SQLiteConnection) throws {
        let reported = try reported(hash: hash, in: db)
        guard let last = reported.last else { return }
        if let first = reported.first(where: \.entry) {
            ticket.status = .used
            if ticket.usedAt == nil || first.at < ticket.usedAt! {
                ticket.usedAt = first.at
                ticket.usedGate = first.gate
                ticket.usedByPeer = first.gate
            }
        }
        // Inside or out: whoever saw the holder last.
        let ownLast = try db.firstRow("SELECT max(at) FROM journal WHERE hash = ? AND annul = 0", [.blob(hash)]) { $0.optionalInt(0) } ?? nil
        if last.at >= (ownLast ?? 0) { ticket.inside = last.entry }
    }
}

extension OfflineSnapshot {
    /// The event's key for peer records, as the last sync brought it.
    public var peerKey: (id: String, key: [UInt8])? {
        get throws {
            try database.withLock { db in
                let meta = Dictionary(
                    try db.rows("SELECT key, value FROM meta WHERE key IN ('peer_key', 'peer_key_id')") { ($0.text(0), $0.text(1)) },
                    uniquingKeysWith: { first, _ in first }
                )
                guard let id = meta["peer_key_id"], let key = meta["peer_key"].flatMap(Base64URL.decode), key.count == 32 else { return nil }
                return (id, key)
            }
        }
    }

    /// This box's name among its peers: the device and a random instance made once per state
    /// directory, so a box whose state was wiped starts a new numbering peers do not confuse with
    /// the old one.
    public func peerInstance() throws -> String {
        try database.withLock { db in
            if let instance = try db.firstRow("SELECT value FROM meta WHERE key = 'peer_instance'", [], { $0.text(0) }) { return instance }
            var bytes = [UInt8](repeating: 0, count: 6)
            for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
            let instance = Base64URL.encode(bytes)
            try db.run("INSERT INTO meta (key, value) VALUES ('peer_instance', ?)", [.text(instance)])
            return instance
        }
    }

    /// This gate's own records after `seq`, oldest first.
    public func outbox(after seq: Int64, limit: Int) throws -> [PeerRecord] {
        try database.withLock { db in
            try db.rows(
                """
                SELECT seq, kind, scan_id, hash, gate, list, at, direction, inside_change FROM peer_outbox
                WHERE seq > ? ORDER BY seq LIMIT ?
                """,
                [.integer(seq), .integer(Int64(limit))]
            ) {
                PeerRecord(
                    kind: PeerRecord.Kind(rawValue: $0.text(1)) ?? .admit,
                    seq: $0.int(0),
                    scanID: $0.text(2),
                    hash: $0.blob(3),
                    gate: $0.text(4),
                    list: $0.optionalText(5),
                    at: $0.int(6),
                    direction: ScanDirection(rawValue: $0.text(7)) ?? .entry,
                    insideChange: Int($0.int(8))
                )
            }
        }
    }

    /// The number of this gate's newest record (0: none yet).
    public func outboxHighest() throws -> Int64 {
        try database.withLock { db in try db.firstRow("SELECT coalesce(max(seq), 0) FROM peer_outbox") { $0.int(0) } ?? 0 }
    }

    /// Per sender, the number up to which this box has every record.
    public func peerMarks() throws -> [String: Int64] {
        try database.withLock { db in
            Dictionary(try db.rows("SELECT sender, contiguous FROM peer_marks") { ($0.text(0), $0.int(1)) }, uniquingKeysWith: max)
        }
    }

    /// The number up to which this box has every record of `sender` (0: none).
    public func peerMark(sender: String) throws -> Int64 {
        try database.withLock { db in
            try db.firstRow("SELECT contiguous FROM peer_marks WHERE sender = ?", [.text(sender)]) { $0.int(0) } ?? 0
        }
    }

    /// Applies a peer's record (already authenticated and checked), durably, before it returns:
    /// the next decision sees it.
    public func applyPeer(_ record: PeerRecord, sender: String, receivedAt: Int64) throws -> PeerApply {
        try database.withLock { db in
            try db.transaction {
                let known = try db.firstRow("SELECT 1 FROM peer_records WHERE sender = ? AND seq = ?", [.text(sender), .integer(record.seq)]) {
                    $0.int(0)
                }
                if known != nil { return .duplicate }
                // A gate numbers its admissions in the order it makes them, by a clock that only
                // goes forward: one numbered after a later admission but timed well before it (or
                // the other way round) was not sent as it reads. Take-backs carry their
                // admission's time, so only admissions are compared.
                if record.kind == .admit {
                    let earlier =
                        try db.firstRow(
                            "SELECT max(at) FROM peer_records WHERE sender = ? AND seq < ? AND kind = 'admit'",
                            [.text(sender), .integer(record.seq)],
                            { $0.optionalInt(0) }
                        ) ?? nil
                    let later =
                        try db.firstRow(
                            "SELECT min(at) FROM peer_records WHERE sender = ? AND seq > ? AND kind = 'admit'",
                            [.text(sender), .integer(record.seq)],
                            { $0.optionalInt(0) }
                        ) ?? nil
                    if let earlier, record.at < earlier - PeerLedger.clockTolerance { return .outOfOrder }
                    if let later, record.at > later + PeerLedger.clockTolerance { return .outOfOrder }
                }
                let inserted = try db.run(
                    """
                    INSERT OR IGNORE INTO peer_records (sender, seq, kind, scan_id, hash, gate, list, at, direction, inside_change, received_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .text(sender), .integer(record.seq), .text(record.kind.rawValue), .text(record.scanID), .blob(record.hash),
                        .text(record.gate), .optional(record.list), .integer(record.at), .text(record.direction.rawValue),
                        .integer(Int64(record.insideChange)), .integer(receivedAt),
                    ]
                )
                guard inserted > 0 else { return .duplicate }
                let sameList = try PeerLedger.ourList(in: db) == record.list
                switch record.kind {
                case .admit:
                    if sameList, record.insideChange != 0 {
                        try db.run(
                            "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'list_inside'",
                            [.integer(Int64(record.insideChange))]
                        )
                    }
                case .withdraw:
                    let change = try db.firstRow(
                        """
                        UPDATE peer_records SET withdrawn = 1 WHERE sender = ? AND scan_id = ? AND kind = 'admit' AND withdrawn = 0
                        RETURNING inside_change
                        """,
                        [.text(sender), .text(record.scanID)],
                        { $0.int(0) }
                    )
                    if sameList, let change, change != 0 {
                        try db.run("UPDATE meta SET value = CAST(value AS INTEGER) - ? WHERE key = 'list_inside'", [.integer(change)])
                    }
                }
                var mark = try db.firstRow("SELECT contiguous FROM peer_marks WHERE sender = ?", [.text(sender)]) { $0.int(0) } ?? 0
                for seq in try db.rows(
                    "SELECT seq FROM peer_records WHERE sender = ? AND seq > ? ORDER BY seq LIMIT 1000",
                    [.text(sender), .integer(mark)],
                    { $0.int(0) }
                ) {
                    guard seq == mark + 1 else { break }
                    mark = seq
                }
                try db.run(
                    "INSERT INTO peer_marks (sender, contiguous) VALUES (?, ?) ON CONFLICT (sender) DO UPDATE SET contiguous = excluded.contiguous",
                    [.text(sender), .integer(mark)]
                )
                return .applied
            }
        }
    }

    /// How many records this box learnt from peers (for tests and the status line).
    public func learntRecords() throws -> Int {
        try database.withLock { db in Int(try db.firstRow("SELECT count(*) FROM peer_records") { $0.int(0) } ?? 0) }
    }
}
