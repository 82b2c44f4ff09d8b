#!/usr/bin/env bash
# Builds gpio-sim for the guest kernel inside the guest's root tree ($1), from the Debian
# linux-source package of the same version as the guest kernel's headers (the signed image
# package has a version of its own). One change to the kernel source: irq_to_desc() is not
# exported to modules, so the simulated interrupt is raised through its domain instead
# (generic_handle_domain_irq), which is what the in-tree code does on newer kernels.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$1
kernel=${KERNEL_RELEASE:?KERNEL_RELEASE is the guest kernel release}
series=$(echo "$kernel" | cut -d. -f1,2)
in_guest() { chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }

version=$(in_guest dpkg-query -W -f='${Version}' "linux-headers-$kernel")
work=/usr/src/gpio-sim
rm -rf "$root$work" && mkdir -p "$root$work"
(cd "$root$work" && in_guest sh -c "cd $work && apt-get download -q linux-source-$series=$version")
in_guest sh -c "cd $work && dpkg-deb --fsys-tarfile linux-source-${series}_*.deb | tar -xO ./usr/src/linux-source-$series.tar.xz > source.tar.xz"
in_guest tar -xJf "$work/source.tar.xz" -C "$work" \
  "linux-source-$series/drivers/gpio/gpio-sim.c" \
  "linux-source-$series/drivers/gpio/gpiolib.h" \
  "linux-source-$series/kernel/irq/irq_sim.c"
src="$root$work/linux-source-$series"
cp "$src/drivers/gpio/gpio-sim.c" "$root$work/gpio-sim-core.c"
cp "$src/drivers/gpio/gpiolib.h" "$src/kernel/irq/irq_sim.c" "$root$work/"
cp "$here/Kbuild" "$root$work/Kbuild"
sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_domain_irq(work_ctx->domain, offset);/' "$root$work/irq_sim.c"
grep -q 'generic_handle_domain_irq(work_ctx->domain, offset)' "$root$work/irq_sim.c" ||
  { echo "gpio-sim: irq_sim.c of $version does not have the expected irq_to_desc call; update gpio-sim/build.sh" >&2; exit 1; }

in_guest make -C "/lib/modules/$kernel/build" M="$work" modules
install -D -m 0644 "$root$work/gpio-sim.ko" "$root/lib/modules/$kernel/updates/gpio-sim.ko"
in_guest depmod -a "$kernel"
echo "gpio-sim built for $kernel from linux-source-$series $version"
