import GatehouseStorage
import SQLiteSupport

/// Versioned SQLite schema. `PRAGMA user_version` records the version a file has; migrations run
/// in order at start, each in its own transaction.
enum SQLiteSchema {
    static let migrations: [String] = [
        // 1: events, tickets, devices, check-in log.
        """
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            starts_at INTEGER,
            ends_at INTEGER,
            created_at INTEGER NOT NULL,
            next_number INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE tickets (
            id TEXT PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES events(id),
            number INTEGER NOT NULL,
            user_id TEXT,
            holder_name TEXT,
            email TEXT,
            ticket_type TEXT,
            status TEXT NOT NULL CHECK (status IN ('unused', 'used', 'revoked')),
            expires_at INTEGER,
            token_hash BLOB NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            used_at INTEGER,
            used_gate TEXT,
            used_device TEXT,
            UNIQUE (event_id, number)
        );
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            gate_id TEXT NOT NULL,
            event_id TEXT NOT NULL REFERENCES events(id),
            token_hash BLOB NOT NULL UNIQUE,
            revoked INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE checkins (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            ticket_id TEXT,
            gate_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            result TEXT NOT NULL,
            mode TEXT NOT NULL,
            scan_id TEXT,
            payload_hash BLOB NOT NULL
        );
        CREATE UNIQUE INDEX checkins_scan ON checkins (device_id, scan_id) WHERE scan_id IS NOT NULL;
        CREATE INDEX checkins_event ON checkins (event_id, id);
        CREATE INDEX tickets_event_status ON tickets (event_id, status);
        """,
        // 2: one-time pairing codes for enrolling kiosks.
        """
        CREATE TABLE pairings (
            code_hash BLOB PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES events(id),
            gate_id TEXT NOT NULL,
            name TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at INTEGER,
            device_id TEXT
        );
        """,
        // 3: when a pairing code was made, to bound the wrong guesses it is exposed to.
        """
        ALTER TABLE pairings ADD COLUMN created_at INTEGER;
        """,
        // 4: offline gates. Every change of a ticket sets its change_seq to one more than its
        // event's highest (SQLiteStore.nextChange): one writer at a time holds the file's write
        // lock, so numbers grow in commit order and a gate syncing from its last number misses
        // none. The log marks admissions decided offline, and those that collided.
        """
        ALTER TABLE tickets ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
        UPDATE tickets SET change_seq = rowid;
        CREATE INDEX tickets_changes ON tickets (event_id, change_seq);
        ALTER TABLE checkins ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE checkins ADD COLUMN clock TEXT;
        ALTER TABLE checkins ADD COLUMN conflict TEXT;
        ALTER TABLE checkins ADD COLUMN conflict_with INTEGER;
        CREATE INDEX checkins_conflicts ON checkins (event_id, id) WHERE conflict IS NOT NULL;
        """,
        // 5: signing keys for events with signed codes.
        """
        CREATE TABLE signing_keys (
            event_id TEXT NOT NULL REFERENCES events(id),
            key_id INTEGER NOT NULL CHECK (key_id BETWEEN 1 AND 255),
            public_key BLOB NOT NULL,
            private_key BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (event_id, key_id)
        );
        """,
        // 6: device kinds (a phone's scanner page neither syncs nor uploads), and the codes
        // tickets had before a re-issue, so an offline admission of an old code is still known as
        // its ticket's while a made-up one costs no write at all.
        """
        ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'kiosk' CHECK (kind IN ('kiosk', 'scanner'));
        CREATE TABLE retired_tokens (
            token_hash BLOB PRIMARY KEY,
            ticket_id TEXT NOT NULL REFERENCES tickets(id),
            retired_at INTEGER NOT NULL
        );
        """,
        // 7: what a ticket search looks in, folded by Swift (SQLite's LIKE folds ASCII only, so
        // ZOË did not find Zoë); filled by `fillSearchKeys` for tickets made before.
        """
        ALTER TABLE tickets ADD COLUMN search_key TEXT;
        """,
        // 8: registration on a public page, and the outbox that mails tickets. An event counts
        // its registrations (`registered`) so the capacity check reads one row; `registrations`
        // keeps the address key each was made for (the one-per-e-mail rule); `mail_outbox` holds
        // each pending mail's code sealed with a key that is never stored here, erased once sent.
        """
        ALTER TABLE events ADD COLUMN place TEXT;
        ALTER TABLE events ADD COLUMN reg_open INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE events ADD COLUMN reg_capacity INTEGER;
        ALTER TABLE events ADD COLUMN reg_closes_at INTEGER;
        ALTER TABLE events ADD COLUMN reg_ticket_type TEXT;
        ALTER TABLE events ADD COLUMN reg_one_per_email INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE events ADD COLUMN registered INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE registrations (
            ticket_id TEXT PRIMARY KEY REFERENCES tickets(id),
            event_id TEXT NOT NULL REFERENCES events(id),
            address_key TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX registrations_address ON registrations (event_id, address_key);
        CREATE TABLE mail_outbox (
            id TEXT PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES events(id),
            ticket_id TEXT NOT NULL REFERENCES tickets(id),
            recipient TEXT NOT NULL,
            sealed_code BLOB,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'superseded')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,
            lease_until INTEGER,
            last_error TEXT,
            created_at INTEGER NOT NULL,
            sent_at INTEGER
        );
        CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
        CREATE INDEX mail_outbox_event ON mail_outbox (event_id, created_at);
        CREATE INDEX mail_outbox_ticket ON mail_outbox (ticket_id);
        """,
        // 9: presence. An entry puts a ticket inside, an exit scan takes it out. No index of its
        // own (it would cost every admission a write): a count reads the event's used tickets.
        """
        ALTER TABLE tickets ADD COLUMN inside INTEGER NOT NULL DEFAULT 0;
        """,
        // 10: check-in lists. A list's gates (one list per gate of an event, by the key), each
        // ticket's pass of a list (its first entry there, whether it is inside), and the list's
        // count of people inside, changed in the transaction that changes a pass.
        """
        CREATE TABLE checkin_lists (
            id TEXT PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES events(id),
            name TEXT NOT NULL,
            ticket_types TEXT,
            entry TEXT NOT NULL CHECK (entry IN ('once', 'reentry', 'unlimited', 'daily')),
            capacity INTEGER,
            opens_at INTEGER,
            closes_at INTEGER,
            inside INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX checkin_lists_event ON checkin_lists (event_id, created_at);
        CREATE TABLE list_gates (
            event_id TEXT NOT NULL,
            gate_id TEXT NOT NULL,
            list_id TEXT NOT NULL REFERENCES checkin_lists(id),
            PRIMARY KEY (event_id, gate_id)
        );
        CREATE INDEX list_gates_list ON list_gates (list_id);
        CREATE TABLE list_passes (
            list_id TEXT NOT NULL REFERENCES checkin_lists(id),
            ticket_id TEXT NOT NULL REFERENCES tickets(id),
            used_at INTEGER NOT NULL,
            used_gate TEXT NOT NULL,
            inside INTEGER NOT NULL DEFAULT 0,
            last_entry_day INTEGER,
            PRIMARY KEY (list_id, ticket_id)
        );
        CREATE INDEX list_passes_inside ON list_passes (ticket_id) WHERE inside = 1;
        """,
        // 11: what a check-in changed (`ScanUndo`, JSON), kept in its log row for an annul.
        "ALTER TABLE checkins ADD COLUMN undo_state TEXT;",
        // 12: when a list counts everyone out (`exit_all_at`); none has one until it is set.
        "ALTER TABLE checkin_lists ADD COLUMN exit_all_at INTEGER;",
        // 13: lane modes: the organizer's request per kiosk, and what the lane reported.
        """
        CREATE TABLE lane_modes (
            device_id TEXT PRIMARY KEY REFERENCES devices(id),
            requested TEXT,
            requested_at INTEGER,
            reported TEXT,
            source TEXT,
            reported_at INTEGER
        );
        """,
        // 14: the fire alarm as the lane reports it (why it holds the lane open; NULL: calm).
        "ALTER TABLE lane_modes ADD COLUMN alarm TEXT;",
        // 15: ticket types staff look at before their holder goes in, one per line (NULL: none).
        "ALTER TABLE checkin_lists ADD COLUMN attention_types TEXT;",
        // 16: each device's latest heartbeat and its last events (one row a device).
        """
        CREATE TABLE device_heartbeats (
            device_id TEXT PRIMARY KEY REFERENCES devices(id),
            at INTEGER NOT NULL,
            body TEXT NOT NULL,
            events TEXT NOT NULL
        );
        """,
        // 17: the event stream's order. Every row logged, and every row marked an offline
        // admission or conflict later, takes one more than its event's highest `stream_seq`
        // (a marked row's own old place counts: the statement that marks it zeroes it for MySQL):
        // one writer at a time, so that is commit order, and a reader resuming after a place
        // misses nothing. Triggers, so that no statement that logs can forget it.
        """
        ALTER TABLE checkins ADD COLUMN stream_seq INTEGER NOT NULL DEFAULT 0;
        UPDATE checkins SET stream_seq = id;
        CREATE INDEX checkins_stream ON checkins (event_id, stream_seq);
        CREATE TRIGGER checkins_stream_logged AFTER INSERT ON checkins BEGIN
            UPDATE checkins SET stream_seq = (SELECT max(c.stream_seq) + 1 FROM checkins c WHERE c.event_id = NEW.event_id)
            WHERE id = NEW.id;
        END;
        CREATE TRIGGER checkins_stream_marked AFTER UPDATE OF offline, conflict ON checkins BEGIN
            UPDATE checkins SET stream_seq = max(OLD.stream_seq, (SELECT max(c.stream_seq) FROM checkins c WHERE c.event_id = NEW.event_id)) + 1
            WHERE id = NEW.id;
        END;
        """,
        // 18: webhooks, each with its place in its event's stream (see `Webhook`).
        """
        CREATE TABLE webhooks (
            id TEXT PRIMARY KEY,
            event_id TEXT NOT NULL REFERENCES events(id),
            url TEXT NOT NULL,
            secret TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            delivered_at INTEGER,
            failures INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            last_error TEXT,
            lease_until INTEGER,
            cursor_xact INTEGER NOT NULL,
            cursor_seq INTEGER NOT NULL,
            device_states TEXT NOT NULL
        );
        CREATE INDEX webhooks_event ON webhooks (event_id);
        """,
        // 19: organizer accounts, their sessions, personal API tokens, the browsers each signed
        // in from, and the audit trail (see `AccountStatements`).
        """
        CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            event_ids TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            disabled_at INTEGER,
            password_hash TEXT,
            password_changed_at INTEGER,
            link_hash BLOB,
            link_expires_at INTEGER
        );
        CREATE INDEX accounts_link ON accounts (link_hash);
        CREATE TABLE sessions (
            id_hash BLOB PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id),
            created_at INTEGER NOT NULL,
            seen_at INTEGER NOT NULL,
            address TEXT
        );
        CREATE INDEX sessions_account ON sessions (account_id);
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts(id),
            token_hash BLOB NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            used_at INTEGER,
            revoked_at INTEGER
        );
        CREATE TABLE known_browsers (
            account_id TEXT NOT NULL REFERENCES accounts(id),
            mark_hash BLOB NOT NULL,
            seen_at INTEGER NOT NULL,
            PRIMARY KEY (account_id, mark_hash)
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            account_id TEXT,
            actor TEXT NOT NULL,
            address TEXT,
            action TEXT NOT NULL,
            event_id TEXT,
            subject TEXT,
            detail TEXT
        );
        CREATE INDEX audit_event ON audit_log (event_id, id);
        CREATE INDEX audit_account ON audit_log (action, account_id, at);
        CREATE INDEX audit_address ON audit_log (action, address, at);
        """,
    ]

    static var currentVersion: Int { migrations.count }

    static func migrate(_ connection: SQLiteConnection) throws {
        let found = try connection.userVersion
        guard found <= currentVersion else {
            throw StoreError.unavailable(
                "the database has schema version \(found), newer than this gatehouse knows (\(currentVersion)); run a newer gatehouse"
            )
        }
        for version in found..<currentVersion {
            try connection.transaction {
                try connection.execute(migrations[version])
                try connection.execute("PRAGMA user_version = \(version + 1)")
            }
        }
        try fillSearchKeys(connection)
    }

    /// Tickets without a search key (made before schema 7) get theirs, a thousand per transaction.
    static func fillSearchKeys(_ connection: SQLiteConnection) throws {
        while true {
            let rows = try connection.rows("SELECT id, holder_name, email FROM tickets WHERE search_key IS NULL LIMIT 1000") {
                (id: $0.text(0), name: $0.optionalText(1), email: $0.optionalText(2))
            }
            if rows.isEmpty { return }
            try connection.transaction {
                for row in rows {
                    try connection.run(
                        "UPDATE tickets SET search_key = ? WHERE id = ?",
                        [.text(Ticket.searchKey(holderName: row.name, email: row.email)), .text(row.id)]
                    )
                }
            }
        }
    }
}
