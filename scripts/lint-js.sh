#!/usr/bin/env bash
# The pages' JavaScript (Sources/GatehouseWeb/Assets) through ESLint's recommended rules and the
# project's few more (.eslintrc.json there). ESLint comes from Debian's `eslint` package
# (scripts/install-deps.sh --with-test-tools); its modules live in /usr/share/nodejs.
set -euo pipefail
cd "$(dirname "$0")/.."
assets=Sources/GatehouseWeb/Assets
if ! command -v eslint >/dev/null 2>&1; then
  echo "lint-js.sh: eslint is missing: run scripts/install-deps.sh --with-test-tools" >&2
  exit 1
fi
# The unix formatter: the default one needs a module Debian's package does not ship.
NODE_PATH=/usr/share/nodejs eslint --no-eslintrc -c "$assets/.eslintrc.json" -f unix --max-warnings 0 "$assets"/static/*.js "$assets"/sw.js
echo "lint-js.sh: $(ls "$assets"/static/*.js "$assets"/sw.js | wc -l) scripts clean"
