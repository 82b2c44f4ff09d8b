#!/usr/bin/env bash
# Installs the Debian packages Gatehouse builds, tests and runs with, when they are missing.
# Works on Debian 12/13, Ubuntu and Raspberry Pi OS. Needs root (or sudo) only to install.
set -euo pipefail

packages=(
  pkg-config
  libsqlite3-dev      # the embedded store
  libqrencode-dev     # QR images for tickets
  libzbar-dev         # QR decoding (kiosk, round-trip tests)
  libzxing-dev g++    # the second QR engine, zxing-cpp (C++, through a small shim)
  zlib1g-dev          # PNG output
  libpango1.0-dev fonts-dejavu-core  # PDF tickets: cairo draws, Pango lays out text, in a font that covers most scripts
  libmariadb-dev      # the MySQL/MariaDB store (MariaDB Connector/C)
  libargon2-dev       # organizers' passwords (Argon2id)
  libcurl4-openssl-dev libv4l-dev libgpiod-dev libsystemd-dev  # the gate kiosk
)
# Extra packages for tests and benchmarks (PostgreSQL and MariaDB servers, wrk for load, the sqlite3 shell
# with which the offline tests age a kiosk's snapshot, zbarimg as bare zbar in the decoder bench,
# poppler's pdftoppm and pdftotext to read PDF tickets back, aiosmtpd as the mail tests' SMTP server, iproute2 for
# the peer gates' network namespaces).
# The field rig (`make field-test`): QEMU, debootstrap for the Debian 13 guest, a C compiler and
# libv4l/libqrencode headers for the frame feeder it injects into the guest's loopback camera.
for option in "$@"; do
  case "$option" in
    --with-test-tools) packages+=(postgresql mariadb-server mariadb-client wrk sqlite3 zbar-tools eslint python3-venv poppler-utils python3-aiosmtpd prometheus iproute2) ;;
    --with-field-rig) packages+=(qemu-system-x86 qemu-utils debootstrap e2fsprogs gcc libc6-dev) ;;
    *) echo "install-deps.sh: unknown option $option (known: --with-test-tools --with-field-rig)" >&2; exit 64 ;;
  esac
done

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "Installing: ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2

if ! command -v swift >/dev/null 2>&1; then
  echo "Swift is not on PATH: install a Swift 6 toolchain (swift.org) first." >&2
  exit 1
fi
