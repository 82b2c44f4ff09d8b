#!/usr/bin/env bash
# Issuing benchmark (issue #31): the release `gatehouse tickets issue` on a fresh SQLite file,
# TICKETS anonymous tickets for each --images choice. `none` (the database and the manifest
# alone) is the reference measured in the same run: what images cost is the rest.
# Prints tickets per second, seconds, and the bytes written to the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."
TICKETS=${TICKETS:-20000}
swift build -c release --product gatehouse >&2
BIN=${GATEHOUSE_BIN:-$(swift build -c release --show-bin-path)/gatehouse}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "$TICKETS tickets, SQLite, $(nproc) cores"
printf '%-8s %12s %10s %12s\n' images tickets/s seconds "MB written"
for images in none png svg both; do
  db="$WORK/$images.sqlite"
  event=$("$BIN" event create --db "$db" --name "Bench $images" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  start=$(date +%s.%N)
  "$BIN" tickets issue --db "$db" --event "$event" --count "$TICKETS" --images "$images" --out "$WORK/out-$images" > /dev/null
  end=$(date +%s.%N)
  written=$(du -sb "$WORK/out-$images" | cut -f1)
  python3 -c "s = $end - $start; print(f'{\"$images\":8} {$TICKETS / s:12.0f} {s:10.2f} {$written / 1e6:12.1f}')"
  rm -rf "$WORK/out-$images"
done
