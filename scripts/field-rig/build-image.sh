#!/usr/bin/env bash
# Builds the field rig's guest: a Debian 13 (trixie) root file system from Debian's archive with
# a stock Debian kernel, the v4l2loopback camera module (Debian's DKMS package) and gpio-sim (built
# out of tree from Debian's kernel source: Debian's kernels do not enable it), packed into an ext4
# image that QEMU boots. Also leaves the guest's libgpiod 2.x and zxing-cpp 2.3 headers and libraries in a small
# sysroot, so the kiosk can be built on this machine for the guest's libraries.
#
# The result is reused while it is current: a stamp holds the hash of this script and of the
# files it bakes in; anything else (the scenarios, the binaries) reaches the guest over 9p at
# boot. Needs root (debootstrap, chroot). Output in $FIELD_RIG_DIR (default /var/tmp/gatehouse-field-rig).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rig=${FIELD_RIG_DIR:-/var/tmp/gatehouse-field-rig}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=trixie
image_size=4G

inputs=("$here/build-image.sh" "$here/gpio-sim/Kbuild" "$here/gpio-sim/build.sh" "$here/guest/field-test-boot" "$here/guest/gatehouse-field-test.service")
stamp=$(cat "${inputs[@]}" | sha256sum | cut -c1-16)
if [[ -f "$rig/image.ext4" && "$(cat "$rig/image.stamp" 2>/dev/null)" == "$stamp" ]]; then
  echo "field rig: guest image is current ($rig, stamp $stamp)"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || { echo "build-image.sh: needs root (debootstrap and chroot)" >&2; exit 1; }

started=$SECONDS
mkdir -p "$rig"
root="$rig/root"
# A half-built tree from an interrupted run is unmounted and thrown away, never reused.
for mount in "$root/proc" "$root/sys" "$root/dev"; do mountpoint -q "$mount" && umount -l "$mount"; done
rm -rf "$root" "$rig/image.ext4" "$rig/image.stamp"

guest_packages=systemd,systemd-sysv,udev,kmod,dbus,initramfs-tools,make,python3,ca-certificates
guest_packages+=,libgpiod3,gpiod,v4l-utils,libv4l-0t64,libzbar0t64,libcurl4t64,libssl3t64
guest_packages+=,libsqlite3-0,libqrencode4,zlib1g,libmariadb3,libargon2-1,libpangocairo-1.0-0,libcairo2,fonts-dejavu-core
echo "field rig: debootstrap $suite from $mirror"
debootstrap --variant=minbase --include="$guest_packages" "$suite" "$root" "$mirror" > "$rig/debootstrap.log" 2>&1 ||
  { tail -20 "$rig/debootstrap.log" >&2; exit 1; }

mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
cleanup() { for mount in "$root/proc" "$root/sys" "$root/dev"; do mountpoint -q "$mount" && umount -l "$mount"; done; }
trap cleanup EXIT
in_guest() { chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }

# The kernel boots from an initramfs with exactly the drivers for QEMU's virtio disk.
mkdir -p "$root/etc/initramfs-tools/conf.d"
echo "MODULES=list" > "$root/etc/initramfs-tools/conf.d/gatehouse-field-rig.conf"
printf '%s\n' virtio_pci virtio_blk ext4 > "$root/etc/initramfs-tools/modules"
echo "field rig: kernel, headers, v4l2loopback, libgpiod-dev, libzxing-dev"
in_guest apt-get install -y -qq --no-install-recommends linux-image-amd64 linux-headers-amd64 v4l2loopback-dkms v4l2loopback-utils libgpiod-dev libzxing-dev > "$rig/apt.log" 2>&1 ||
  { tail -20 "$rig/apt.log" >&2; exit 1; }
kernel=$(ls "$root/lib/modules" | sort -V | tail -1)
# DKMS builds for the running kernel by default, which is this machine's: build for the guest's.
in_guest dkms autoinstall -k "$kernel" >> "$rig/apt.log" 2>&1
find "$root/lib/modules/$kernel" -name 'v4l2loopback.ko*' | grep -q . || { echo "v4l2loopback did not build for $kernel" >&2; tail -30 "$rig/apt.log" >&2; exit 1; }

echo "field rig: gpio-sim for $kernel"
KERNEL_RELEASE=$kernel bash "$here/gpio-sim/build.sh" "$root" >> "$rig/gpio-sim.log" 2>&1 ||
  { tail -30 "$rig/gpio-sim.log" >&2; exit 1; }

# The guest's own settings: its disk, a name, no password prompts on the serial console, and the
# boot hook that runs a test only when the kernel command line asks for one.
echo "/dev/vda / ext4 defaults 0 1" > "$root/etc/fstab"
echo "gate-rig" > "$root/etc/hostname"
install -m 0755 "$here/guest/field-test-boot" "$root/usr/local/sbin/field-test-boot"
install -m 0644 "$here/guest/gatehouse-field-test.service" "$root/etc/systemd/system/gatehouse-field-test.service"
in_guest systemctl enable gatehouse-field-test.service > /dev/null 2>&1
in_guest systemctl mask serial-getty@ttyS0.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer > /dev/null 2>&1
in_guest update-initramfs -u -k "$kernel" > /dev/null 2>&1

# What the host keeps: the kernel and initramfs to boot, and the guest's libgpiod 2.x and
# zxing-cpp 2.3 to link against.
cp "$root/boot/vmlinuz-$kernel" "$rig/vmlinuz"
cp "$root/boot/initrd.img-$kernel" "$rig/initrd.img"
rm -rf "$rig/sysroot" && mkdir -p "$rig/sysroot/include" "$rig/sysroot/lib"
cp "$root/usr/include/gpiod.h" "$rig/sysroot/include/"
cp -P "$root"/usr/lib/x86_64-linux-gnu/libgpiod.so* "$rig/sysroot/lib/"
cp -r "$root/usr/include/ZXing" "$rig/sysroot/include/"
cp -P "$root"/usr/lib/x86_64-linux-gnu/libZXing.so* "$rig/sysroot/lib/"
echo "$kernel" > "$rig/kernel-release"
in_guest dpkg-query -W -f='${Package} ${Version}\n' libgpiod3 libzxing-dev systemd v4l2loopback-dkms "linux-image-$kernel" > "$rig/versions"

cleanup
trap - EXIT
# The apt cache and the kernel source are not needed at run time; the image holds the rest.
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/usr/src/gpio-sim"
mkfs.ext4 -q -F -L gate-rig -d "$root" "$rig/image.ext4" "$image_size"
rm -rf "$root"
echo "$stamp" > "$rig/image.stamp"
echo "field rig: guest image built in $((SECONDS - started)) s ($(tr '\n' ';' < "$rig/versions"))"
