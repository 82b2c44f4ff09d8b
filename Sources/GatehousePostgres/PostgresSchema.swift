/// Versioned PostgreSQL schema, applied at start under an advisory lock so that several service
/// processes starting at once migrate exactly once. Times are milliseconds since 1970 (BIGINT),
/// as in the SQLite store, so both stores answer to the millisecond alike.
enum PostgresSchema {
    /// Any 64-bit number unique to us: the key of the advisory lock that serializes migrations.
    static let migrationLock: Int64 = 0x6761_7465_686f_7573  // "gatehous"

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
            """,
        ],
    ]

    static var currentVersion: Int { migrations.count }
}
