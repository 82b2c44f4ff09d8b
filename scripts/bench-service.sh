#!/usr/bin/env bash
# Check-in service benchmark (issue #2): the release `gatehouse` on SQLite, 16 keep-alive
# connections from wrk for 10 s of first check-ins, then 10 s of repeat scans.
# Prints check-ins per second and p50/p99 latency; the durable count comes from the database.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
TICKETS=${TICKETS:-100000}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
source scripts/bench-common.sh
start_service
make_event_and_device Benchmark bench-1
export CODES_FILE="$WORK/codes.txt" WRK_THREADS=$THREADS

start=$(date +%s.%N)
for _ in $(seq $((TICKETS / 10000))); do
  curl -sf "${auth[@]}" -d '{"quantity":10000}' "$URL/api/events/$EVENT/tickets" \
    | python3 -c 'import json,sys; [print(t["qrData"]) for t in json.load(sys.stdin)["tickets"]]' >> "$CODES_FILE"
done
issue_s=$(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')")
echo "Issued $(wc -l < "$CODES_FILE") tickets in ${issue_s} s"

run() {  # $1 = label
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/checkin.lua "$URL" > "$WORK/wrk.txt" 2> "$WORK/wrk.err" || true
  local rps p50 p99 total
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")
  total=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
  printf '%-22s %10s req/s   p50 %8s   p99 %8s   (%s requests, %s errors)\n' "$1" "$rps" "$p50" "$p99" "$total" "$(grep -c unexpected "$WORK/wrk.err" || true)"
}

echo "SQLite, WAL, synchronous=FULL; $CONNECTIONS keep-alive connections, $THREADS wrk threads, $DURATION each"
run "first check-ins"
USED=$(curl -sf "${auth[@]}" "$URL/api/events/$EVENT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["used"])')
echo "  tickets durably marked used: $USED  (= $(python3 -c "print(round($USED / ${DURATION%s}))") durable first check-ins/s)"
run "repeat scans"
echo "  resident memory of the service: $(awk '/VmRSS/ {print $2, $3}' /proc/$SERVER/status)"
