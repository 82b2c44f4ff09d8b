# Shared by the database benchmarks (sourced, not run): the release `gatehouse` on a given --db,
# an event with a device and shuffled ticket codes, and one wrk run of first check-ins.
#   start_service DB        runs the service on DB; sets SERVER, URL
#   stop_service
#   api_setup COUNT         an event, a device and COUNT tickets; their codes shuffled into
#                           $WORK/chunk.NNN files of $PER_RUN codes each
#   api_run N               one wrk run on chunk N; prints "rate p50 p99"
#   median                  the median of the numbers on stdin
#   idle_start; idle_share  the share of the machine's CPU time left idle in between, in per cent
#   checkins_per_commit BEFORE RATE
#                           an API run's check-ins per commit, from the caller's `commits` count
#                           before it and the run's rate
# Expects BIN, WORK, DURATION, CONNECTIONS, PER_RUN to be set.
export GATEHOUSE_ADMIN_TOKEN=bench-admin-token-0123456789
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
auth=(-H "Authorization: Bearer $GATEHOUSE_ADMIN_TOKEN" -H "Content-Type: application/json")

start_service() {
  "$BIN" serve --db "$1" --port 0 --log-level warning --pool-size 8 > "$WORK/serve.out" 2> "$WORK/serve.err" &
  SERVER=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
  URL="http://127.0.0.1:$(grep -o 'listening on http://[^ ]*' "$WORK/serve.out" | sed 's/.*://')"
}
stop_service() { kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=""; }

api_setup() {
  EVENT=$(curl -sf "${auth[@]}" -d '{"name":"Benchmark"}' "$URL/api/events" | json '["id"]')
  local device
  device=$(curl -sf "${auth[@]}" -d "{\"name\":\"bench\",\"gateId\":\"bench-1\",\"eventId\":\"$EVENT\"}" "$URL/api/devices")
  export DEVICE_ID=$(echo "$device" | json '["deviceId"]') DEVICE_TOKEN=$(echo "$device" | json '["token"]') GATE_ID=bench-1 WRK_THREADS=2
  : > "$WORK/codes"
  for _ in $(seq $(($1 / 10000))); do
    curl -sf "${auth[@]}" -d '{"quantity":10000}' "$URL/api/events/$EVENT/tickets" | python3 -c 'import json,sys; [print(t["qrData"]) for t in json.load(sys.stdin)["tickets"]]' >> "$WORK/codes"
  done
  shuf "$WORK/codes" -o "$WORK/codes"
  split -l "$PER_RUN" -d -a 3 "$WORK/codes" "$WORK/chunk."
}
used() { curl -sf "${auth[@]}" "$URL/api/events/$EVENT" | json '["used"]'; }

api_run() {
  local before after codes chunk
  chunk=$(printf '%s/chunk.%03d' "$WORK" "$1")
  before=$(used)
  CODES_FILE=$chunk wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/checkin.lua "$URL" > "$WORK/wrk.txt" 2> "$WORK/wrk.err" || true
  after=$(used)
  if grep -q unexpected "$WORK/wrk.err"; then echo "unexpected answers: $(head -1 "$WORK/wrk.err")" >&2; fi
  # wrk starts the codes over when it reaches their end: from then on it measures answers to used
  # tickets, and the rate is the supply's (codes ÷ seconds), not the service's.
  codes=$(wc -l < "$chunk")
  if ((after - before >= codes)); then
    echo "the run used up all its $codes tickets: the rate is a floor, not a measure (raise PER_RUN)" >&2
  fi
  echo "$(((after - before) / DURATION)) $(awk '$1=="50%" {print $2}' "$WORK/wrk.txt") $(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")"
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# What a run left of the machine unused: a reference that keeps every core busy and an API run
# that does not differ in more than their work per check-in, so the benchmarks print both.
idle_ticks() { awk '/^cpu / {print $5, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
idle_start() { read -r IDLE_BEFORE TICKS_BEFORE < <(idle_ticks); }
idle_share() {
  local idle ticks
  read -r idle ticks < <(idle_ticks)
  echo $(((idle - IDLE_BEFORE) * 100 / (ticks - TICKS_BEFORE)))
}

# Each database counts its commits its own way: the benchmark defines `commits`.
checkins_per_commit() { python3 -c "print(f'{$2 * $DURATION / max(1, $(commits) - $1):.1f}')"; }
