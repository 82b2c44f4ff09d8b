#!/usr/bin/env bash
# `make install DESTDIR=<scratch>` puts exactly the expected files, with the expected modes,
# inside the scratch folder; `make uninstall` takes them out again. Uses the binaries the test
# build made (BUILT=.build/debug), so it costs no second build.
set -euo pipefail
cd "$(dirname "$0")/.."
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
marker=$(mktemp)
make --no-print-directory install DESTDIR="$stage" PREFIX=/opt/gatehouse BUILT=.build/debug >/dev/null
expected="0644 etc/gate-kiosk/gate-kiosk.conf
0644 etc/sysusers.d/gatehouse.conf
0644 etc/systemd/system/gate-kiosk.service
0644 etc/systemd/system/gatehouse.service
0644 etc/udev/rules.d/60-gatehouse-gpio.rules
0644 etc/udev/rules.d/70-gate-camera.rules
0644 opt/gatehouse/share/doc/gatehouse/docs/api.md
0644 opt/gatehouse/share/doc/gatehouse/docs/architecture.md
0644 opt/gatehouse/share/doc/gatehouse/docs/benchmarks.md
0644 opt/gatehouse/share/doc/gatehouse/docs/operations.md
0644 opt/gatehouse/share/doc/gatehouse/docs/organizers.md
0644 opt/gatehouse/share/doc/gatehouse/docs/technicians.md
0644 opt/gatehouse/share/doc/gatehouse/README.md
0755 opt/gatehouse/bin/gate-kiosk
0755 opt/gatehouse/bin/gatehouse"
expected=$(echo "$expected" | LC_ALL=C sort)
actual=$(cd "$stage" && find . -type f -printf '%m %P\n' | sed 's/^\([0-7]\{3\}\) /0\1 /' | LC_ALL=C sort)
if [[ "$actual" != "$expected" ]]; then
  echo "make install put other files than expected:" >&2
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  exit 1
fi
grep -q '^ExecStart=/opt/gatehouse/bin/gate-kiosk ' "$stage/etc/systemd/system/gate-kiosk.service" || { echo "unit not pointed at PREFIX" >&2; exit 1; }
# Nothing outside the stage: no file on this machine is newer than the marker in those places.
if find /etc/systemd/system /etc/udev/rules.d /etc/gate-kiosk /opt/gatehouse -newer "$marker" -type f 2>/dev/null | grep -q .; then
  echo "make install wrote outside DESTDIR" >&2
  exit 1
fi
rm -f "$marker"
make --no-print-directory uninstall DESTDIR="$stage" PREFIX=/opt/gatehouse >/dev/null
left=$(cd "$stage" && find . -type f -printf '%P\n' | LC_ALL=C sort)
if [[ "$left" != "etc/gate-kiosk/gate-kiosk.conf" ]]; then
  echo "make uninstall left: $left" >&2
  exit 1
fi
echo "make install DESTDIR: $(echo "$expected" | wc -l) files with the expected modes; uninstall keeps only the configuration"
