#!/usr/bin/env bash
# Checks the systemd units: `systemd-analyze verify`, and `systemd-analyze security` must rate
# each at an exposure of 2.0 or lower. Prints both. Uses the installed binaries when present,
# else the ones this checkout built (verify wants ExecStart to exist).
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${EXPOSURE_LIMIT:-2.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
built=${BUILT:-.build/debug}
for unit in systemd/*.service; do
  name=$(basename "$unit")
  sed -e "s|/usr/local/bin/gate-kiosk|$(realpath "$built")/gate-kiosk|" -e "s|/usr/local/bin/gatehouse|$(realpath "$built")/gatehouse|" "$unit" > "$work/$name"
done
status=0
echo "systemd-analyze verify:"
if systemd-analyze verify "$work"/*.service; then echo "  both units verify"; else status=1; fi
for unit in "$work"/*.service; do
  line=$(systemd-analyze security --offline=yes "$unit" 2>&1 | tail -1)
  exposure=$(echo "$line" | grep -oE '[0-9]+\.[0-9]+' | head -1)
  echo "  $line"
  if ! awk -v e="$exposure" -v l="$limit" 'BEGIN { exit !(e != "" && e <= l) }'; then
    echo "  $(basename "$unit"): exposure $exposure is over $limit" >&2
    status=1
  fi
done
exit $status
