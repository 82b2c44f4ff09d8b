#!/usr/bin/env bash
# Hostile soak (issue #9, not a timed test): the release `gatehouse` on SQLite, 16 honest gates
# for SOAK_SECONDS (60) while one attacker runs each attack in turn (bench/hostile_soak.py).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product gatehouse >&2
BIN=$(swift build -c release --show-bin-path)/gatehouse
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
export GATEHOUSE_ADMIN_TOKEN=bench-admin-token-0123456789
# systemd's default soft limit, where the unprotected service used to die.
bash -c "ulimit -Sn 1024; exec \"$BIN\" serve --db \"$WORK/soak.sqlite\" --port 0 --log-level warning" > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(grep -o 'listening on http://[^ ]*' "$WORK/serve.out" | sed 's/.*://')
URL="http://127.0.0.1:$PORT"
auth=(-H "Authorization: Bearer $GATEHOUSE_ADMIN_TOKEN" -H "Content-Type: application/json")
EVENT=$(curl -sf "${auth[@]}" -d '{"name":"Soak"}' "$URL/api/events" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
DEVICE_JSON=$(curl -sf "${auth[@]}" -d "{\"name\":\"soak\",\"gateId\":\"soak-1\",\"eventId\":\"$EVENT\"}" "$URL/api/devices")
export DEVICE_ID=$(echo "$DEVICE_JSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["deviceId"])')
export DEVICE_TOKEN=$(echo "$DEVICE_JSON" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export GATE_ID=soak-1 CODES_FILE="$WORK/codes.txt" PORT SERVICE_PID=$SERVER
for _ in 1 2 3 4 5; do
  curl -sf "${auth[@]}" -d '{"quantity":10000}' "$URL/api/events/$EVENT/tickets" \
    | python3 -c 'import json,sys; [print(t["qrData"]) for t in json.load(sys.stdin)["tickets"]]' >> "$CODES_FILE"
done
echo "Hostile soak: $(wc -l < "$CODES_FILE") tickets, service pid $SERVER, soft fd limit 1024"
python3 bench/hostile_soak.py
kill -0 $SERVER && echo "service still running"
