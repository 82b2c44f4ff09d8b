/// Versioned PostgreSQL schema, applied at start under an advisory lock so that several service
/// processes starting at once migrate exactly once. Times are milliseconds since 1970 (BIGINT),
/// as in the SQLite and MySQL stores, so every store answers to the millisecond alike.
enum PostgresSchema {
    /// Any 64-bit number unique to us: the key of the advisory lock that serializes migrations.
    static let migrationLock: Int64 = 0x6761_7465_686f_7573  // "gatehous"
    /// The advisory lock a ticket-changing transaction held until it committed (schemas 6 to 9).
    static let changesLock: Int64 = 0x6761_7465_6368_6e67  // "gatechng"

    /// Each migration is a list of statements, run in order in one transaction (the extended
    /// query protocol takes one statement at a time).
    static let migrations: [[String]] = [
        // 1: tables, and the check-in decision as one function (one round trip per scan).
        [
            """
            CREATE TABLE events (
                        id TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        starts_at BIGINT,
                        ends_at BIGINT,
                        created_at BIGINT NOT NULL,
                        next_number BIGINT NOT NULL DEFAULT 1
                    );
            """,
            """
            CREATE TABLE tickets (
                        id TEXT PRIMARY KEY,
                        event_id TEXT NOT NULL REFERENCES events(id),
                        number BIGINT NOT NULL,
                        user_id TEXT,
                        holder_name TEXT,
                        email TEXT,
                        ticket_type TEXT,
                        status TEXT NOT NULL CHECK (status IN ('unused', 'used', 'revoked')),
                        expires_at BIGINT,
                        token_hash BYTEA NOT NULL UNIQUE,
                        created_at BIGINT NOT NULL,
                        used_at BIGINT,
                        used_gate TEXT,
                        used_device TEXT,
                        UNIQUE (event_id, number)
                    );
            """,
            """
            CREATE INDEX tickets_event_status ON tickets (event_id, status);
            """,
            """
            CREATE TABLE devices (
                        id TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        gate_id TEXT NOT NULL,
                        event_id TEXT NOT NULL REFERENCES events(id),
                        token_hash BYTEA NOT NULL UNIQUE,
                        revoked BOOLEAN NOT NULL DEFAULT false,
                        created_at BIGINT NOT NULL
                    );
            """,
            """
            CREATE TABLE checkins (
                        id BIGSERIAL PRIMARY KEY,
                        at BIGINT NOT NULL,
                        event_id TEXT NOT NULL,
                        ticket_id TEXT,
                        gate_id TEXT NOT NULL,
                        device_id TEXT NOT NULL,
                        result TEXT NOT NULL,
                        mode TEXT NOT NULL,
                        scan_id TEXT,
                        payload_hash BYTEA NOT NULL
                    );
            """,
            """
            CREATE UNIQUE INDEX checkins_scan ON checkins (device_id, scan_id) WHERE scan_id IS NOT NULL;
            """,
            """
            CREATE INDEX checkins_event ON checkins (event_id, id);
            """,
            """
            -- One scan: authenticate, replay a retried scanId, or decide with one conditional UPDATE,
                    -- and log the attempt. Mirrors SQLiteStore.decide exactly (the conformance suite checks).
                    CREATE FUNCTION gatehouse_checkin(
                        p_device_id TEXT, p_device_token BYTEA, p_gate TEXT, p_scan TEXT, p_mode TEXT, p_payload BYTEA,
                        p_code_event TEXT, p_code_token BYTEA, p_now BIGINT)
                    RETURNS TABLE (outcome TEXT, result TEXT, ticket_id TEXT, number BIGINT, holder_name TEXT, ticket_type TEXT,
                                   used_at BIGINT, used_gate TEXT, replayed BOOLEAN, registered_gate TEXT)
                    LANGUAGE plpgsql AS $fn$
                    DECLARE
                        d devices%ROWTYPE;
                        t tickets%ROWTYPE;
                        have_ticket BOOLEAN := false;
                        earlier RECORD;
                        v_result TEXT;
                    BEGIN
                        SELECT * INTO d FROM devices WHERE token_hash = p_device_token;
                        IF NOT FOUND OR d.revoked OR d.id <> p_device_id THEN
                            RETURN QUERY SELECT 'unauthorized'::TEXT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, false, NULL::TEXT;
                            RETURN;
                        END IF;
                        IF d.gate_id <> p_gate THEN
                            RETURN QUERY SELECT 'wrong_gate'::TEXT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, false, d.gate_id;
                            RETURN;
                        END IF;
                        IF p_mode = 'commit' AND p_scan IS NOT NULL THEN
                            SELECT c.result, c.ticket_id, c.payload_hash INTO earlier FROM checkins c WHERE c.device_id = d.id AND c.scan_id = p_scan;
                            IF FOUND THEN
                                IF earlier.payload_hash <> p_payload THEN
                                    RETURN QUERY SELECT 'scan_reused'::TEXT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, false, NULL::TEXT;
                                    RETURN;
                                END IF;
                                RETURN QUERY SELECT 'decided'::TEXT, earlier.result, k.id, k.number, k.holder_name, k.ticket_type, k.used_at, k.used_gate, true, NULL::TEXT
                                    FROM (SELECT 1) AS one LEFT JOIN tickets k ON k.id = earlier.ticket_id;
                                RETURN;
                            END IF;
                        END IF;

                        IF p_code_token IS NULL THEN
                            v_result := 'invalid';
                        ELSE
                            IF p_mode = 'commit' AND p_code_event = d.event_id THEN
                                UPDATE tickets SET status = 'used', used_at = p_now, used_gate = p_gate, used_device = d.id
                                WHERE token_hash = p_code_token AND event_id = d.event_id AND status = 'unused'
                                  AND (expires_at IS NULL OR expires_at > p_now)
                                RETURNING * INTO t;
                                IF FOUND THEN
                                    v_result := 'valid';
                                    have_ticket := true;
                                END IF;
                            END IF;
                            IF v_result IS NULL THEN
                                SELECT * INTO t FROM tickets WHERE token_hash = p_code_token;
                                IF NOT FOUND OR t.event_id <> p_code_event THEN
                                    v_result := 'not_found';
                                ELSE
                                    have_ticket := true;
                                    IF t.event_id <> d.event_id THEN v_result := 'wrong_event';
                                    ELSIF t.status = 'revoked' THEN v_result := 'revoked';
                                    ELSIF t.status = 'used' THEN v_result := 'already_used';
                                    ELSIF t.expires_at IS NOT NULL AND t.expires_at <= p_now THEN v_result := 'expired';
                                    ELSE v_result := 'valid';  -- validate mode: would be admitted
                                    END IF;
                                END IF;
                            END IF;
                        END IF;

                        BEGIN
                            INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash)
                            VALUES (p_now, d.event_id, CASE WHEN have_ticket THEN t.id END, p_gate, d.id, v_result, p_mode,
                                    CASE WHEN p_mode = 'commit' THEN p_scan END, p_payload);
                        EXCEPTION WHEN unique_violation THEN
                            -- Another process decided this (device, scanId) first and has committed: answer as it did.
                            SELECT c.result, c.ticket_id INTO earlier FROM checkins c WHERE c.device_id = d.id AND c.scan_id = p_scan;
                            RETURN QUERY SELECT 'decided'::TEXT, earlier.result, k.id, k.number, k.holder_name, k.ticket_type, k.used_at, k.used_gate, true, NULL::TEXT
                                FROM (SELECT 1) AS one LEFT JOIN tickets k ON k.id = earlier.ticket_id;
                            RETURN;
                        END;

                        IF have_ticket THEN
                            RETURN QUERY SELECT 'decided'::TEXT, v_result, t.id, t.number, t.holder_name, t.ticket_type, t.used_at, t.used_gate, false, NULL::TEXT;
                        ELSE
                            RETURN QUERY SELECT 'decided'::TEXT, v_result, NULL::TEXT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::TEXT, false, NULL::TEXT;
                        END IF;
                    END
                    $fn$;
            """,
            """
            -- Many scans in one transaction and one round trip (group commit). Tickets are locked in
                    -- token order, so two batches from two processes never wait on each other in a cycle.
                    CREATE FUNCTION gatehouse_checkin_batch(items JSONB)
                    RETURNS TABLE (idx INT, outcome TEXT, result TEXT, ticket_id TEXT, number BIGINT, holder_name TEXT, ticket_type TEXT,
                                   used_at BIGINT, used_gate TEXT, replayed BOOLEAN, registered_gate TEXT)
                    LANGUAGE plpgsql AS $fn$
                    DECLARE
                        position INT;
                        item JSONB;
                    BEGIN
                        FOR position, item IN
                            SELECT (e.ordinality - 1)::INT, e.value FROM jsonb_array_elements(items) WITH ORDINALITY AS e
                            ORDER BY e.value->>'code_token' NULLS FIRST, e.ordinality
                        LOOP
                            RETURN QUERY SELECT position, r.* FROM gatehouse_checkin(
                                item->>'device_id', decode(item->>'device_token', 'hex'), item->>'gate_id', item->>'scan_id', item->>'mode',
                                decode(item->>'payload', 'hex'), item->>'code_event', decode(item->>'code_token', 'hex'), (item->>'now')::BIGINT) AS r;
                        END LOOP;
                    END
                    $fn$;
            """,
        ],
        // 2: one-time pairing codes for enrolling kiosks.
        [
            """
            CREATE TABLE pairings (
                code_hash BYTEA PRIMARY KEY,
                event_id TEXT NOT NULL REFERENCES events(id),
                gate_id TEXT NOT NULL,
                name TEXT NOT NULL,
                expires_at BIGINT NOT NULL,
                used_at BIGINT,
                device_id TEXT
            )
            """
        ],
        // 3: the batch decision with typed arrays instead of JSON, no subtransaction per scan
        // (ON CONFLICT instead of an exception block), one device lookup per batch, and a prepared
        // statement: the same decisions as gatehouse_checkin, at about 20% less database time per
        // scan. The functions of version 1 stay for processes of the previous version during a
        // rolling upgrade.
        [
            """
            CREATE FUNCTION gatehouse_checkin_many(
                p_device_ids TEXT[], p_device_tokens BYTEA[], p_gates TEXT[], p_scans TEXT[], p_modes TEXT[], p_payloads BYTEA[],
                p_code_events TEXT[], p_code_tokens BYTEA[], p_nows BIGINT[],
                OUT idx INT, OUT outcome TEXT, OUT result TEXT, OUT ticket_id TEXT, OUT number BIGINT, OUT holder_name TEXT,
                OUT ticket_type TEXT, OUT used_at BIGINT, OUT used_gate TEXT, OUT replayed BOOLEAN, OUT registered_gate TEXT)
            RETURNS SETOF RECORD
            LANGUAGE plpgsql AS $fn$
            DECLARE
                i INT;
                d devices%ROWTYPE;
                d_token BYTEA;
                t tickets%ROWTYPE;
                have_ticket BOOLEAN;
                earlier RECORD;
                v_result TEXT;
                v_scan TEXT;
                v_mode TEXT;
                v_gate TEXT;
                v_event TEXT;
                v_token BYTEA;
                v_now BIGINT;
                logged BIGINT;
            BEGIN
                -- Tickets are locked in token order, so two batches never wait on each other in a cycle.
                FOR i IN SELECT u.i FROM unnest(p_code_tokens) WITH ORDINALITY AS u(token, i) ORDER BY u.token, u.i LOOP
                    idx := i - 1;
                    outcome := 'decided'; result := NULL; ticket_id := NULL; number := NULL; holder_name := NULL;
                    ticket_type := NULL; used_at := NULL; used_gate := NULL; replayed := false; registered_gate := NULL;
                    v_scan := NULLIF(p_scans[i], ''); v_mode := p_modes[i]; v_gate := p_gates[i]; v_now := p_nows[i];
                    v_event := NULLIF(p_code_events[i], ''); v_token := NULLIF(p_code_tokens[i], ''::BYTEA);

                    -- A batch holds few devices: look each one up once.
                    IF d_token IS DISTINCT FROM p_device_tokens[i] THEN
                        d_token := p_device_tokens[i];
                        SELECT * INTO d FROM devices WHERE token_hash = d_token;
                        IF NOT FOUND THEN d := NULL; END IF;
                    END IF;
                    IF d.id IS NULL OR d.revoked OR d.id <> p_device_ids[i] THEN
                        outcome := 'unauthorized'; RETURN NEXT; CONTINUE;
                    END IF;
                    IF d.gate_id <> v_gate THEN
                        outcome := 'wrong_gate'; registered_gate := d.gate_id; RETURN NEXT; CONTINUE;
                    END IF;

                    -- A retried scanId gets its first answer.
                    IF v_mode = 'commit' AND v_scan IS NOT NULL THEN
                        SELECT c.result, c.ticket_id, c.payload_hash INTO earlier FROM checkins c WHERE c.device_id = d.id AND c.scan_id = v_scan;
                        IF FOUND THEN
                            IF earlier.payload_hash <> p_payloads[i] THEN
                                outcome := 'scan_reused'; RETURN NEXT; CONTINUE;
                            END IF;
                            result := earlier.result; replayed := true;
                            SELECT k.id, k.number, k.holder_name, k.ticket_type, k.used_at, k.used_gate
                              INTO ticket_id, number, holder_name, ticket_type, used_at, used_gate FROM tickets k WHERE k.id = earlier.ticket_id;
                            RETURN NEXT; CONTINUE;
                        END IF;
                    END IF;

                    -- The decision: one conditional UPDATE; the reason is read only when it changed nothing.
                    have_ticket := false; v_result := NULL;
                    IF v_token IS NULL THEN
                        v_result := 'invalid';
                    ELSE
                        IF v_mode = 'commit' AND v_event = d.event_id THEN
                            UPDATE tickets SET status = 'used', used_at = v_now, used_gate = v_gate, used_device = d.id
                            WHERE token_hash = v_token AND event_id = d.event_id AND status = 'unused'
                              AND (expires_at IS NULL OR expires_at > v_now)
                            RETURNING * INTO t;
                            IF FOUND THEN v_result := 'valid'; have_ticket := true; END IF;
                        END IF;
                        IF v_result IS NULL THEN
                            SELECT * INTO t FROM tickets WHERE token_hash = v_token;
                            IF NOT FOUND OR t.event_id <> v_event THEN
                                v_result := 'not_found';
                            ELSE
                                have_ticket := true;
                                IF t.event_id <> d.event_id THEN v_result := 'wrong_event';
                                ELSIF t.status = 'revoked' THEN v_result := 'revoked';
                                ELSIF t.status = 'used' THEN v_result := 'already_used';
                                ELSIF t.expires_at IS NOT NULL AND t.expires_at <= v_now THEN v_result := 'expired';
                                ELSE v_result := 'valid';  -- validate mode: would be admitted
                                END IF;
                            END IF;
                        END IF;
                    END IF;

                    -- The log row, without a subtransaction per scan. A (device, scanId) that another
                    -- transaction logged after our replay check (ON CONFLICT waits for it to commit)
                    -- fails the whole batch with a serialization failure: the service runs the batch
                    -- again, and the replay check then answers that scan as its first decision did.
                    -- Answering it here instead would keep this batch's UPDATE of a possibly other
                    -- ticket (a scanner reusing scanIds) without its log row.
                    INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash)
                    VALUES (v_now, d.event_id, CASE WHEN have_ticket THEN t.id END, v_gate, d.id, v_result, v_mode,
                            CASE WHEN v_mode = 'commit' THEN v_scan END, p_payloads[i])
                    ON CONFLICT (device_id, scan_id) WHERE scan_id IS NOT NULL DO NOTHING
                    RETURNING id INTO logged;
                    IF logged IS NULL THEN
                        RAISE EXCEPTION 'scanId % was decided concurrently', v_scan USING ERRCODE = 'serialization_failure';
                    END IF;

                    result := v_result;
                    IF have_ticket THEN
                        ticket_id := t.id; number := t.number; holder_name := t.holder_name; ticket_type := t.ticket_type;
                        used_at := t.used_at; used_gate := t.used_gate;
                    END IF;
                    RETURN NEXT;
                END LOOP;
            END
            $fn$
            """
        ],
        // 4: when a pairing code was made, to bound the wrong guesses it is exposed to.
        [
            "ALTER TABLE pairings ADD COLUMN created_at BIGINT"
        ],
        // 5: the check-in functions of schemas 1 and 2, called by no process since schema 3 (the
        // service before this one already called gatehouse_checkin_many).
        [
            "DROP FUNCTION IF EXISTS gatehouse_checkin(TEXT, BYTEA, TEXT, TEXT, TEXT, BYTEA, TEXT, BYTEA, BIGINT)",
            "DROP FUNCTION IF EXISTS gatehouse_checkin_batch(JSONB)",
        ],
        // 6: offline gates. Every change of a ticket takes the next value of one sequence, while
        // its transaction holds a transaction-level advisory lock that a statement trigger takes
        // before any ticket row is touched: ticket-changing transactions commit one after another,
        // so the numbers become visible in commit order and a gate syncing from its last number
        // misses none. (A counter row updated per ticket made long version chains: issuing
        // 10,000 tickets in one transaction took minutes.)
        [
            "CREATE SEQUENCE gatehouse_change_seq",
            "ALTER TABLE tickets ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0",
            "UPDATE tickets SET change_seq = nextval('gatehouse_change_seq')",
            "CREATE INDEX tickets_changes ON tickets (event_id, change_seq)",
            """
            CREATE FUNCTION gatehouse_lock_changes() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                PERFORM pg_advisory_xact_lock(\(changesLock));
                RETURN NULL;
            END
            $fn$
            """,
            """
            CREATE FUNCTION gatehouse_number_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                NEW.change_seq := nextval('gatehouse_change_seq');
                RETURN NEW;
            END
            $fn$
            """,
            "CREATE TRIGGER tickets_lock_changes BEFORE INSERT OR UPDATE ON tickets FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_lock_changes()",
            """
            CREATE TRIGGER tickets_number_change BEFORE INSERT OR UPDATE OF status, token_hash, expires_at, used_at, used_gate ON tickets
            FOR EACH ROW EXECUTE FUNCTION gatehouse_number_change()
            """,
            "ALTER TABLE checkins ADD COLUMN offline BOOLEAN NOT NULL DEFAULT false",
            "ALTER TABLE checkins ADD COLUMN clock TEXT",
            "ALTER TABLE checkins ADD COLUMN conflict TEXT",
            "ALTER TABLE checkins ADD COLUMN conflict_with BIGINT",
            "CREATE INDEX checkins_conflicts ON checkins (event_id, id) WHERE conflict IS NOT NULL",
        ],
        // 7: signing keys for events with signed codes.
        [
            """
            CREATE TABLE signing_keys (
                event_id TEXT NOT NULL REFERENCES events(id),
                key_id INT NOT NULL CHECK (key_id BETWEEN 1 AND 255),
                public_key BYTEA NOT NULL,
                private_key BYTEA NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (event_id, key_id)
            )
            """
        ],
        // 8: device kinds (a phone's scanner page neither syncs nor uploads), and the codes
        // tickets had before a re-issue, so an offline admission of an old code is still known as
        // its ticket's while a made-up one costs no write at all.
        [
            "ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'kiosk' CHECK (kind IN ('kiosk', 'scanner'))",
            """
            CREATE TABLE retired_tokens (
                token_hash BYTEA PRIMARY KEY,
                ticket_id TEXT NOT NULL REFERENCES tickets(id),
                retired_at BIGINT NOT NULL
            )
            """,
        ],
        // 9: what a ticket search looks in, folded by Swift (ILIKE under the C locale folds ASCII
        // only, so ZOË did not find Zoë); filled by the migration for tickets made before.
        [
            "ALTER TABLE tickets ADD COLUMN search_key TEXT"
        ],
        // 10: the change feed without a lock. Schema 6 made every ticket-changing transaction of
        // the database (all events, all processes) wait for the one before it to commit. Now each
        // change is stamped with its transaction's id (`change_xact`) as well as a number, and a
        // pull hands out only changes of transactions older than the oldest one still running
        // (the watermark, `pg_snapshot_xmin`): those have all committed or rolled back, and every
        // later change gets a larger id, so a gate reading in (transaction, number) order from
        // its cursor misses none. A long transaction delays the feed (until it ends) instead of
        // every commit. Rows changed before this schema are transaction 0 and keep their order,
        // so a gate's cursor from before stays good.
        [
            "ALTER TABLE tickets ADD COLUMN change_xact BIGINT NOT NULL DEFAULT 0",
            "DROP TRIGGER tickets_lock_changes ON tickets",
            "DROP FUNCTION gatehouse_lock_changes()",
            """
            CREATE OR REPLACE FUNCTION gatehouse_number_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                NEW.change_xact := pg_current_xact_id()::text::bigint;
                NEW.change_seq := nextval('gatehouse_change_seq');
                RETURN NEW;
            END
            $fn$
            """,
            "DROP INDEX tickets_changes",
            "CREATE INDEX tickets_changes ON tickets (event_id, change_xact, change_seq)",
        ],
        // 11: registration on a public page and the outbox that mails tickets (as SQLite's 8).
        [
            """
            ALTER TABLE events ADD COLUMN place TEXT, ADD COLUMN reg_open BOOLEAN NOT NULL DEFAULT false,
                ADD COLUMN reg_capacity BIGINT, ADD COLUMN reg_closes_at BIGINT, ADD COLUMN reg_ticket_type TEXT,
                ADD COLUMN reg_one_per_email BOOLEAN NOT NULL DEFAULT true, ADD COLUMN registered BIGINT NOT NULL DEFAULT 0
            """,
            """
            CREATE TABLE registrations (
                ticket_id TEXT PRIMARY KEY REFERENCES tickets(id),
                event_id TEXT NOT NULL REFERENCES events(id),
                address_key TEXT NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX registrations_address ON registrations (event_id, address_key)",
            """
            CREATE TABLE mail_outbox (
                id TEXT PRIMARY KEY,
                event_id TEXT NOT NULL REFERENCES events(id),
                ticket_id TEXT NOT NULL REFERENCES tickets(id),
                recipient TEXT NOT NULL,
                sealed_code BYTEA,
                state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'superseded')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at BIGINT NOT NULL,
                lease_until BIGINT,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                sent_at BIGINT
            )
            """,
            "CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at)",
            "CREATE INDEX mail_outbox_event ON mail_outbox (event_id, created_at)",
            "CREATE INDEX mail_outbox_ticket ON mail_outbox (ticket_id)",
        ],
        // 12: presence (an entry puts a ticket inside, an exit scan takes it out), and the decision
        // leaves the database. Swift decides every scan with `GateDecision`, as
        // the other stores and the offline gates do, on tickets a batch reads first; this function
        // then stores a batch's decisions in one call: each ticket only if it is still as read (a
        // compare-and-set; one that changed meanwhile comes back `stored = false` and is read and
        // decided again, as are the batch's later scans of it, which were decided on what this one
        // would have left), and each scan's log row. Rows come in the order of their tickets'
        // tokens, so two batches never wait on each other in a cycle. Empty strings and -1 stand
        // for NULL (the arrays hold no optionals).
        [
            "ALTER TABLE tickets ADD COLUMN inside BOOLEAN NOT NULL DEFAULT false",
            "DROP FUNCTION gatehouse_checkin_many(TEXT[], BYTEA[], TEXT[], TEXT[], TEXT[], BYTEA[], TEXT[], BYTEA[], BIGINT[])",
            storeCheckinsFunction(undo: false),
        ],
        // 13: check-in lists (as SQLite's 10; integers where SQLite has them, so the three stores
        // share the lists' SQL).
        [
            """
            CREATE TABLE checkin_lists (
                id TEXT PRIMARY KEY,
                event_id TEXT NOT NULL REFERENCES events(id),
                name TEXT NOT NULL,
                ticket_types TEXT,
                entry TEXT NOT NULL CHECK (entry IN ('once', 'reentry', 'unlimited', 'daily')),
                capacity BIGINT,
                opens_at BIGINT,
                closes_at BIGINT,
                inside BIGINT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX checkin_lists_event ON checkin_lists (event_id, created_at)",
            """
            CREATE TABLE list_gates (
                event_id TEXT NOT NULL,
                gate_id TEXT NOT NULL,
                list_id TEXT NOT NULL REFERENCES checkin_lists(id),
                PRIMARY KEY (event_id, gate_id)
            )
            """,
            "CREATE INDEX list_gates_list ON list_gates (list_id)",
            """
            CREATE TABLE list_passes (
                list_id TEXT NOT NULL REFERENCES checkin_lists(id),
                ticket_id TEXT NOT NULL REFERENCES tickets(id),
                used_at BIGINT NOT NULL,
                used_gate TEXT NOT NULL,
                inside BIGINT NOT NULL DEFAULT 0,
                last_entry_day BIGINT,
                PRIMARY KEY (list_id, ticket_id)
            )
            """,
            "CREATE INDEX list_passes_inside ON list_passes (ticket_id) WHERE inside = 1",
        ],
        // 14: first entries in one round trip. The decision is made in Swift for a ticket as it
        // is before its first entry (unused, not inside, not expired, at a gate in no list);
        // gatehouse_admit_unused stores it only where that holds of the row, and the rest are
        // read and decided as they are (gatehouse_read_scans, then gatehouse_store_checkins).
        // Reading first had made every scan two round trips and cost 42% of the rate. The read
        // is single-row lookups by key, whose plans PL/pgSQL keeps: the one-query read (a join
        // over the arrays) was planned again on every call, at 0.6 ms.
        [
            "ALTER TABLE checkins ADD COLUMN undo_state TEXT",
            storeCheckinsFunction(undo: true),
            """
            CREATE FUNCTION gatehouse_read_scans(p_device_tokens BYTEA[], p_scans TEXT[], p_tokens BYTEA[])
            RETURNS TABLE(\(PostgresSchema.readColumns.map { "o_\($0.name) \($0.type)" }.joined(separator: ", ")))
            LANGUAGE plpgsql STABLE AS $fn$
            DECLARE
                i INT;
                d devices%ROWTYPE;
                d_token BYTEA;
                gate_list TEXT;
                c checkins%ROWTYPE;
                e tickets%ROWTYPE;
                t tickets%ROWTYPE;
            BEGIN
                FOR i IN 1 .. coalesce(array_length(p_tokens, 1), 0) LOOP
                    IF d_token IS DISTINCT FROM p_device_tokens[i] THEN
                        d_token := p_device_tokens[i];
                        d := NULL; gate_list := NULL;
                        SELECT * INTO d FROM devices WHERE token_hash = d_token;
                        IF FOUND THEN
                            SELECT list_id INTO gate_list FROM list_gates WHERE event_id = d.event_id AND gate_id = d.gate_id;
                        END IF;
                    END IF;
                    c := NULL; e := NULL; t := NULL;
                    IF d.id IS NOT NULL AND p_scans[i] <> '' THEN
                        SELECT * INTO c FROM checkins WHERE device_id = d.id AND scan_id = p_scans[i];
                        IF c.ticket_id IS NOT NULL THEN
                            SELECT * INTO e FROM tickets WHERE id = c.ticket_id;
                        END IF;
                    END IF;
                    IF p_tokens[i] <> ''::bytea THEN
                        SELECT * INTO t FROM tickets WHERE token_hash = p_tokens[i];
                    END IF;
                    o_i := i; o_device_id := d.id; o_device_gate := d.gate_id; o_device_event := d.event_id; o_device_revoked := d.revoked;
                    o_earlier_result := c.result; o_earlier_payload := c.payload_hash; o_earlier_ticket := e.id;
                    o_earlier_number := e.number; o_earlier_holder := e.holder_name; o_earlier_type := e.ticket_type;
                    o_earlier_used_at := e.used_at; o_earlier_used_gate := e.used_gate;
                    \(PostgresSchema.readColumns.filter { $0.name.hasPrefix("ticket_") }.map { "o_\($0.name) := t.\(PostgresSchema.ticketField($0.name));" }.joined(separator: " "))
                    o_list_id := gate_list;
                    RETURN NEXT;
                END LOOP;
            END
            $fn$
            """,
            """
            CREATE FUNCTION gatehouse_admit_unused(
                p_idx INT[], p_device_tokens BYTEA[], p_device_ids TEXT[], p_gates TEXT[], p_events TEXT[], p_tokens BYTEA[],
                p_ats BIGINT[], p_scans TEXT[], p_payloads BYTEA[],
                p_status TEXT[], p_used_at BIGINT[], p_used_gate TEXT[], p_used_device TEXT[], p_inside BOOLEAN[], p_results TEXT[], p_undos TEXT[],
                OUT idx INT, OUT ticket_id TEXT, OUT number BIGINT, OUT holder_name TEXT, OUT ticket_type TEXT)
            RETURNS SETOF RECORD
            LANGUAGE plpgsql AS $fn$
            DECLARE
                i INT;
                d devices%ROWTYPE;
                d_token BYTEA;
                d_open BOOLEAN := false;
                t tickets%ROWTYPE;
                logged BIGINT;
            BEGIN
                -- Tickets are locked in token order, so two batches never wait on each other in a cycle.
                FOR i IN SELECT u.i FROM unnest(p_tokens) WITH ORDINALITY AS u(token, i) ORDER BY u.token, u.i LOOP
                    idx := p_idx[i]; ticket_id := NULL; number := NULL; holder_name := NULL; ticket_type := NULL;
                    IF d_token IS DISTINCT FROM p_device_tokens[i] THEN
                        d_token := p_device_tokens[i];
                        d := NULL;
                        SELECT * INTO d FROM devices WHERE token_hash = d_token;
                        d_open := FOUND AND NOT EXISTS (SELECT 1 FROM list_gates WHERE event_id = d.event_id AND gate_id = d.gate_id);
                    END IF;
                    -- What the decision assumed: this device, on duty at this gate of the code's
                    -- event, a gate in no list, a scanId not seen before, and a ticket unused, not
                    -- inside and not expired at the scan's time.
                    IF d_open AND d.id = p_device_ids[i] AND NOT d.revoked AND d.gate_id = p_gates[i] AND d.event_id = p_events[i]
                       AND (p_scans[i] = '' OR NOT EXISTS (SELECT 1 FROM checkins WHERE device_id = d.id AND scan_id = p_scans[i])) THEN
                        UPDATE tickets SET status = p_status[i], used_at = p_used_at[i], used_gate = p_used_gate[i],
                            used_device = p_used_device[i], inside = p_inside[i]
                        WHERE token_hash = p_tokens[i] AND event_id = p_events[i] AND status = 'unused' AND NOT inside
                          AND (expires_at IS NULL OR expires_at > p_ats[i])
                        RETURNING * INTO t;
                        IF FOUND THEN
                            INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash, undo_state)
                            VALUES (p_ats[i], d.event_id, t.id, p_gates[i], d.id, p_results[i], 'commit', NULLIF(p_scans[i], ''), p_payloads[i], p_undos[i])
                            ON CONFLICT (device_id, scan_id) WHERE scan_id IS NOT NULL DO NOTHING
                            RETURNING id INTO logged;
                            IF logged IS NULL THEN
                                RAISE EXCEPTION 'scanId % was decided concurrently', p_scans[i] USING ERRCODE = 'serialization_failure';
                            END IF;
                            ticket_id := t.id; number := t.number; holder_name := t.holder_name; ticket_type := t.ticket_type;
                        END IF;
                    END IF;
                    RETURN NEXT;
                END LOOP;
            END
            $fn$
            """,
        ],
        // 15: when a list counts everyone out (as SQLite's 12).
        ["ALTER TABLE checkin_lists ADD COLUMN exit_all_at BIGINT"],
        // 16: lane modes (as SQLite's 13).
        [
            """
            CREATE TABLE lane_modes (
                device_id TEXT PRIMARY KEY REFERENCES devices(id),
                requested TEXT,
                requested_at BIGINT,
                reported TEXT,
                source TEXT,
                reported_at BIGINT
            )
            """
        ],
        // 17: the lane's fire alarm (as SQLite's 14).
        ["ALTER TABLE lane_modes ADD COLUMN alarm TEXT"],
        // 18: a list's attention types (as SQLite's 15).
        ["ALTER TABLE checkin_lists ADD COLUMN attention_types TEXT"],
        // 19: device heartbeats (as SQLite's 16).
        [
            """
            CREATE TABLE device_heartbeats (
                device_id TEXT PRIMARY KEY REFERENCES devices(id),
                at BIGINT NOT NULL,
                body TEXT NOT NULL,
                events TEXT NOT NULL
            )
            """
        ],
        // 20: the event stream's order, as the change feed's (schema 10): every row logged, and
        // every row marked an offline admission or conflict later, is stamped with its
        // transaction's id and a number; a reader takes rows of transactions older than the
        // oldest still running, in that order. Rows from before are transaction 0, by id.
        [
            "CREATE SEQUENCE gatehouse_stream_seq",
            "ALTER TABLE checkins ADD COLUMN stream_xact BIGINT NOT NULL DEFAULT 0, ADD COLUMN stream_seq BIGINT NOT NULL DEFAULT 0",
            "UPDATE checkins SET stream_seq = id",
            "SELECT setval('gatehouse_stream_seq', greatest(1, (SELECT coalesce(max(id), 0) FROM checkins)))",
            """
            CREATE FUNCTION gatehouse_number_logged() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                NEW.stream_xact := pg_current_xact_id()::text::bigint;
                NEW.stream_seq := nextval('gatehouse_stream_seq');
                RETURN NEW;
            END
            $fn$
            """,
            """
            CREATE TRIGGER checkins_stream BEFORE INSERT OR UPDATE OF offline, conflict ON checkins
            FOR EACH ROW EXECUTE FUNCTION gatehouse_number_logged()
            """,
            "CREATE INDEX checkins_stream ON checkins (event_id, stream_xact, stream_seq)",
        ],
        // 21: webhooks (as SQLite's 18).
        [
            """
            CREATE TABLE webhooks (
                id TEXT PRIMARY KEY,
                event_id TEXT NOT NULL REFERENCES events(id),
                url TEXT NOT NULL,
                secret TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                delivered_at BIGINT,
                failures BIGINT NOT NULL,
                next_attempt_at BIGINT NOT NULL,
                last_error TEXT,
                lease_until BIGINT,
                cursor_xact BIGINT NOT NULL,
                cursor_seq BIGINT NOT NULL,
                device_states TEXT NOT NULL
            )
            """,
            "CREATE INDEX webhooks_event ON webhooks (event_id)",
        ],
        // 22: accounts, sessions, API tokens, known browsers and the audit trail (as SQLite's 19).
        [
            """
            CREATE TABLE accounts (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL UNIQUE,
                role TEXT NOT NULL,
                event_ids TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                disabled_at BIGINT,
                password_hash TEXT,
                password_changed_at BIGINT,
                link_hash BYTEA,
                link_expires_at BIGINT
            )
            """,
            "CREATE INDEX accounts_link ON accounts (link_hash)",
            """
            CREATE TABLE sessions (
                id_hash BYTEA PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id),
                created_at BIGINT NOT NULL,
                seen_at BIGINT NOT NULL,
                address TEXT
            )
            """,
            "CREATE INDEX sessions_account ON sessions (account_id)",
            """
            CREATE TABLE api_tokens (
                id TEXT PRIMARY KEY,
                account_id TEXT NOT NULL REFERENCES accounts(id),
                token_hash BYTEA NOT NULL UNIQUE,
                name TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                used_at BIGINT,
                revoked_at BIGINT
            )
            """,
            """
            CREATE TABLE known_browsers (
                account_id TEXT NOT NULL REFERENCES accounts(id),
                mark_hash BYTEA NOT NULL,
                seen_at BIGINT NOT NULL,
                PRIMARY KEY (account_id, mark_hash)
            )
            """,
            """
            CREATE TABLE audit_log (
                id BIGSERIAL PRIMARY KEY,
                at BIGINT NOT NULL,
                account_id TEXT,
                actor TEXT NOT NULL,
                address TEXT,
                action TEXT NOT NULL,
                event_id TEXT,
                subject TEXT,
                detail TEXT
            )
            """,
            "CREATE INDEX audit_event ON audit_log (event_id, id)",
            "CREATE INDEX audit_account ON audit_log (action, account_id, at)",
            "CREATE INDEX audit_address ON audit_log (action, address, at)",
        ],
        // 23: first entries stored as a set (schema 14 stored them row by row): one locking read
        // in token order, one UPDATE and one INSERT for the whole batch, where PL/pgSQL had run
        // an UPDATE and an INSERT per scan, each starting an executor of its own. It takes about
        // 40% less of the database's time per batch (8 scans: 1.0 ms against 1.7 ms), and one
        // batch at a time is what bounds a process's check-ins. Only the admitted scans come
        // back. The function's settings keep every lookup an index probe: its plans are cached
        // and generic, a generic plan guesses a batch of 1,000 scans, and for that many, hashing
        // a small event's whole tickets table looks cheaper than probing it.
        [admitUnusedFunction(ticketLookup: firstEntryTicketBy23)],
        // 24: the first entries' ticket found by its token alone. Schema 23 also named the event
        // and "unused" in the locked lookup, and on a table PostgreSQL has not analyzed yet (a
        // new database, or an event issued since the last autovacuum) the (event, status) index
        // costs the same as the token's unique one, and the planner took it: every scan read all
        // of the event's unused tickets (124 check-ins/s against 4,436/s after ANALYZE, 60,000
        // tickets). With the token alone only its unique index fits; the rest is checked on
        // the locked row, as it is after a wait for another batch's update of it.
        [admitUnusedFunction(ticketLookup: firstEntryTicketBy24)],
    ]

    static var currentVersion: Int { migrations.count }

    /// `gatehouse_admit_unused` as schema 23 and 24 write it, which differ in how a scan's
    /// ticket is found and locked (`ticketLookup`, a LATERAL join giving `t.id`).
    static func admitUnusedFunction(ticketLookup: String) -> String {
        """
        CREATE OR REPLACE FUNCTION gatehouse_admit_unused(
            p_idx INT[], p_device_tokens BYTEA[], p_device_ids TEXT[], p_gates TEXT[], p_events TEXT[], p_tokens BYTEA[],
            p_ats BIGINT[], p_scans TEXT[], p_payloads BYTEA[],
            p_status TEXT[], p_used_at BIGINT[], p_used_gate TEXT[], p_used_device TEXT[], p_inside BOOLEAN[], p_results TEXT[], p_undos TEXT[],
            OUT idx INT, OUT ticket_id TEXT, OUT number BIGINT, OUT holder_name TEXT, OUT ticket_type TEXT)
        RETURNS SETOF RECORD
        LANGUAGE plpgsql
        SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
        AS $fn$
        BEGIN
            RETURN QUERY
            -- What the decision assumed, per scan: this device, on duty at this gate of the
            -- code's event, a gate in no list, a scanId not seen before, and a ticket unused,
            -- not inside and not expired at the scan's time. Tickets are locked in token
            -- order, so two batches never wait on each other in a cycle.
            WITH locked AS MATERIALIZED (
                SELECT s.i, d.id AS device_id, t.id AS ticket
                FROM (SELECT g.i FROM generate_subscripts(p_tokens, 1) AS g(i) ORDER BY p_tokens[g.i], g.i) s
                CROSS JOIN LATERAL (
                    SELECT dv.id FROM devices dv
                    WHERE dv.token_hash = p_device_tokens[s.i] AND dv.id = p_device_ids[s.i] AND NOT dv.revoked
                      AND dv.gate_id = p_gates[s.i] AND dv.event_id = p_events[s.i]
                      AND NOT EXISTS (SELECT 1 FROM list_gates lg WHERE lg.event_id = dv.event_id AND lg.gate_id = dv.gate_id)
                      AND (p_scans[s.i] = '' OR NOT EXISTS (SELECT 1 FROM checkins c WHERE c.device_id = dv.id AND c.scan_id = p_scans[s.i]))
                    LIMIT 1
                ) d
                \(ticketLookup)
            ), first_scans AS MATERIALIZED (
                -- A ticket scanned twice in one batch is admitted for its first scan; the
                -- other is decided in the rounds, as the ticket then is.
                SELECT DISTINCT ON (l.ticket) l.i, l.device_id, l.ticket FROM locked l ORDER BY l.ticket, l.i
            ), admitted AS (
                UPDATE tickets tk SET status = p_status[f.i], used_at = p_used_at[f.i], used_gate = p_used_gate[f.i],
                    used_device = p_used_device[f.i], inside = p_inside[f.i]
                FROM first_scans f WHERE tk.id = f.ticket
                RETURNING f.i, f.device_id, tk.id, tk.event_id, tk.number, tk.holder_name, tk.ticket_type
            ), logged AS (
                -- A (device, scanId) another transaction logged since the check above fails
                -- the call (unique violation): the service reads again and answers that scan
                -- as its first decision did.
                INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash, undo_state)
                SELECT p_ats[a.i], a.event_id, a.id, p_gates[a.i], a.device_id, p_results[a.i], 'commit',
                    NULLIF(p_scans[a.i], ''), p_payloads[a.i], p_undos[a.i]
                FROM admitted a
            )
            SELECT p_idx[a.i], a.id, a.number, a.holder_name, a.ticket_type FROM admitted a;
        END
        $fn$
        """
    }

    /// Schema 23's lookup: the ticket's event and state in the index condition's company.
    static let firstEntryTicketBy23 = """
        CROSS JOIN LATERAL (
                    SELECT tk.id FROM tickets tk
                    WHERE tk.token_hash = p_tokens[s.i] AND tk.event_id = p_events[s.i] AND tk.status = 'unused' AND NOT tk.inside
                      AND (tk.expires_at IS NULL OR tk.expires_at > p_ats[s.i])
                    LIMIT 1 FOR UPDATE
                ) t
        """

    /// Schema 24's: the token's unique index alone, the rest checked on the row as locked. The
    /// LIMIT keeps the outer conditions out of the locked subquery (PostgreSQL pushes no
    /// condition into a subquery with a LIMIT), so they see the row after any wait for its lock.
    static let firstEntryTicketBy24 = """
        CROSS JOIN LATERAL (
                    SELECT tk.id, tk.event_id, tk.status, tk.inside, tk.expires_at FROM tickets tk
                    WHERE tk.token_hash = p_tokens[s.i]
                    LIMIT 1 FOR UPDATE
                ) t
                WHERE t.event_id = p_events[s.i] AND t.status = 'unused' AND NOT t.inside
                  AND (t.expires_at IS NULL OR t.expires_at > p_ats[s.i])
        """

    /// Stores a batch's decisions (schema 12); with `undo` (schema 14) each log row also keeps
    /// what its scan changed, for an annul.
    static func storeCheckinsFunction(undo: Bool) -> String {
        """
        CREATE FUNCTION gatehouse_store_checkins(
            p_idx INT[], p_tickets TEXT[], p_tokens BYTEA[], p_was_status TEXT[], p_was_used_at BIGINT[], p_was_expires_at BIGINT[],
            p_was_inside BOOLEAN[], p_status TEXT[], p_used_at BIGINT[], p_used_gate TEXT[], p_used_device TEXT[], p_inside BOOLEAN[],
            p_ats BIGINT[], p_events TEXT[], p_log_tickets TEXT[], p_gates TEXT[], p_devices TEXT[], p_results TEXT[],
            p_modes TEXT[], p_scans TEXT[], p_payloads BYTEA[],\(undo ? " p_undos TEXT[]," : "")
            OUT idx INT, OUT stored BOOLEAN)
        RETURNS SETOF RECORD
        LANGUAGE plpgsql AS $fn$
        DECLARE
            i INT;
            logged BIGINT;
            lost TEXT := '';
        BEGIN
            FOR i IN 1 .. coalesce(array_length(p_idx, 1), 0) LOOP
                idx := p_idx[i];
                IF lost <> '' AND p_log_tickets[i] = lost THEN
                    stored := false; RETURN NEXT; CONTINUE;
                END IF;
                IF p_tickets[i] <> '' THEN
                    UPDATE tickets SET status = p_status[i], used_at = NULLIF(p_used_at[i], -1),
                        used_gate = NULLIF(p_used_gate[i], ''), used_device = NULLIF(p_used_device[i], ''), inside = p_inside[i]
                    WHERE id = p_tickets[i] AND token_hash = p_tokens[i] AND status = p_was_status[i]
                      AND used_at IS NOT DISTINCT FROM NULLIF(p_was_used_at[i], -1)
                      AND expires_at IS NOT DISTINCT FROM NULLIF(p_was_expires_at[i], -1) AND inside = p_was_inside[i];
                    IF NOT FOUND THEN
                        lost := p_tickets[i]; stored := false; RETURN NEXT; CONTINUE;
                    END IF;
                END IF;
                -- A (device, scanId) another transaction logged after our read fails the batch
                -- with a serialization failure: the service reads again and answers that scan
                -- as its first decision did.
                INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash\(undo ? ", undo_state" : ""))
                VALUES (p_ats[i], p_events[i], NULLIF(p_log_tickets[i], ''), p_gates[i], p_devices[i], p_results[i], p_modes[i],
                        NULLIF(p_scans[i], ''), p_payloads[i]\(undo ? ", NULLIF(p_undos[i], '')" : ""))
                ON CONFLICT (device_id, scan_id) WHERE scan_id IS NOT NULL DO NOTHING
                RETURNING id INTO logged;
                IF logged IS NULL THEN
                    RAISE EXCEPTION 'scanId % was decided concurrently', p_scans[i] USING ERRCODE = 'serialization_failure';
                END IF;
                stored := true; RETURN NEXT;
            END LOOP;
        END
        $fn$
        """
    }

    /// The `tickets` column a `readColumns` name starting "ticket_" reads.
    static func ticketField(_ column: String) -> String {
        switch column {
        case "ticket_event": "event_id"
        case "ticket_user": "user_id"
        case "ticket_holder": "holder_name"
        case "ticket_type": "ticket_type"
        default: String(column.dropFirst("ticket_".count))
        }
    }

    /// What `gatehouse_read_scans` finds for a scan: its position, its device, an earlier
    /// decision of its scanId and that decision's ticket, the ticket its code names, its list.
    static let readColumns: [(name: String, type: String)] =
        [
            ("i", "BIGINT"), ("device_id", "TEXT"), ("device_gate", "TEXT"), ("device_event", "TEXT"), ("device_revoked", "BOOLEAN"),
            ("earlier_result", "TEXT"), ("earlier_payload", "BYTEA"), ("earlier_ticket", "TEXT"), ("earlier_number", "BIGINT"),
            ("earlier_holder", "TEXT"), ("earlier_type", "TEXT"), ("earlier_used_at", "BIGINT"), ("earlier_used_gate", "TEXT"),
            ("ticket_id", "TEXT"), ("ticket_event", "TEXT"), ("ticket_number", "BIGINT"), ("ticket_user", "TEXT"),
            ("ticket_holder", "TEXT"), ("ticket_email", "TEXT"), ("ticket_type", "TEXT"), ("ticket_status", "TEXT"),
            ("ticket_expires_at", "BIGINT"), ("ticket_created_at", "BIGINT"), ("ticket_used_at", "BIGINT"), ("ticket_used_gate", "TEXT"),
            ("ticket_used_device", "TEXT"), ("ticket_inside", "BOOLEAN"), ("list_id", "TEXT"),
        ]
}
