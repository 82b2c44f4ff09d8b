#!/usr/bin/env bash
# The web pages in real headless Chromium (Debian's chromium and chromium-driver) against the
# real `gatehouse serve` of the test build: Tests/Browser/browser_tests.py. The WebDriver client
# (selenium) and a QR writer for the fake camera's video (segno) come from PyPI into a venv of
# their own. Screenshots and the printed sheet's PDF are left in browser-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(chromium chromium-driver poppler-utils zbar-tools python3-venv fonts-dejavu-core fonts-noto-color-emoji)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
venv=${BROWSER_VENV:-.build/browser-venv}
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "selenium>=4.15,<5" "segno>=1.5,<2"
fi
rm -rf browser-artifacts && mkdir -p browser-artifacts
GATEHOUSE_BIN=${GATEHOUSE_BIN:-$(swift build --show-bin-path)/gatehouse} BROWSER_ARTIFACTS=browser-artifacts \
  "$venv/bin/python" Tests/Browser/browser_tests.py "$@"
