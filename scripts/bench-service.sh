#!/usr/bin/env bash
# Check-in service benchmark (issue #2): the release `gatehouse` on SQLite, 16 keep-alive
# connections from wrk for 10 s of first check-ins, then 10 s of repeat scans.
# Prints check-ins per second and p50/p99 latency; the durable count comes from the database.
# Then the repeat scans again beside 1,000 simulated kiosks' heartbeats (every 10 s), and once
# more without them: what the fleet costs.
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
without=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")

# The fleet (issue #29): the same repeat scans while 1,000 simulated kiosks send their heartbeats
# every 10 s (100 a second, each on its own keep-alive connection), then without them again.
DEVICES=${DEVICES:-1000}
# The rate still climbs over the first runs (caches, the WAL's checkpoints): one more run settles
# it, and its figure is the "before".
run "repeat scans, settled"
without=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
: > "$WORK/fleet.txt"
for i in $(seq "$DEVICES"); do
  curl -sf "${auth[@]}" -d "{\"name\":\"sim $i\",\"gateId\":\"sim-$i\",\"eventId\":\"$EVENT\"}" "$URL/api/devices" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["deviceId"], d["device"]["gateId"], d["token"], sep="\t")' >> "$WORK/fleet.txt"
done
python3 bench/heartbeats.py "$URL" "$WORK/fleet.txt" "$(( ${DURATION%s} + 12 ))" > "$WORK/heartbeats.txt" &
fleet=$!
sleep 11  # every device has sent its first heartbeat
run "repeat scans + fleet"
with=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
wait $fleet
echo "  $(cat "$WORK/heartbeats.txt")"
run "repeat scans again"
again=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
python3 -c "b = ($without + $again) / 2; print(f'  heartbeats of $DEVICES devices every 10 s cost {100 * (b - $with) / b:.1f} % of check-in throughput ({$with:.0f} against {b:.0f} req/s without, the mean of the runs before and after)')"
echo "  resident memory of the service: $(awk '/VmRSS/ {print $2, $3}' /proc/$SERVER/status)"
