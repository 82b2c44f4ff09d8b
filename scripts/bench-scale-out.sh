#!/usr/bin/env bash
# Scale-out benchmark (issue #31): do several service processes on one PostgreSQL add up, or does
# every commit wait for every other? First check-ins per second through the HTTP API:
#   reference   one process, one event, 16 connections (what bench-postgres measures)
#   scale-out   two processes on the same database, 50 events at once, 16 connections per event
#               (800 in all, half to each process), every event its own gate and codes
# in alternating rounds (reference, scale-out, ...), each counted by the database (tickets used
# during the run), and the ratio per round. On a 2-core machine both runs share the same two
# cores with PostgreSQL and wrk, so the ratio is bounded near 1 by CPU, not by the database: what
# it can show is whether events and processes serialise (a ratio well below 1) or not.
# Usage: bash scripts/with-postgres.sh bash scripts/bench-scale-out.sh   (make bench-scale-out)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GATEHOUSE_TEST_POSTGRES:?run under scripts/with-postgres.sh}"
DURATION=${DURATION:-10}       # seconds per run
ROUNDS=${ROUNDS:-3}
EVENTS=${EVENTS:-50}
PER_EVENT_CONNECTIONS=${PER_EVENT_CONNECTIONS:-16}
PER_EVENT_RUN=${PER_EVENT_RUN:-3000}   # codes per event per scale-out run: more than a run uses up
REFERENCE_RUN=${REFERENCE_RUN:-50000}  # codes for one reference run
swift build -c release --product gatehouse >&2
BIN=$(swift build -c release --show-bin-path)/gatehouse
WORK=$(mktemp -d)
PIDS=()
trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done; rm -rf "$WORK"' EXIT
# The admin token, `auth`, `json` and `median` (its one-service helpers are not used here).
source scripts/bench-database-api.sh

# serve NAME: a service process on the shared database; its URL in $WORK/NAME.url.
serve() {
  "$BIN" serve --db "$GATEHOUSE_TEST_POSTGRES" --port 0 --log-level warning --pool-size 8 > "$WORK/$1.out" 2> "$WORK/$1.err" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$WORK/$1.out" 2>/dev/null && break; sleep 0.1; done
  echo "http://127.0.0.1:$(grep -o 'listening on http://[^ ]*' "$WORK/$1.out" | sed 's/.*://')" > "$WORK/$1.url"
}
# Every event's tickets, counted by the database (the sourced `used` counts one event).
used() { psql -qtA "$GATEHOUSE_TEST_POSTGRES" -c "SELECT count(*) FROM tickets WHERE status = 'used'"; }
settle() { psql -q "$GATEHOUSE_TEST_POSTGRES" -c "VACUUM (ANALYZE) tickets, checkins" -c "CHECKPOINT"; }

# gate_codes URL COUNT FILE: a new event with one gate and COUNT tickets; appends one
# "device<TAB>gate<TAB>token<TAB>code" line per ticket to FILE.
gate_codes() {
  local url=$1 count=$2 file=$3 event device id token
  event=$(curl -sf "${auth[@]}" -d '{"name":"Scale-out"}' "$url/api/events" | json '["id"]')
  device=$(curl -sf "${auth[@]}" -d "{\"name\":\"bench\",\"gateId\":\"gate-1\",\"eventId\":\"$event\"}" "$url/api/devices")
  id=$(echo "$device" | json '["deviceId"]'); token=$(echo "$device" | json '["token"]')
  while [[ $count -gt 0 ]]; do
    local batch=$((count < 10000 ? count : 10000))
    curl -sf "${auth[@]}" -d "{\"quantity\":$batch}" "$url/api/events/$event/tickets" |
      python3 -c 'import json,sys; [print(sys.argv[1], sys.argv[2], sys.argv[3], t["qrData"], sep="\t") for t in json.load(sys.stdin)["tickets"]]' \
        "$id" gate-1 "$token" >> "$file"
    count=$((count - batch))
  done
}

# exhausted ADMITTED AVAILABLE WHAT: says so when a run used up its codes (its rate is then a
# floor, not a measure).
exhausted() {
  if [[ $1 -ge $2 ]]; then echo "the $3 run used up all its $2 codes: its rate is a floor; raise the codes per run" >&2; fi
}

# load FILE CONNECTIONS URL OUT: one wrk run in the background; its pid in $LOAD.
load() {
  CODES_FILE=$1 WRK_THREADS=2 wrk -t2 -c"$2" -d"${DURATION}s" --latency -s bench/checkin-many.lua "$3" > "$4" 2> "$4.err" &
  LOAD=$!
}

serve a
serve b
A=$(cat "$WORK/a.url"); B=$(cat "$WORK/b.url")
echo "setting up: 1 reference event, $EVENTS scale-out events ($((EVENTS * PER_EVENT_RUN * ROUNDS)) tickets)..." >&2
gate_codes "$A" $((REFERENCE_RUN * ROUNDS)) "$WORK/reference"
shuf "$WORK/reference" | split -l "$REFERENCE_RUN" -d -a 2 - "$WORK/reference."
: > "$WORK/many"
for _ in $(seq "$EVENTS"); do gate_codes "$A" $((PER_EVENT_RUN * ROUNDS)) "$WORK/many"; done
# Each round its own codes of every event, split between the two processes.
shuf "$WORK/many" -o "$WORK/many"
split -n "l/$((ROUNDS * 2))" -d -a 2 "$WORK/many" "$WORK/many."
psql -q "$GATEHOUSE_TEST_POSTGRES" -c "ANALYZE"

echo "$DURATION s per run; reference: 1 process, 1 event, $PER_EVENT_CONNECTIONS connections;" \
  "scale-out: 2 processes, $EVENTS events, $((EVENTS * PER_EVENT_CONNECTIONS)) connections"
: > "$WORK/reference.rates"; : > "$WORK/many.rates"; : > "$WORK/ratios"
for round in $(seq 0 $((ROUNDS - 1))); do
  settle
  before=$(used)
  load "$(printf '%s/reference.%02d' "$WORK" "$round")" "$PER_EVENT_CONNECTIONS" "$A" "$WORK/reference.wrk"
  wait "$LOAD" || true
  reference=$((($(used) - before) / DURATION))
  exhausted $((reference * DURATION)) "$REFERENCE_RUN" reference
  settle
  before=$(used)
  half=$((EVENTS * PER_EVENT_CONNECTIONS / 2))
  load "$(printf '%s/many.%02d' "$WORK" $((2 * round)))" "$half" "$A" "$WORK/many-a.wrk"; first=$LOAD
  load "$(printf '%s/many.%02d' "$WORK" $((2 * round + 1)))" "$half" "$B" "$WORK/many-b.wrk"
  wait "$first" || true; wait "$LOAD" || true
  many=$((($(used) - before) / DURATION))
  exhausted $((many * DURATION)) $((EVENTS * PER_EVENT_RUN)) scale-out
  for out in reference.wrk many-a.wrk many-b.wrk; do
    if grep -q unexpected "$WORK/$out.err"; then echo "unexpected answers ($out): $(head -1 "$WORK/$out.err")" >&2; fi
  done
  echo "$reference" >> "$WORK/reference.rates"; echo "$many" >> "$WORK/many.rates"; echo "$((many * 100 / reference))" >> "$WORK/ratios"
  printf 'round %d: 1 process x 1 event %6s/s (p99 %s)   2 processes x %d events %6s/s (p99 %s / %s)   ratio %s%%\n' \
    $((round + 1)) "$reference" "$(awk '$1=="99%" {print $2}' "$WORK/reference.wrk")" "$EVENTS" "$many" \
    "$(awk '$1=="99%" {print $2}' "$WORK/many-a.wrk")" "$(awk '$1=="99%" {print $2}' "$WORK/many-b.wrk")" "$((many * 100 / reference))"
done
printf '%-34s %8s/s  (median of %d runs)\n' "1 process, 1 event" "$(median < "$WORK/reference.rates")" "$ROUNDS"
printf '%-34s %8s/s  (median of %d runs; ratio per round, median %s%%)\n' "2 processes, $EVENTS events" \
  "$(median < "$WORK/many.rates")" "$ROUNDS" "$(median < "$WORK/ratios")"
