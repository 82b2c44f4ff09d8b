#!/usr/bin/env bash
# PostgreSQL benchmark (issue #4): first check-ins per second and p50/p99 through the HTTP API on
# PostgreSQL and on SQLite, next to the ceiling: PostgreSQL alone running the same conditional
# UPDATE + log INSERT with pgbench, one durable transaction per check-in. Same run, same machine.
# Usage: bash scripts/with-postgres.sh bash scripts/bench-postgres.sh   (make bench-postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GATEHOUSE_TEST_POSTGRES:?run under scripts/with-postgres.sh}"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
TICKETS=${TICKETS:-150000}
swift build -c release --product gatehouse >&2
BIN=$(swift build -c release --show-bin-path)/gatehouse
WORK=$(mktemp -d)
SERVER=""
trap '[[ -n "$SERVER" ]] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
export GATEHOUSE_ADMIN_TOKEN=bench-admin-token-0123456789
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

start_service() {  # $1 = --db value
  "$BIN" serve --db "$1" --port 0 --log-level warning --pool-size 8 > "$WORK/serve.out" 2> "$WORK/serve.err" &
  SERVER=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
  URL="http://127.0.0.1:$(grep -o 'listening on http://[^ ]*' "$WORK/serve.out" | sed 's/.*://')"
}

api_run() {  # $1 = label, $2 = --db value
  start_service "$2"
  local auth=(-H "Authorization: Bearer $GATEHOUSE_ADMIN_TOKEN" -H "Content-Type: application/json")
  local event device
  event=$(curl -sf "${auth[@]}" -d '{"name":"Benchmark"}' "$URL/api/events" | json '["id"]')
  device=$(curl -sf "${auth[@]}" -d "{\"name\":\"bench\",\"gateId\":\"bench-1\",\"eventId\":\"$event\"}" "$URL/api/devices")
  export DEVICE_ID=$(echo "$device" | json '["deviceId"]') DEVICE_TOKEN=$(echo "$device" | json '["token"]')
  export GATE_ID=bench-1 CODES_FILE="$WORK/codes-$1.txt" WRK_THREADS=2
  for _ in $(seq $((TICKETS / 10000))); do
    curl -sf "${auth[@]}" -d '{"quantity":10000}' "$URL/api/events/$event/tickets" | python3 -c 'import json,sys; [print(t["qrData"]) for t in json.load(sys.stdin)["tickets"]]' >> "$CODES_FILE"
  done
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/checkin.lua "$URL" > "$WORK/wrk.txt" 2> "$WORK/wrk.err" || true
  local used seconds
  used=$(curl -sf "${auth[@]}" "$URL/api/events/$event" | json '["used"]')
  seconds=${DURATION%s}
  printf '%-34s %8s/s  p50 %8s  p99 %8s  (%s tickets durably used, %s errors)\n' "API on $1" "$((used / seconds))" \
    "$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt")" "$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")" "$used" "$(grep -c unexpected "$WORK/wrk.err" || true)"
  kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=""
}

echo "$CONNECTIONS connections, $DURATION per run, first check-ins; durable commits everywhere"
# pgbench ceiling on the same schema, with an event of its own.
start_service "$GATEHOUSE_TEST_POSTGRES"
auth=(-H "Authorization: Bearer $GATEHOUSE_ADMIN_TOKEN" -H "Content-Type: application/json")
pg_event=$(curl -sf "${auth[@]}" -d '{"name":"pgbench"}' "$URL/api/events" | json '["id"]')
for _ in $(seq 20); do curl -sf "${auth[@]}" -d '{"quantity":10000}' "$URL/api/events/$pg_event/tickets" > /dev/null; done
kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=""
# Fresh statistics, or the planner may walk the (event, status) index instead of (event, number).
psql -q "$GATEHOUSE_TEST_POSTGRES" -c "ANALYZE"
pgbench -n -c "$CONNECTIONS" -j 2 -T "${DURATION%s}" -D event="'$pg_event'" -D tickets=200000 -f bench/pgbench-checkin.sql "$GATEHOUSE_TEST_POSTGRES" > "$WORK/pgbench.txt" 2>&1
printf '%-34s %8s/s  p50 %8s  (pgbench: latency average %s ms)\n' "pgbench, 1 transaction per check-in" \
  "$(awk '/^tps/ {printf "%d", $3}' "$WORK/pgbench.txt")" "-" "$(awk '/latency average/ {print $4}' "$WORK/pgbench.txt")"
api_run PostgreSQL "$GATEHOUSE_TEST_POSTGRES"
api_run SQLite "$WORK/bench.sqlite"
