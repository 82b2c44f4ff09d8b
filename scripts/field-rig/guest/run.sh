#!/usr/bin/env bash
# Inside the guest (started by field-test-boot): install as a technician would, then run the
# scenarios. $1 is the project (read-only over 9p), $2 the results folder.
set -euo pipefail
repo=$1
out=$2
here="$repo/scripts/field-rig/guest"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The kiosk's own journal as JSON, for the artefacts, whatever happens below.
trap 'journalctl -b -u gate-kiosk -u gatehouse -o json --no-pager > "$out/units.journal.json" 2>&1 || true' EXIT
bash "$here/install.sh" "$repo" "$out"
python3 "$here/scenarios.py" "$out"
