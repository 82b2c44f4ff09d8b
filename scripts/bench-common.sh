# Shared by the service benchmarks (sourced, not run): starts the release `gatehouse` on a fresh
# SQLite file in $WORK and makes one event and one device.
#   start_service [PREFIX…]  runs the service (under PREFIX, e.g. a ulimit wrapper) on $BENCH_DB (default: a
#                            fresh SQLite file); sets SERVER, PORT, URL, auth
#   make_event_and_device NAME GATE  sets EVENT, DEVICE_ID, DEVICE_TOKEN, GATE_ID (exported)
swift build -c release --product gatehouse >&2
BIN=$(swift build -c release --show-bin-path)/gatehouse
WORK=$(mktemp -d)
SERVER=
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
export GATEHOUSE_ADMIN_TOKEN=bench-admin-token-0123456789

start_service() {
  "$@" "$BIN" serve --db "${BENCH_DB:-$WORK/bench.sqlite}" --port 0 --log-level warning > "$WORK/serve.out" 2> "$WORK/serve.err" &
  SERVER=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
  PORT=$(grep -o 'listening on http://[^ ]*' "$WORK/serve.out" | sed 's/.*://')
  URL="http://127.0.0.1:$PORT"
  auth=(-H "Authorization: Bearer $GATEHOUSE_ADMIN_TOKEN" -H "Content-Type: application/json")
}

make_event_and_device() {
  EVENT=$(curl -sf "${auth[@]}" -d "{\"name\":\"$1\"}" "$URL/api/events" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  local device_json
  device_json=$(curl -sf "${auth[@]}" -d "{\"name\":\"$1\",\"gateId\":\"$2\",\"eventId\":\"$EVENT\"}" "$URL/api/devices")
  DEVICE_ID=$(echo "$device_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["deviceId"])')
  DEVICE_TOKEN=$(echo "$device_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  export DEVICE_ID DEVICE_TOKEN GATE_ID=$2
}
