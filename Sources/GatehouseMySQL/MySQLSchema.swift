import Foundation
import GatehouseStorage

/// Versioned MySQL/MariaDB schema, applied at start under `GET_LOCK` so that several service
/// processes starting at once migrate exactly once. Times are milliseconds since 1970 (BIGINT),
/// as in the other stores, so all three answer to the millisecond alike.
///
/// Every table is InnoDB with utf8mb4: names and ids hold any Unicode (4-byte characters too),
/// ids compare byte for byte (utf8mb4_bin, as in SQLite and PostgreSQL), names and e-mail
/// addresses are searched without regard to case (utf8mb4_unicode_ci). Hashes are VARBINARY.
/// Ids use a binary collation without padding (schema 2), so trailing spaces count.
///
/// Why READ COMMITTED (set per session) and a change counter: the decision needs no stricter
/// isolation, because the conditional UPDATE reads the newest committed row and locks it —
/// whichever process asks, one wins. What does need order is the gates' change feed: every
/// change of a ticket is numbered, and a gate that syncs from its last number must never miss
/// one. So a write transaction that changed tickets numbers them as its last statements, from the
/// one row of `gatehouse_changes`, whose lock it then holds until it commits: numbered
/// transactions commit in the order of their numbers, across all processes, yet the counter is
/// held only for the numbering and the commit, not for the transaction's reads and decisions
/// (taking it first made every write transaction of every event wait for the one before).
/// REPEATABLE READ (InnoDB's default) would add gap locks and deadlocks without adding any
/// guarantee we rely on.
enum MySQLSchema {
    static let migrationLock = "gatehouse.migrate"

    static let migrations: [[String]] = [
        // 1: everything the other stores reached in their schemas 1 to 7.
        [
            """
            CREATE TABLE IF NOT EXISTS gatehouse_changes (
                id TINYINT PRIMARY KEY,
                seq BIGINT NOT NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            "INSERT IGNORE INTO gatehouse_changes (id, seq) VALUES (1, 0)",
            """
            CREATE TABLE IF NOT EXISTS events (
                id VARCHAR(255) NOT NULL PRIMARY KEY,
                name VARCHAR(255) COLLATE utf8mb4_unicode_ci NOT NULL,
                starts_at BIGINT,
                ends_at BIGINT,
                created_at BIGINT NOT NULL,
                next_number BIGINT NOT NULL DEFAULT 1
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            """
            CREATE TABLE IF NOT EXISTS tickets (
                id VARCHAR(255) NOT NULL PRIMARY KEY,
                event_id VARCHAR(255) NOT NULL,
                number BIGINT NOT NULL,
                user_id VARCHAR(255),
                holder_name VARCHAR(255) COLLATE utf8mb4_unicode_ci,
                email VARCHAR(255) COLLATE utf8mb4_unicode_ci,
                ticket_type VARCHAR(255),
                status VARCHAR(16) NOT NULL,
                expires_at BIGINT,
                token_hash VARBINARY(64) NOT NULL,
                created_at BIGINT NOT NULL,
                used_at BIGINT,
                used_gate VARCHAR(255),
                used_device VARCHAR(255),
                change_seq BIGINT NOT NULL,
                UNIQUE KEY tickets_token (token_hash),
                UNIQUE KEY tickets_number (event_id, number),
                KEY tickets_event_status (event_id, status),
                KEY tickets_changes (event_id, change_seq),
                CONSTRAINT tickets_event FOREIGN KEY (event_id) REFERENCES events (id),
                CONSTRAINT tickets_status CHECK (status IN ('unused', 'used', 'revoked'))
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            """
            CREATE TABLE IF NOT EXISTS devices (
                id VARCHAR(255) NOT NULL PRIMARY KEY,
                name VARCHAR(255) COLLATE utf8mb4_unicode_ci NOT NULL,
                gate_id VARCHAR(255) NOT NULL,
                event_id VARCHAR(255) NOT NULL,
                token_hash VARBINARY(64) NOT NULL,
                revoked TINYINT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                UNIQUE KEY devices_token (token_hash),
                CONSTRAINT devices_event FOREIGN KEY (event_id) REFERENCES events (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            """
            CREATE TABLE IF NOT EXISTS checkins (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                at BIGINT NOT NULL,
                event_id VARCHAR(255) NOT NULL,
                ticket_id VARCHAR(255),
                gate_id VARCHAR(255) NOT NULL,
                device_id VARCHAR(255) NOT NULL,
                result VARCHAR(32) NOT NULL,
                mode VARCHAR(16) NOT NULL,
                scan_id VARCHAR(255),
                payload_hash VARBINARY(64) NOT NULL,
                offline TINYINT NOT NULL DEFAULT 0,
                clock TEXT,
                conflict VARCHAR(32),
                conflict_with BIGINT,
                UNIQUE KEY checkins_scan (device_id, scan_id),
                KEY checkins_device (device_id, id),
                KEY checkins_event (event_id, id),
                KEY checkins_conflicts (event_id, conflict, id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            """
            CREATE TABLE IF NOT EXISTS pairings (
                code_hash VARBINARY(64) NOT NULL PRIMARY KEY,
                event_id VARCHAR(255) NOT NULL,
                gate_id VARCHAR(255) NOT NULL,
                name VARCHAR(255) COLLATE utf8mb4_unicode_ci NOT NULL,
                expires_at BIGINT NOT NULL,
                used_at BIGINT,
                device_id VARCHAR(255),
                created_at BIGINT,
                CONSTRAINT pairings_event FOREIGN KEY (event_id) REFERENCES events (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            """
            CREATE TABLE IF NOT EXISTS signing_keys (
                event_id VARCHAR(255) NOT NULL,
                key_id INT NOT NULL,
                public_key VARBINARY(255) NOT NULL,
                private_key VARBINARY(255) NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (event_id, key_id),
                CONSTRAINT signing_keys_event FOREIGN KEY (event_id) REFERENCES events (id),
                CONSTRAINT signing_keys_range CHECK (key_id BETWEEN 1 AND 255)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
        ],
        // 2: ids compare byte for byte without padding: utf8mb4_bin is a PAD SPACE collation, so
        // `scan-1` and `scan-1 ` were one scanId to the unique key (an offline upload of both
        // left one ticket unused, then admitted twice). `{BIN}` is the server's no-pad binary
        // collation (MariaDB: utf8mb4_nopad_bin; MySQL 8: utf8mb4_0900_bin). Then device kinds
        // and the codes tickets had before a re-issue (as in the other stores).
        [
            // The keys that reference events.id are dropped for the change and made again after it.
            "ALTER TABLE tickets DROP FOREIGN KEY tickets_event",
            "ALTER TABLE devices DROP FOREIGN KEY devices_event",
            "ALTER TABLE pairings DROP FOREIGN KEY pairings_event",
            "ALTER TABLE signing_keys DROP FOREIGN KEY signing_keys_event",
            "ALTER TABLE events MODIFY id VARCHAR(255) COLLATE {BIN} NOT NULL",
            """
            ALTER TABLE tickets MODIFY id VARCHAR(255) COLLATE {BIN} NOT NULL, MODIFY event_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                MODIFY user_id VARCHAR(255) COLLATE {BIN}, MODIFY ticket_type VARCHAR(255) COLLATE {BIN},
                MODIFY used_gate VARCHAR(255) COLLATE {BIN}, MODIFY used_device VARCHAR(255) COLLATE {BIN}
            """,
            """
            ALTER TABLE devices MODIFY id VARCHAR(255) COLLATE {BIN} NOT NULL, MODIFY gate_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                MODIFY event_id VARCHAR(255) COLLATE {BIN} NOT NULL
            """,
            """
            ALTER TABLE checkins MODIFY event_id VARCHAR(255) COLLATE {BIN} NOT NULL, MODIFY ticket_id VARCHAR(255) COLLATE {BIN},
                MODIFY gate_id VARCHAR(255) COLLATE {BIN} NOT NULL, MODIFY device_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                MODIFY scan_id VARCHAR(255) COLLATE {BIN}
            """,
            """
            ALTER TABLE pairings MODIFY event_id VARCHAR(255) COLLATE {BIN} NOT NULL, MODIFY gate_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                MODIFY device_id VARCHAR(255) COLLATE {BIN}
            """,
            "ALTER TABLE signing_keys MODIFY event_id VARCHAR(255) COLLATE {BIN} NOT NULL",
            "ALTER TABLE tickets ADD CONSTRAINT tickets_event FOREIGN KEY (event_id) REFERENCES events (id)",
            "ALTER TABLE devices ADD CONSTRAINT devices_event FOREIGN KEY (event_id) REFERENCES events (id)",
            "ALTER TABLE pairings ADD CONSTRAINT pairings_event FOREIGN KEY (event_id) REFERENCES events (id)",
            "ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_event FOREIGN KEY (event_id) REFERENCES events (id)",
            "ALTER TABLE devices ADD COLUMN kind VARCHAR(16) COLLATE {BIN} NOT NULL DEFAULT 'kiosk'",
            """
            CREATE TABLE IF NOT EXISTS retired_tokens (
                token_hash VARBINARY(64) NOT NULL PRIMARY KEY,
                ticket_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                retired_at BIGINT NOT NULL,
                CONSTRAINT retired_tokens_ticket FOREIGN KEY (ticket_id) REFERENCES tickets (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
        ],
        // 3: registration on a public page and the outbox that mails tickets (as SQLite's 8).
        [
            "ALTER TABLE events ADD COLUMN place VARCHAR(255) COLLATE utf8mb4_unicode_ci",
            "ALTER TABLE events ADD COLUMN reg_open TINYINT NOT NULL DEFAULT 0",
            "ALTER TABLE events ADD COLUMN reg_capacity BIGINT",
            "ALTER TABLE events ADD COLUMN reg_closes_at BIGINT",
            "ALTER TABLE events ADD COLUMN reg_ticket_type VARCHAR(255) COLLATE {BIN}",
            "ALTER TABLE events ADD COLUMN reg_one_per_email TINYINT NOT NULL DEFAULT 1",
            "ALTER TABLE events ADD COLUMN registered BIGINT NOT NULL DEFAULT 0",
            """
            CREATE TABLE IF NOT EXISTS registrations (
                ticket_id VARCHAR(255) COLLATE {BIN} NOT NULL PRIMARY KEY,
                event_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                address_key VARCHAR(320) COLLATE {BIN} NOT NULL,
                created_at BIGINT NOT NULL,
                KEY registrations_address (event_id, address_key),
                CONSTRAINT registrations_ticket FOREIGN KEY (ticket_id) REFERENCES tickets (id),
                CONSTRAINT registrations_event FOREIGN KEY (event_id) REFERENCES events (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
            """
            CREATE TABLE IF NOT EXISTS mail_outbox (
                id VARCHAR(255) COLLATE {BIN} NOT NULL PRIMARY KEY,
                event_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                ticket_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                recipient VARCHAR(320) COLLATE {BIN} NOT NULL,
                sealed_code VARBINARY(2048),
                state VARCHAR(16) COLLATE {BIN} NOT NULL,
                attempts INT NOT NULL DEFAULT 0,
                next_attempt_at BIGINT NOT NULL,
                lease_until BIGINT,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                sent_at BIGINT,
                KEY mail_outbox_due (state, next_attempt_at),
                KEY mail_outbox_event (event_id, created_at),
                KEY mail_outbox_ticket (ticket_id),
                CONSTRAINT mail_outbox_event FOREIGN KEY (event_id) REFERENCES events (id),
                CONSTRAINT mail_outbox_ticket FOREIGN KEY (ticket_id) REFERENCES tickets (id),
                CONSTRAINT mail_outbox_state CHECK (state IN ('pending', 'sent', 'failed', 'superseded'))
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
        ],
        // 4: presence (as SQLite's 9).
        [
            "ALTER TABLE tickets ADD COLUMN inside TINYINT NOT NULL DEFAULT 0"
        ],
        // 5: check-in lists (as SQLite's 10).
        [
            """
            CREATE TABLE IF NOT EXISTS checkin_lists (
                id VARCHAR(255) COLLATE {BIN} NOT NULL PRIMARY KEY,
                event_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                name VARCHAR(255) COLLATE utf8mb4_unicode_ci NOT NULL,
                ticket_types TEXT COLLATE {BIN},
                entry VARCHAR(16) COLLATE {BIN} NOT NULL,
                capacity BIGINT,
                opens_at BIGINT,
                closes_at BIGINT,
                inside BIGINT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                KEY checkin_lists_event (event_id, created_at),
                CONSTRAINT checkin_lists_event FOREIGN KEY (event_id) REFERENCES events (id),
                CONSTRAINT checkin_lists_entry CHECK (entry IN ('once', 'reentry', 'unlimited', 'daily'))
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
            """
            CREATE TABLE IF NOT EXISTS list_gates (
                event_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                gate_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                list_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                PRIMARY KEY (event_id, gate_id),
                KEY list_gates_list (list_id),
                CONSTRAINT list_gates_list FOREIGN KEY (list_id) REFERENCES checkin_lists (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
            """
            CREATE TABLE IF NOT EXISTS list_passes (
                list_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                ticket_id VARCHAR(255) COLLATE {BIN} NOT NULL,
                used_at BIGINT NOT NULL,
                used_gate VARCHAR(255) COLLATE {BIN} NOT NULL,
                inside TINYINT NOT NULL DEFAULT 0,
                last_entry_day BIGINT,
                PRIMARY KEY (list_id, ticket_id),
                KEY list_passes_inside (ticket_id, inside),
                CONSTRAINT list_passes_list FOREIGN KEY (list_id) REFERENCES checkin_lists (id),
                CONSTRAINT list_passes_ticket FOREIGN KEY (ticket_id) REFERENCES tickets (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
        ],
        // 6: what a check-in changed, kept in its log row for an annul (as SQLite's 11).
        [
            "ALTER TABLE checkins ADD COLUMN undo_state TEXT"
        ],
        // 7: when a list counts everyone out (as SQLite's 12).
        [
            "ALTER TABLE checkin_lists ADD COLUMN exit_all_at BIGINT"
        ],
        // 8: lane modes (as SQLite's 13).
        [
            """
            CREATE TABLE IF NOT EXISTS lane_modes (
                device_id VARCHAR(255) NOT NULL PRIMARY KEY,
                requested VARCHAR(32),
                requested_at BIGINT,
                reported VARCHAR(32),
                source VARCHAR(32),
                reported_at BIGINT,
                CONSTRAINT lane_modes_device FOREIGN KEY (device_id) REFERENCES devices (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """
        ],
        // 9: the lane's fire alarm (as SQLite's 14).
        [
            "ALTER TABLE lane_modes ADD COLUMN alarm VARCHAR(255)"
        ],
        // 10: a list's attention types (as SQLite's 15).
        [
            "ALTER TABLE checkin_lists ADD COLUMN attention_types TEXT COLLATE {BIN}"
        ],
        // 11: device heartbeats (as SQLite's 16).
        [
            """
            CREATE TABLE IF NOT EXISTS device_heartbeats (
                device_id VARCHAR(255) NOT NULL PRIMARY KEY,
                at BIGINT NOT NULL,
                body MEDIUMTEXT NOT NULL,
                events MEDIUMTEXT NOT NULL,
                CONSTRAINT device_heartbeats_device FOREIGN KEY (device_id) REFERENCES devices (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """
        ],
        // 12: the event stream's order. A row logged or marked has `stream_seq` 0 until its
        // transaction numbers it from the change counter as it numbers tickets, so the stream
        // is in commit order across processes (see `numberChanges`). Rows from before keep their
        // id, and the counter starts above them.
        [
            "ALTER TABLE checkins ADD COLUMN stream_seq BIGINT NOT NULL DEFAULT 0, ADD KEY checkins_stream (event_id, stream_seq)",
            "UPDATE checkins SET stream_seq = id",
            "UPDATE gatehouse_changes SET seq = GREATEST(seq, (SELECT coalesce(max(id), 0) FROM checkins)) WHERE id = 1",
        ],
        // 13: webhooks (as SQLite's 18).
        [
            """
            CREATE TABLE IF NOT EXISTS webhooks (
                id VARCHAR(255) NOT NULL PRIMARY KEY,
                event_id VARCHAR(255) NOT NULL,
                url VARCHAR(2048) NOT NULL,
                secret VARCHAR(255) NOT NULL,
                created_at BIGINT NOT NULL,
                delivered_at BIGINT,
                failures BIGINT NOT NULL,
                next_attempt_at BIGINT NOT NULL,
                last_error VARCHAR(1024),
                lease_until BIGINT,
                cursor_xact BIGINT NOT NULL,
                cursor_seq BIGINT NOT NULL,
                device_states MEDIUMTEXT NOT NULL,
                KEY webhooks_event (event_id),
                CONSTRAINT webhooks_event FOREIGN KEY (event_id) REFERENCES events (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """
        ],
        // 14: accounts, sessions, API tokens, known browsers and the audit trail (as SQLite's 19).
        [
            """
            CREATE TABLE IF NOT EXISTS accounts (
                id VARCHAR(32) NOT NULL PRIMARY KEY,
                email VARCHAR(320) NOT NULL,
                role VARCHAR(32) NOT NULL,
                event_ids TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                disabled_at BIGINT,
                password_hash VARCHAR(255),
                password_changed_at BIGINT,
                link_hash VARBINARY(32),
                link_expires_at BIGINT,
                UNIQUE KEY accounts_email (email),
                KEY accounts_link (link_hash)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
            """
            CREATE TABLE IF NOT EXISTS sessions (
                id_hash VARBINARY(32) NOT NULL PRIMARY KEY,
                account_id VARCHAR(32) NOT NULL,
                created_at BIGINT NOT NULL,
                seen_at BIGINT NOT NULL,
                address VARCHAR(64),
                KEY sessions_account (account_id),
                CONSTRAINT sessions_account FOREIGN KEY (account_id) REFERENCES accounts (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
            """
            CREATE TABLE IF NOT EXISTS api_tokens (
                id VARCHAR(32) NOT NULL PRIMARY KEY,
                account_id VARCHAR(32) NOT NULL,
                token_hash VARBINARY(32) NOT NULL,
                name VARCHAR(255) NOT NULL,
                created_at BIGINT NOT NULL,
                used_at BIGINT,
                revoked_at BIGINT,
                UNIQUE KEY api_tokens_hash (token_hash),
                CONSTRAINT api_tokens_account FOREIGN KEY (account_id) REFERENCES accounts (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
            """
            CREATE TABLE IF NOT EXISTS known_browsers (
                account_id VARCHAR(32) NOT NULL,
                mark_hash VARBINARY(32) NOT NULL,
                seen_at BIGINT NOT NULL,
                PRIMARY KEY (account_id, mark_hash),
                CONSTRAINT known_browsers_account FOREIGN KEY (account_id) REFERENCES accounts (id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
            """
            CREATE TABLE IF NOT EXISTS audit_log (
                id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                at BIGINT NOT NULL,
                account_id VARCHAR(32),
                actor VARCHAR(320) NOT NULL,
                address VARCHAR(64),
                action VARCHAR(128) NOT NULL,
                event_id VARCHAR(255),
                subject VARCHAR(320),
                detail VARCHAR(1024),
                KEY audit_event (event_id, id),
                KEY audit_account (action, account_id, at),
                KEY audit_address (action, address, at)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={BIN}
            """,
        ],
    ]

    static var currentVersion: Int { migrations.count }

    /// Migrates under a named lock held by this connection: the first process migrates, the
    /// others wait for it and then find nothing to do. DDL commits by itself in MySQL, so each
    /// statement is written to be harmless when run again, and the version is recorded after
    /// its migration's last statement. A database already at this version needs no lock, so
    /// processes starting together do not take turns to find nothing to do. (A missing table,
    /// before the first migration, or any other error here leaves the question to the locked path.)
    static func migrate(_ db: MySQLConnection) throws {
        let recorded = try? db.firstRow("SELECT version FROM gatehouse_schema WHERE id = 1", [], { $0.int(0) })
        if let recorded, Int(recorded) == currentVersion { return }
        guard try db.firstRow("SELECT GET_LOCK(?, 30)", [.text(migrationLock)], { $0.int(0) }) == 1 else {
            throw StoreError.unavailable("another gatehouse held the MySQL migration lock for 30 s")
        }
        defer { _ = try? db.firstRow("SELECT RELEASE_LOCK(?)", [.text(migrationLock)], { $0.int(0) }) }
        try db.execute(
            "CREATE TABLE IF NOT EXISTS gatehouse_schema (id TINYINT PRIMARY KEY, version INT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        )
        try db.execute("INSERT IGNORE INTO gatehouse_schema (id, version) VALUES (1, 0)")
        let found = Int(try db.firstRow("SELECT version FROM gatehouse_schema WHERE id = 1", [], { $0.int(0) }) ?? 0)
        guard found <= currentVersion else {
            throw StoreError.unavailable(
                "the database has schema version \(found), newer than this gatehouse knows (\(currentVersion)); run a newer gatehouse"
            )
        }
        guard found < currentVersion else { return }
        let binary = try noPadBinaryCollation(db)
        for version in found..<currentVersion {
            for statement in migrations[version] {
                do {
                    try db.execute(statement.replacingOccurrences(of: "{BIN}", with: binary))
                } catch {
                    // A migration cut short before its version was recorded runs again from its start.
                    guard alreadyApplied.contains(error.number) else { throw error }
                }
            }
            try db.run("UPDATE gatehouse_schema SET version = ? WHERE id = 1", [.integer(Int64(version + 1))])
        }
    }

    /// Errors a statement of a migration that ran before gives: a table that exists, a duplicate
    /// column, key or foreign key, a foreign key already dropped.
    static let alreadyApplied: Set<UInt32> = [1050, 1060, 1061, 1091, 1826]

    /// The server's binary utf8mb4 collation that does not pad with spaces.
    static func noPadBinaryCollation(_ db: MySQLConnection) throws -> String {
        let names = try db.rows(
            "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')",
            [],
            { $0.text(0) }
        )
        guard let name = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin"].first(where: names.contains) else {
            throw StoreError.unavailable("MySQL: the server has no binary utf8mb4 collation without padding (utf8mb4_nopad_bin or utf8mb4_0900_bin)")
        }
        return name
    }

    /// Numbers the tickets this transaction changed, in the order it changed them, just before
    /// it commits. One statement takes the counter (locking its row until the commit) and tells
    /// the new top through `LAST_INSERT_ID(expr)`, which the client reads without a round trip.
    /// A transaction that changed no ticket never touches the counter. Writes held back for the
    /// numbering (`MySQLConnection.NumberedWrite`) are written after it, taking their numbers.
    static func numberChanges(_ db: MySQLConnection) throws {
        var seen = Set<String>()
        var tickets: [String] = []
        var issued: [(eventId: String, first: Int64, count: Int)] = []
        // Per event, the smallest id its unnumbered rows may have (nil: any).
        var loggedEvents: [String: Int64?] = [:]
        var marked = Set<[String]>()
        // This transaction's log rows still to be numbered, by id.
        var logRows = Set<Int64>()
        for change in db.notedChanges {
            switch change {
            case .ticket(let id): if seen.insert(id).inserted { tickets.append(id) }
            case .issued(let eventId, let first, let count): issued.append((eventId, first, count))
            case .logged(let eventId, let firstId):
                if let noted = loggedEvents[eventId] {
                    loggedEvents[eventId] = noted.flatMap { noted in firstId.map { min(noted, $0) } }
                } else {
                    loggedEvents[eventId] = firstId
                }
            case .marked(let deviceId, let scanId): marked.insert([deviceId, scanId])
            case .inserted(let ids): logRows.formUnion(ids)
            }
        }
        // Log rows whose ids are not known are found by a read: a plain read sees no other
        // transaction's uncommitted rows, and every committed row is numbered. Rows this
        // transaction inserted are found from their first id on, by the primary key: the log's
        // (event, stream_seq) key holds an entry at 0 for every row numbered since InnoDB's last
        // purge, so under load the optimizer read the event's whole log instead (2,100 rows per
        // commit 30,000 check-ins in, and growing with the log).
        for (eventId, firstId) in loggedEvents {
            if let firstId {
                logRows.formUnion(
                    try db.rows(
                        "SELECT id FROM checkins FORCE INDEX (PRIMARY) WHERE id >= ? AND event_id = ? AND stream_seq = 0",
                        [.integer(firstId), .text(eventId)]
                    ) { $0.int(0) }
                )
            } else {
                logRows.formUnion(try db.rows("SELECT id FROM checkins WHERE event_id = ? AND stream_seq = 0", [.text(eventId)]) { $0.int(0) })
            }
        }
        for scan in marked {
            logRows.formUnion(
                try db.rows("SELECT id FROM checkins WHERE device_id = ? AND scan_id = ? AND stream_seq = 0", [.text(scan[0]), .text(scan[1])]) {
                    $0.int(0)
                }
            )
        }
        let logged = logRows.sorted()
        let held = db.numberedWrites
        let total = Int64(tickets.count + issued.reduce(0) { $0 + $1.count } + logged.count + held.reduce(0) { $0 + $1.count })
        guard total > 0 else { return }
        let top = try db.insert("UPDATE gatehouse_changes SET seq = LAST_INSERT_ID(seq + ?) WHERE id = 1", [.integer(total)])
        guard top >= total else {
            throw StoreError.unavailable("MySQL: the change counter row is missing (table gatehouse_changes)")
        }
        var next = top - total + 1
        try number(tickets.map { .text($0) }, in: "tickets", column: "change_seq", from: next, db)
        next += Int64(tickets.count)
        for range in issued {
            // Point lookups on the (event, number) key, never a range: a range scan reads the
            // record after its end, and waiting for that record's lock (another writer's new
            // ticket) while this transaction holds the counter that writer waits for is a
            // deadlock.
            for start in stride(from: range.first, to: range.first + Int64(range.count), by: numberedPerStatement) {
                let count = Int(min(Int64(numberedPerStatement), range.first + Int64(range.count) - start))
                try db.run(
                    "UPDATE tickets FORCE INDEX (tickets_number) SET change_seq = ? + (number - ?) WHERE event_id = ? AND number IN ("
                        + Array(repeating: "?", count: count).joined(separator: ", ") + ")",
                    [.integer(next + start - range.first), .integer(start), .text(range.eventId)]
                        + (start..<start + Int64(count)).map { .integer($0) }
                )
            }
            next += Int64(range.count)
        }
        try number(logRows: logged, from: next, in: db)
        next += Int64(logged.count)
        // Last: they add rows after those numbered above (log rows are numbered in id order).
        for write in held {
            try write.write(db, next)
            next += Int64(write.count)
        }
    }

    /// Numbers log rows in id order from `first` on. Rows in at most two runs of consecutive ids
    /// (a batch's one INSERT, and a scan decided alone after it) take one range UPDATE per run:
    /// every id of a run is this transaction's row, so the range holds no other. Scattered rows
    /// (ids interleaved with another writer's) take one UPDATE per `numberedPerStatement`, each
    /// row set by its id, rather than a statement per run.
    private static func number(logRows logged: [Int64], from first: Int64, in db: MySQLConnection) throws {
        var runs: [ClosedRange<Int>] = []
        var start = 0
        for index in logged.indices where index + 1 == logged.count || logged[index + 1] != logged[index] + 1 {
            runs.append(start...index)
            start = index + 1
        }
        var next = first
        if runs.count <= 2 {
            for run in runs {
                try db.run(
                    "UPDATE checkins SET stream_seq = ? + (id - ?) WHERE id BETWEEN ? AND ?",
                    [.integer(next), .integer(logged[run.lowerBound]), .integer(logged[run.lowerBound]), .integer(logged[run.upperBound])]
                )
                next += Int64(run.count)
            }
            return
        }
        try number(logged.map { .integer($0) }, in: "checkins", column: "stream_seq", from: next, db)
    }

    /// Sets `column` of the rows with these ids (in `table`'s primary key) to `first`, `first + 1`,
    /// … in the order given, `numberedPerStatement` rows per UPDATE, each row found by its id:
    /// point lookups lock only the rows named, never a neighbour another writer holds.
    private static func number(_ ids: [MySQLValue], in table: String, column: String, from first: Int64, _ db: MySQLConnection) throws {
        var next = first
        for start in stride(from: 0, to: ids.count, by: numberedPerStatement) {
            let chunk = ids[start..<min(ids.count, start + numberedPerStatement)]
            var parameters: [MySQLValue] = []
            parameters.reserveCapacity(chunk.count * 3)
            for id in chunk {
                parameters += [id, .integer(next)]
                next += 1
            }
            parameters += chunk
            try db.run(
                "UPDATE \(table) SET \(column) = CASE id " + String(repeating: "WHEN ? THEN ? ", count: chunk.count) + "END WHERE id IN ("
                    + Array(repeating: "?", count: chunk.count).joined(separator: ", ") + ")",
                parameters
            )
        }
    }

    /// Tickets numbered per statement (three parameters each, well under MySQL's 65,535).
    static let numberedPerStatement = 500
}
