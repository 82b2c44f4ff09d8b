#!/usr/bin/env bash
# PostgreSQL benchmark (issue #4): first check-ins per second and p50/p99 through the HTTP API on
# PostgreSQL, next to the ceiling: PostgreSQL alone running the same conditional UPDATE + log
# INSERT with pgbench, one durable transaction per check-in — with pgbench's default (simple)
# protocol, and with -M prepared, which skips parsing and planning and is the stronger ceiling;
# then the API on SQLite. pgbench runs a third time each round with the offline gates' change
# feed switched off (its trigger disabled), to show what the feed costs a commit.
#
# This machine's speed drifts by a fifth from minute to minute, so the two PostgreSQL figures are
# taken in alternating rounds (pgbench, API, pgbench, API, ...) and each round is compared with
# its own pgbench run. Both draw tickets in random order from fresh ranges of the same table:
# codes in issue order would touch neighbouring rows and flatter the API.
# Usage: bash scripts/with-postgres.sh bash scripts/bench-postgres.sh   (make bench-postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GATEHOUSE_TEST_POSTGRES:?run under scripts/with-postgres.sh}"
DURATION=${DURATION:-10}        # seconds per run
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-16}
PER_RUN=${PER_RUN:-100000}      # tickets per run: more than a run can use up
swift build -c release --product gatehouse >&2
BIN=$(swift build -c release --show-bin-path)/gatehouse
WORK=$(mktemp -d)
SERVER=""
trap '[[ -n "$SERVER" ]] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
source scripts/bench-database-api.sh

# Every run starts from the same quiet database: the previous run's dead row versions vacuumed
# and its WAL checkpointed, so autovacuum and checkpoints it set off do not land on the next.
settle() { psql -q "$GATEHOUSE_TEST_POSTGRES" -c "VACUUM (ANALYZE) tickets, checkins" -c "CHECKPOINT"; }
# Transactions committed in the database so far: the API's check-ins per commit show how many
# scans its batches gathered. A busy backend hands its counts to pg_stat_database at most once a
# second, and within a second of going idle: the count after a run waits for that.
commits() { psql -qtA "$GATEHOUSE_TEST_POSTGRES" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }

echo "$CONNECTIONS connections, ${DURATION}s per run, first check-ins in random ticket order; durable commits everywhere"
start_service "$GATEHOUSE_TEST_POSTGRES"
api_setup $((ROUNDS * PER_RUN))
# pgbench's tickets: an event of its own in the same table, as many per run as the API gets.
PG_EVENT=$(curl -sf "${auth[@]}" -d '{"name":"pgbench"}' "$URL/api/events" | json '["id"]')
psql -q "$GATEHOUSE_TEST_POSTGRES" -c "INSERT INTO tickets (id, event_id, number, status, token_hash, created_at)
  SELECT 'TPGBENCH' || n, '$PG_EVENT', n, 'unused', sha256(gen_random_uuid()::text::bytea), 0 FROM generate_series(1, $((3 * ROUNDS * PER_RUN))) n"
# Fresh statistics, or the planner may walk the (event, status) index instead of (event, number).
psql -q "$GATEHOUSE_TEST_POSTGRES" -c "ANALYZE"
: > "$WORK/pg.rates"; : > "$WORK/prepared.rates"; : > "$WORK/nofeed.rates"; : > "$WORK/api.rates"; : > "$WORK/ratios"; : > "$WORK/feed.ratios"
: > "$WORK/prepared.ratios"
for round in $(seq 0 $((ROUNDS - 1))); do
  settle
  pgbench -n -c "$CONNECTIONS" -j 2 -T "$DURATION" -D event="'$PG_EVENT'" -D first=$((round * PER_RUN + 1)) -D last=$(((round + 1) * PER_RUN)) \
    -f bench/pgbench-checkin.sql "$GATEHOUSE_TEST_POSTGRES" > "$WORK/pgbench.txt" 2>&1
  pg=$(awk '/^tps/ {printf "%d", $3}' "$WORK/pgbench.txt")
  # The prepared run draws from ranges after all the simple runs' ones.
  settle
  idle_start
  pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" -D event="'$PG_EVENT'" \
    -D first=$(((ROUNDS + round) * PER_RUN + 1)) -D last=$(((ROUNDS + round + 1) * PER_RUN)) \
    -f bench/pgbench-checkin.sql "$GATEHOUSE_TEST_POSTGRES" > "$WORK/pgbench.txt" 2>&1
  prepared_idle=$(idle_share)
  prepared=$(awk '/^tps/ {printf "%d", $3}' "$WORK/pgbench.txt")
  # The same without the change feed: its trigger off for this run only (no gate is pulling).
  settle
  psql -q "$GATEHOUSE_TEST_POSTGRES" -c "ALTER TABLE tickets DISABLE TRIGGER tickets_number_change"
  pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" -D event="'$PG_EVENT'" \
    -D first=$(((2 * ROUNDS + round) * PER_RUN + 1)) -D last=$(((2 * ROUNDS + round + 1) * PER_RUN)) \
    -f bench/pgbench-checkin.sql "$GATEHOUSE_TEST_POSTGRES" > "$WORK/pgbench.txt" 2>&1
  psql -q "$GATEHOUSE_TEST_POSTGRES" -c "ALTER TABLE tickets ENABLE TRIGGER tickets_number_change"
  nofeed=$(awk '/^tps/ {printf "%d", $3}' "$WORK/pgbench.txt")
  echo "$nofeed" >> "$WORK/nofeed.rates"; echo "$((prepared * 100 / nofeed))" >> "$WORK/feed.ratios"
  settle
  commits_before=$(commits)
  idle_start
  read -r api p50 p99 < <(api_run "$round")
  api_idle=$(idle_share)
  sleep 2
  per_commit=$(checkins_per_commit "$commits_before" "$api")
  echo "$pg" >> "$WORK/pg.rates"; echo "$prepared" >> "$WORK/prepared.rates"; echo "$api" >> "$WORK/api.rates"; echo "$((api * 100 / pg))" >> "$WORK/ratios"
  echo "$((api * 100 / prepared))" >> "$WORK/prepared.ratios"
  printf 'round %d: pgbench %6s/s (prepared %6s/s, idle %2s%%; without the feed %6s/s)   API on PostgreSQL %6s/s  p50 %8s  p99 %8s  idle %2s%%  %s check-ins a commit   API/pgbench %s%% (prepared %s%%)\n' \
    $((round + 1)) "$pg" "$prepared" "$prepared_idle" "$nofeed" "$api" "$p50" "$p99" "$api_idle" "$per_commit" "$((api * 100 / pg))" "$((api * 100 / prepared))"
done
stop_service
printf '%-38s %8s/s  (median of %d runs)\n' "pgbench, 1 transaction per check-in" "$(median < "$WORK/pg.rates")" "$ROUNDS"
printf '%-38s %8s/s  (median of %d runs)\n' "the same, pgbench -M prepared" "$(median < "$WORK/prepared.rates")" "$ROUNDS"
printf '%-38s %8s/s  (median of %d runs; with/without per round, median %s%%)\n' "-M prepared without the change feed" \
  "$(median < "$WORK/nofeed.rates")" "$ROUNDS" "$(median < "$WORK/feed.ratios")"
printf '%-38s %8s/s  (median of %d runs; API/pgbench per round, median %s%%; API/pgbench -M prepared, median %s%%)\n' \
  "API on PostgreSQL" "$(median < "$WORK/api.rates")" "$ROUNDS" "$(median < "$WORK/ratios")" "$(median < "$WORK/prepared.ratios")"

start_service "$WORK/bench.sqlite"
api_setup "$PER_RUN"
read -r api p50 p99 < <(api_run 0)
stop_service
printf '%-38s %8s/s  p50 %8s  p99 %8s\n' "API on SQLite" "$api" "$p50" "$p99"
