#!/usr/bin/env bash
# The installation, the way docs/technicians.md tells a technician to do it, on a guest whose
# "USB camera" is a v4l2loopback device and whose GPIO header is a gpio-sim chip. Leaves what the
# scenarios need (ticket codes, the chip's sysfs folder) in /run/field-rig.
set -euo pipefail
repo=$1
out=$2
state=/run/field-rig
mkdir -p "$state"
step() { echo "== $*"; }

step "hardware: the loopback camera and the simulated GPIO chip"
modprobe v4l2loopback exclusive_caps=1 video_nr=4 card_label="Gate Rig Camera"
modprobe gpio-sim
chip=/sys/kernel/config/gpio-sim/gate-rig
mkdir "$chip" "$chip/bank0"
echo 32 > "$chip/bank0/num_lines"
for line in 17:green 27:red 22:relay 23:alarm 24:passage 25:direction 26:exit_relay 16:staff_button 5:key_free 6:key_locked 13:key_out_of_order; do
  mkdir "$chip/bank0/line${line%%:*}"
  echo "${line##*:}" > "$chip/bank0/line${line%%:*}/name"
done
echo 1 > "$chip/live"
chip_name=$(cat "$chip/bank0/chip_name")
echo "/sys/devices/platform/$(cat "$chip/dev_name")/$chip_name" > "$state/gpio-sysfs"
echo "$chip_name" > "$state/gpio-chip"
gpiodetect

step "make install (the static build for this system's libraries)"
make -C "$repo" --no-print-directory install BUILT="$repo/.build-guest/release"
systemd-sysusers
# The camera rule as the guide says to adapt it: this camera has no USB ids, so it is matched by
# the name the driver gives it (udevadm info --attribute-walk shows ATTR{name}).
sed -i 's/ATTRS{idVendor}=="046d", ATTRS{idProduct}=="0825"/ATTR{name}=="Gate Rig Camera"/' /etc/udev/rules.d/70-gate-camera.rules
grep -q 'ATTR{name}=="Gate Rig Camera"' /etc/udev/rules.d/70-gate-camera.rules
udevadm control --reload
udevadm trigger --subsystem-match=video4linux --subsystem-match=gpio --action=add
udevadm settle
ls -l /dev/gate-camera "/dev/$chip_name"
[[ "$(stat -c %G "/dev/$chip_name")" == gpio ]] || { echo "/dev/$chip_name is not in group gpio" >&2; exit 1; }
[[ "$(readlink -f /dev/gate-camera)" == /dev/video4 ]] || { echo "/dev/gate-camera does not point at the loopback" >&2; exit 1; }

step "the check-in service, on SQLite"
install -d -m 0755 /etc/gatehouse
head -c 24 /dev/urandom | base64 | tr -d '/+=' > /etc/gatehouse/admin-token
chmod 0600 /etc/gatehouse/admin-token
systemctl enable --now gatehouse.service
for _ in $(seq 1 120); do systemctl is-active --quiet gatehouse.service && break; sleep 0.5; done
systemctl is-active gatehouse.service
export GATEHOUSE_DB=/var/lib/gatehouse/gatehouse.sqlite
event=$(gatehouse event create --name "Field rig" | sed -n 's/.*"id" : "\([A-Z0-9]*\)".*/\1/p')
[[ -n "$event" ]]
gatehouse tickets issue --event "$event" --count 8 --out "$state/tickets"
cut -d, -f1,6 "$state/tickets/manifest.csv" | tail -n +2 > "$state/codes"
pairing=$(gatehouse device pair --event "$event" --gate rig-1 --name "Rig kiosk" | sed -n 's/^Pairing code for gate rig-1: //p')

step "enroll and start the kiosk"
gate-kiosk enroll --server http://127.0.0.1:8080 --code "$pairing"
# The gate's own settings a technician picks: the chip the header is on, and a shorter
# cool-down than the default 8 s so that a used code can be shown again soon in the scenarios.
sed -i -e "s/^#\? *green_chip *=.*/green_chip = $chip_name/" -e "s/^#\? *red_chip *=.*/red_chip = $chip_name/" \
  -e "s/^#\? *relay_chip *=.*/relay_chip = $chip_name/" -e "s/^#\? *cooldown_ms *=.*/cooldown_ms = 2000/" /etc/gate-kiosk/gate-kiosk.conf
grep -E '^(server_url|device_id|gate_id|green_chip|cooldown_ms)' /etc/gate-kiosk/gate-kiosk.conf
cp /etc/gate-kiosk/gate-kiosk.conf "$state/gate-kiosk.conf.good"
ls -l /etc/gate-kiosk/device-token
systemctl enable --now gate-kiosk.service
echo "$event" > "$state/event"
