#!/usr/bin/env bash
# Hostile soak (issues #9 and #23, not a timed test): the release `gatehouse` on each store it can
# reach — SQLite always, PostgreSQL and MariaDB when scripts/with-postgres.sh and
# scripts/with-mariadb.sh started them (`make bench-hostile` does) — 16 honest gates checking in
# while one attacker runs each attack in turn (bench/hostile_soak.py): honest p50/p99 with and
# without each attack, 5xx, descriptors and the service's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-common.sh

stores=(sqlite)
[[ -n "${GATEHOUSE_TEST_POSTGRES:-}" ]] && stores+=(postgres)
[[ -n "${GATEHOUSE_TEST_MYSQL:-}" ]] && stores+=(mariadb)
# BENCH_STORES="postgres" (say) runs only those; SOAK_ONLY=word only the attacks naming it.
[[ -n "${BENCH_STORES:-}" ]] && read -ra stores <<< "$BENCH_STORES"
status=0
for store in "${stores[@]}"; do
  case "$store" in
    sqlite) db="$WORK/bench.sqlite" ;;
    postgres) db="$GATEHOUSE_TEST_POSTGRES" ;;
    mariadb) db="$GATEHOUSE_TEST_MYSQL" ;;
  esac
  # systemd's default soft limit, where the unprotected service used to die (it may raise its
  # soft limit up to the hard one, as it does under systemd).
  BENCH_DB="$db" start_service prlimit --nofile=1024:
  make_event_and_device Soak soak-1
  attack_event=$(curl -sf "${auth[@]}" -d '{"name":"Attacker'\''s event"}' "$URL/api/events" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  kiosk=$(curl -sf "${auth[@]}" -d "{\"name\":\"stolen kiosk\",\"gateId\":\"x-1\",\"eventId\":\"$attack_event\"}" "$URL/api/devices")
  phone=$(curl -sf "${auth[@]}" -d "{\"name\":\"stolen phone\",\"gateId\":\"x-2\",\"eventId\":\"$attack_event\",\"kind\":\"scanner\"}" "$URL/api/devices")
  export ATTACK_EVENT=$attack_event ATTACK_GATE=x-1
  export ATTACK_DEVICE_ID=$(echo "$kiosk" | python3 -c 'import json,sys; print(json.load(sys.stdin)["deviceId"])')
  export ATTACK_TOKEN=$(echo "$kiosk" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  export PHONE_TOKEN=$(echo "$phone" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  export CODES_FILE="$WORK/codes-$store.txt" PORT SERVICE_PID=$SERVER
  for _ in 1 2 3 4 5; do
    curl -sf "${auth[@]}" -d '{"quantity":10000}' "$URL/api/events/$EVENT/tickets" \
      | python3 -c 'import json,sys; [print(t["qrData"]) for t in json.load(sys.stdin)["tickets"]]' >> "$CODES_FILE"
  done
  # The database settled after the issuing, as bench-postgres does: what is measured is the
  # attacks, not the first autovacuum of 50,000 fresh rows.
  [[ "$store" == postgres ]] && psql "$db" -qc "VACUUM ANALYZE tickets" -c "CHECKPOINT"
  echo
  echo "== $store: $(wc -l < "$CODES_FILE") tickets, service pid $SERVER, soft fd limit 1024"
  python3 bench/hostile_soak.py || status=1
  kill -0 $SERVER && echo "service still running"
  kill $SERVER; wait $SERVER 2>/dev/null || true
done
exit $status
