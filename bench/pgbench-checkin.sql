-- One first check-in as its own transaction, the way a service without group commit would do
-- it: the conditional UPDATE plus the log INSERT, PostgreSQL's default durable commit.
-- pgbench variables: :event (the event id, quoted as an SQL literal), and :first and :last, the
-- range of ticket numbers this run draws from at random (each run of a benchmark its own range).
\set n random(:first, :last)
BEGIN;
UPDATE tickets SET status = 'used', used_at = 1800000000000, used_gate = 'pgbench', used_device = 'DPGBENCH'
 WHERE event_id = :event AND number = :n AND status = 'unused' AND (expires_at IS NULL OR expires_at > 1800000000000);
INSERT INTO checkins (at, event_id, ticket_id, gate_id, device_id, result, mode, scan_id, payload_hash)
 VALUES (1800000000000, :event, NULL, 'pgbench', 'DPGBENCH', 'valid', 'commit', NULL, '\x00');
END;
