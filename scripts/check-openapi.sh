#!/usr/bin/env bash
# The running service against its own description (Sources/GatehouseWeb/Assets/openapi.yaml,
# served at /api/openapi.yaml), through schemathesis, a property-based API fuzzer from PyPI:
# generated requests to every operation, valid and not, must never get a 5xx, and every answer
# must match the description (status, content type, headers, body schema). Organizer routes run
# with the admin token and with a box office's personal token (its 403s), gate and scanner routes
# with device tokens of their kinds.
set -euo pipefail
cd "$(dirname "$0")/.."
gatehouse=${GATEHOUSE_BIN:-.build/debug/gatehouse}
examples=${OPENAPI_EXAMPLES:-40}
venv=${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/schemathesis-4.32.5
if [[ ! -x $venv/bin/st ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==4.32.5"
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
admin="openapi-check-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
GATEHOUSE_ADMIN_TOKEN=$admin "$gatehouse" serve --db "$work/g.sqlite" --port "$port" >"$work/service.log" 2>&1 &
service=$!
trap 'kill $service 2>/dev/null; wait $service 2>/dev/null; rm -rf "$work"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
call() { curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' "$@"; }
event=$(call -d '{"name":"OpenAPI check","signedCodes":true}' "$base/api/events" | json '["id"]')
call -d '{"quantity":5}' "$base/api/events/$event/tickets" >/dev/null
kiosk=$(call -d "{\"name\":\"kiosk\",\"gateId\":\"g1\",\"eventId\":\"$event\"}" "$base/api/devices" | json '["token"]')
phone=$(call -d "{\"name\":\"phone\",\"gateId\":\"g2\",\"eventId\":\"$event\",\"kind\":\"scanner\"}" "$base/api/devices" | json '["token"]')

# A box office's personal token: most organizer routes answer it 403, which must be described too.
account=$(call -d "{\"email\":\"boxoffice@example.org\",\"role\":\"boxoffice\",\"eventIds\":[\"$event\"],\"password\":\"openapi check password\"}" \
  "$base/api/accounts" | json '["account"]["id"]')
boxoffice=$(call -d '{"name":"openapi check"}' "$base/api/accounts/$account/tokens" | json '["token"]')

fuzz() {
  local token=$1
  shift
  # From the scratch folder: schemathesis keeps its cache of failing cases in the working folder.
  (cd "$work" && "$venv/bin/st" run "$base/api/openapi.yaml" --url "$base" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "$examples" --seed 7 --workers 1 --request-timeout 10 \
    --header "Authorization: Bearer $token" --output-sanitize true "$@")
}
status=0
# Revoking devices would sign the fuzzer's own devices out half-way: those two run last. The
# event stream never ends by itself, so a fuzzer can only time out on it: its refusals are
# checked by EventStreamTests instead.
fuzz "$admin" --exclude-tag gate --exclude-tag scanner --exclude-operation-id revokeDevice --exclude-operation-id scannerSignOut \
  --exclude-operation-id eventStream || status=1
fuzz "$kiosk" --include-tag gate || status=1
fuzz "$phone" --include-tag scanner --exclude-operation-id scannerSignOut || status=1
fuzz "$boxoffice" --include-tag organizer --exclude-operation-id eventStream --max-examples 10 || status=1
fuzz "$admin" --include-operation-id revokeDevice || status=1
if [[ $status -ne 0 ]]; then
  echo "check-openapi.sh: the service and openapi.yaml disagree (service log: last lines below)" >&2
  tail -20 "$work/service.log" >&2
fi
exit $status
