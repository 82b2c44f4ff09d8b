#!/usr/bin/env bash
# Builds the GPIO shim (Sources/CGpiod) against libgpiod 2.x and runs it up to the kernel.
# This machine has libgpiod 1.6 (Debian 12); Debian 13 and Raspberry Pi OS trixie ship 2.x.
# The 2.x library sources come from the `gpiod` package on PyPI, which bundles them.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Up to three tries: one dropped fetch from PyPI is the network's failure, not the shim's.
fetch() { python3 -m pip download --quiet --no-deps --no-binary :all: "gpiod>=2.2,<3" -d "$work" > "$work/pip.log" 2>&1; }
if ! { fetch || { sleep 5 && fetch; } || { sleep 15 && fetch; }; }; then
  tail -3 "$work/pip.log" >&2
  # A check that cannot run has not passed: only an explicit choice skips it.
  if [[ ${GATEHOUSE_SKIP_GPIOD_V2:-} == 1 ]]; then
    echo "libgpiod 2.x check SKIPPED (GATEHOUSE_SKIP_GPIOD_V2=1): the shim is untested against libgpiod 2.x" >&2
    exit 0
  fi
  echo "check-gpiod-v2.sh: cannot fetch libgpiod 2.x from PyPI (package gpiod); set GATEHOUSE_SKIP_GPIOD_V2=1 to skip knowingly" >&2
  exit 1
fi
tar -xzf "$work"/gpiod-*.tar.gz -C "$work"
src=$(ls -d "$work"/gpiod-*/ | head -1)
cat > "$work/check.c" <<'C'
#include "gh_gpiod.h"
#include <errno.h>
#include <stdio.h>
int main(void) {
    int error = 0;
    gh_gpio_output *line = gh_gpio_request_output("gatehouse-no-such-chip", 17, 1, 0, "gatehouse-check", &error);
    printf("libgpiod API %d.x: request on a missing chip %s (errno %d)\n", gh_gpio_api_version(), line ? "succeeded?!" : "refused", error);
    return (gh_gpio_api_version() == 2 && line == NULL && error == ENOENT) ? 0 : 1;
}
C
gcc -std=gnu11 -Wall -Werror -D_GNU_SOURCE -DGPIOD_API_VERSION_STR='"2"' \
  -I "$src/include" -I "$src/lib" -I Sources/CGpiod/include \
  -o "$work/check" "$work/check.c" Sources/CGpiod/gh_gpiod.c "$src"/lib/*.c
"$work/check"
