#!/usr/bin/env bash
# Hostile soak (issue #9, not a timed test): the release `gatehouse` on SQLite, 16 honest gates
# for SOAK_SECONDS (60) while one attacker runs each attack in turn (bench/hostile_soak.py).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-common.sh
# systemd's default soft limit, where the unprotected service used to die (it may raise its soft
# limit up to the hard one, as it does under systemd).
start_service prlimit --nofile=1024:
make_event_and_device Soak soak-1
export CODES_FILE="$WORK/codes.txt" PORT SERVICE_PID=$SERVER
for _ in 1 2 3 4 5; do
  curl -sf "${auth[@]}" -d '{"quantity":10000}' "$URL/api/events/$EVENT/tickets" \
    | python3 -c 'import json,sys; [print(t["qrData"]) for t in json.load(sys.stdin)["tickets"]]' >> "$CODES_FILE"
done
echo "Hostile soak: $(wc -l < "$CODES_FILE") tickets, service pid $SERVER, soft fd limit 1024"
python3 bench/hostile_soak.py
kill -0 $SERVER && echo "service still running"
