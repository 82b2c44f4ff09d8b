#!/usr/bin/env bash
# Registration and mail benchmark (issue #26), release build, SQLite:
# 1. registrations per second through the public form (wrk, 16 keep-alive connections), each
#    storing a ticket and its sealed mail; the reference in the same run is the admin API issuing
#    one named ticket per request (the same ticket without form, limit or outbox).
# 2. ticket mails per second (text, HTML, inline PNG, PDF) from the outbox to a local aiosmtpd;
#    the reference is Python's smtplib sending a message of the same size to the same server over
#    as many connections at once.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
MAILS=${MAILS:-1000}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
source scripts/bench-common.sh
export GATEHOUSE_ADMIN_TOKEN

wrk_run() {  # $1 label, $2 lua script
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$2" "$URL" > "$WORK/wrk.txt" 2> "$WORK/wrk.err" || true
  printf '%-34s %9s req/s   p50 %8s   p99 %8s   (%s errors)\n' "$1" "$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")" \
    "$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt")" "$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")" "$(grep -c unexpected "$WORK/wrk.err" || true)"
}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
auth=(-H "Authorization: Bearer $GATEHOUSE_ADMIN_TOKEN" -H "Content-Type: application/json")
serve() {  # the service on $WORK/bench.sqlite with extra flags; waits until it answers
  "$BIN" serve --db "$WORK/bench.sqlite" --port "$PORT" --log-level warning --registration-limit 1000000 "$@" \
    > "$WORK/serve.out" 2> "$WORK/serve.err" &
  SERVER=$!
  for _ in $(seq 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
}

echo "SQLite, WAL, synchronous=FULL; $CONNECTIONS keep-alive connections, $DURATION each, $(nproc) cores"
# No SMTP server: every registration's mail waits in the outbox (what a burst of sign-ups does
# before the sender catches up).
serve
EVENT=$(curl -sf "${auth[@]}" -d '{"name":"Bench registration","registration":{"open":true,"onePerEmail":true}}' "$URL/api/events" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
export EVENT ORIGIN="http://127.0.0.1:$PORT"
wrk_run "registrations (public form)" bench/register.lua
registered=$(curl -sf "${auth[@]}" "$URL/api/events/$EVENT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["registration"]["registered"])')
waiting=$(curl -sf "${auth[@]}" "$URL/api/events/$EVENT/mails" | python3 -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin)["mails"] if m["state"] == "pending"))')
echo "  durably registered: $registered ($(python3 -c "print(round($registered / ${DURATION%s}))")/s), mails waiting (first 1000 listed): $waiting"
wrk_run "reference: API, one ticket/request" bench/issue-one.lua

# Mails: MAILS registrations wait, then the service restarts with the SMTP server and sends them.
kill $SERVER; wait $SERVER 2>/dev/null || true
rm -f "$WORK/bench.sqlite"*
smtp_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$WORK/maildir" &
SMTP=$!
trap 'kill $SERVER $SMTP 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
serve
EVENT=$(curl -sf "${auth[@]}" -d '{"name":"Bench mail","startsAt":"2027-06-12T17:00:00Z","place":"Pier 4","registration":{"open":true}}' "$URL/api/events" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for n in $(seq "$MAILS"); do
  curl -sf -o /dev/null -H "Origin: http://127.0.0.1:$PORT" -H "Sec-Fetch-Site: same-origin" \
    --data "name=Guest+$n&email=guest$n%40example.org" "$URL/register/$EVENT"
done
kill $SERVER; wait $SERVER 2>/dev/null || true
start=$(date +%s.%N)
serve --smtp-url "smtp://127.0.0.1:$smtp_port?tls=none" --mail-from "Bench <tickets@example.org>" --public-url "$URL"
while [[ $(ls "$WORK/maildir/new" 2>/dev/null | wc -l) -lt $MAILS ]]; do sleep 0.05; done
end=$(date +%s.%N)
size=$(find "$WORK/maildir/new" -type f -printf '%s\n' | sort -n | tail -1)
python3 -c "s = $end - $start; print(f'{\"ticket mails (PDF, PNG, 2 parts)\":34} {$MAILS / s:9.0f} mails/s  ($MAILS in {s:.1f} s, {$size / 1000:.0f} kB each, incl. start-up)')"
# The reference: the same server, messages of the same size, 4 connections at once as the outbox.
/usr/bin/python3 - "$smtp_port" "$MAILS" "$size" <<'PY'
import smtplib, sys, time, concurrent.futures
port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
body = "Subject: reference\r\n\r\n" + ("x" * 76 + "\r\n") * (size // 78)
def send(n):
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("tickets@example.org", [f"ref{n}@example.org"], body)
start = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    list(pool.map(send, range(count)))
seconds = time.monotonic() - start
print(f"{'reference: smtplib, same size':34} {count / seconds:9.0f} mails/s  ({count} in {seconds:.1f} s)")
PY
