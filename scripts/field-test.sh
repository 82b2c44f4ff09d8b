#!/usr/bin/env bash
# make field-test: the kiosk and the service on a real kernel under their own units.
#
# 1. the rig's tools (QEMU, debootstrap, gcc) from Debian's packages;
# 2. the Debian 13 guest image (scripts/field-rig/build-image.sh; reused while current);
# 3. the static release build for the guest's libraries (its libgpiod 2.x), into .build-guest;
# 4. the frame feeder (the stand-in camera's writer);
# 5. one boot under QEMU (software emulation: KVM does not work on these machines), which installs
#    with `make install` and runs the scenarios (scripts/field-rig/guest/); a boot that never
#    reaches multi-user is retried at most twice.
# Prints one line per scenario with its figures; results, console and journals in field-test-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export FIELD_RIG_DIR=${FIELD_RIG_DIR:-/var/tmp/gatehouse-field-rig}
rig=$FIELD_RIG_DIR
out=${FIELD_TEST_OUT:-$repo/field-test-out}
SWIFT=${SWIFT:-swift}
# The functions main() runs in scripts/field-rig/guest/scenarios.py: each must run and pass.
scenarios=13

[[ $(id -u) -eq 0 ]] || { echo "make field-test needs root (debootstrap, chroot)" >&2; exit 1; }
bash scripts/install-deps.sh --with-field-rig
bash scripts/field-rig/build-image.sh

sysroot=$rig/sysroot
started=$SECONDS
GATEHOUSE_GUEST_SYSROOT=$sysroot make --no-print-directory static SWIFT="$SWIFT" STATIC_SCRATCH=.build-guest > "$rig/guest-build.log" 2>&1 ||
  { tail -30 "$rig/guest-build.log" >&2; exit 1; }
echo "field rig: static build for the guest in $((SECONDS - started)) s"

rm -rf "$out" && mkdir -p "$out"
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$out/frame-feeder" scripts/field-rig/frame-feeder.c -lqrencode

boot() {
  timeout --foreground 1500 qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
    -display none -no-reboot -serial "file:$out/console.log" -nic none \
    -kernel "$rig/vmlinuz" -initrd "$rig/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 panic=-1 oops=panic gatehouse.field-test systemd.show_status=0" \
    -drive "file=$rig/image.ext4,format=raw,if=virtio,snapshot=on" \
    -virtfs "local,path=$repo,mount_tag=repo,security_model=none,readonly=on" \
    -virtfs "local,path=$out,mount_tag=out,security_model=none" &
  local qemu=$!
  # A boot that has not reached multi-user within 4 minutes is stuck (or oopsed): stop it.
  for _ in $(seq 1 240); do
    [[ -e "$out/booted" ]] && break
    kill -0 "$qemu" 2>/dev/null || break
    sleep 1
  done
  [[ -e "$out/booted" ]] || kill "$qemu" 2>/dev/null || true
  wait "$qemu" || true
}

attempt=1
while :; do
  rm -f "$out/booted" "$out/status" "$out/results.jsonl"
  boot_started=$SECONDS
  boot
  if [[ -e "$out/booted" ]]; then
    echo "field rig: boot $attempt reached multi-user at $(cut -d' ' -f1 "$out/booted") s of guest uptime; run took $((SECONDS - boot_started)) s"
    break
  fi
  # The kernel's own words, case and all: the command line holds "panic=-1 oops=panic" too.
  echo "field rig: boot $attempt never reached multi-user (console: $(grep -m1 -E 'Oops|Kernel panic|BUG:' "$out/console.log" || echo 'no oops printed'))"
  cp "$out/console.log" "$out/console.boot-$attempt.log"
  (( attempt < 3 )) || { echo "field rig: gave up after 3 boots" >&2; exit 1; }
  attempt=$((attempt + 1))
done

status=$(cat "$out/status" 2>/dev/null || echo "none")
python3 - "$out/results.jsonl" "$scenarios" <<'PY'
import json, sys
path, expected = sys.argv[1], int(sys.argv[2])
try:
    results = [json.loads(line) for line in open(path)]
except FileNotFoundError:
    results = []
for result in results:
    figures = ", ".join(f"{k}={v}" for k, v in result["figures"].items())
    print(f"{'PASS' if result['ok'] else 'FAIL'} {result['scenario']}: {result['detail']} [{figures}]")
if len(results) != expected:
    print(f"FAIL {expected - len(results)} of {expected} scenarios did not run")
PY
if [[ "$status" != 0 ]] || [[ $(grep -c '"ok": true' "$out/results.jsonl" 2>/dev/null || echo 0) -ne $scenarios ]]; then
  echo "field rig: FAILED (guest run exit $status); see $out/run.log, $out/journal.txt, $out/console.log" >&2
  exit 1
fi
echo "field rig: all $scenarios scenarios passed"
