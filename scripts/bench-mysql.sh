#!/usr/bin/env bash
# MySQL/MariaDB benchmark (issue #15): first check-ins per second and p50/p99 through the HTTP API
# on MariaDB, next to the ceiling measured in the same run: a plain C client on the same server
# (bench/mysql-checkin.c, Connector/C, prepared statements) doing the same conditional UPDATE +
# log INSERT, one durable transaction per check-in, 16 connections.
#
# Rounds alternate (plain client, API, plain client, API, ...) and each round is compared with its
# own plain run, since this machine's speed drifts. Both draw tickets in random order from fresh
# ranges of the same table.
# Usage: bash scripts/with-mariadb.sh bash scripts/bench-mysql.sh   (make bench-mysql)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GATEHOUSE_TEST_MYSQL:?run under scripts/with-mariadb.sh}"
DURATION=${DURATION:-10}        # seconds per run
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-16}
PER_RUN=${PER_RUN:-60000}       # tickets per run: more than a run can use up
swift build -c release --product gatehouse >&2
BIN=$(swift build -c release --show-bin-path)/gatehouse
WORK=$(mktemp -d)
SERVER=""
trap '[[ -n "$SERVER" ]] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
gcc -O2 -o "$WORK/mysql-checkin" bench/mysql-checkin.c $(pkg-config --cflags --libs libmariadb) -lpthread
source scripts/bench-database-api.sh
read -r DB_HOST DB_PORT DB_USER DB_PASSWORD DB_NAME < <(python3 -c '
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1]); print(p.hostname, p.port, u.unquote(p.username), u.unquote(p.password), p.path[1:])' "$GATEHOUSE_TEST_MYSQL")
sql() { mariadb --no-defaults -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" -p"$DB_PASSWORD" "$DB_NAME" -e "$1"; }
# COMMITs the server ran so far: the API's check-ins per commit show how many scans its writers'
# batches gathered.
commits() { sql "SHOW GLOBAL STATUS LIKE 'Com_commit'" | awk 'NR == 2 {print $2}'; }

server_version=$(sql "SELECT VERSION()" | tail -1)
echo "MariaDB $server_version, $CONNECTIONS connections, ${DURATION}s per run, first check-ins in random ticket order"
echo "durable: innodb_flush_log_at_trx_commit=$(sql 'SELECT @@innodb_flush_log_at_trx_commit' | tail -1), binary log $(sql 'SELECT @@log_bin' | tail -1)"
start_service "$GATEHOUSE_TEST_MYSQL"
api_setup $((ROUNDS * PER_RUN))
# The plain client's tickets: an event of its own in the same table.
PLAIN_EVENT=$(curl -sf "${auth[@]}" -d '{"name":"plain client"}' "$URL/api/events" | json '["id"]')
sql "INSERT INTO tickets (id, event_id, number, status, token_hash, created_at, change_seq)
     SELECT CONCAT('TPLAIN', seq), '$PLAIN_EVENT', seq, 'unused', UNHEX(SHA2(CONCAT('plain', seq), 256)), 0, 0 FROM seq_1_to_$((ROUNDS * PER_RUN))"
sql "ANALYZE TABLE tickets, checkins" > /dev/null
: > "$WORK/plain.rates"; : > "$WORK/api.rates"; : > "$WORK/ratios"
for round in $(seq 0 $((ROUNDS - 1))); do
  idle_start
  read -r plain plain50 plain99 < <("$WORK/mysql-checkin" "$DB_HOST" "$DB_PORT" "$DB_USER" "$DB_PASSWORD" "$DB_NAME" "$PLAIN_EVENT" \
    $((round * PER_RUN + 1)) $(((round + 1) * PER_RUN)) "$CONNECTIONS" "$DURATION")
  plain_idle=$(idle_share)
  commits_before=$(commits)
  idle_start
  read -r api p50 p99 < <(api_run "$round")
  api_idle=$(idle_share)
  per_commit=$(checkins_per_commit "$commits_before" "$api")
  echo "$plain" >> "$WORK/plain.rates"; echo "$api" >> "$WORK/api.rates"; echo "$((api * 100 / plain))" >> "$WORK/ratios"
  printf 'round %d: plain client %6s/s p50 %8s p99 %8s idle %2s%%   API on MariaDB %6s/s p50 %8s p99 %8s idle %2s%% %s check-ins a commit   API/plain %s%%\n' \
    $((round + 1)) "$plain" "$plain50" "$plain99" "$plain_idle" "$api" "$p50" "$p99" "$api_idle" "$per_commit" "$((api * 100 / plain))"
done
stop_service
printf '%-44s %8s/s  (median of %d runs)\n' "plain client, 1 transaction per check-in" "$(median < "$WORK/plain.rates")" "$ROUNDS"
printf '%-44s %8s/s  (median of %d runs; API/plain per round, median %s%%)\n' "API on MariaDB" "$(median < "$WORK/api.rates")" "$ROUNDS" "$(median < "$WORK/ratios")"
