#!/usr/bin/env bash
# Before and after in one run (issue #27): first check-ins per second through the HTTP API on
# SQLite, PostgreSQL and MariaDB, with the release `gatehouse` of an earlier commit (BEFORE, a git
# revision) and of the working tree, in alternating rounds (before, after, before, after, ...) so
# the machine's drift falls on both alike. Each run gets a fresh database of its own on the same
# server (an older binary refuses a newer schema), tickets in random order.
# Usage: BEFORE=<rev> bash scripts/with-postgres.sh bash scripts/with-mariadb.sh bash scripts/bench-before-after.sh
#        (make bench-before-after BEFORE=<rev>)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BEFORE:?name the earlier revision: BEFORE=<rev>}"
: "${GATEHOUSE_TEST_POSTGRES:?run under scripts/with-postgres.sh}"
: "${GATEHOUSE_TEST_MYSQL:?run under scripts/with-mariadb.sh}"
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-16}
PER_RUN=${PER_RUN:-100000}   # more than a run can use up (see api_run)
STORES=${STORES:-sqlite postgres mysql}

# The earlier binary is built in a worktree with a build directory of its own, kept for the next
# run (the first build of a release tree takes a quarter of an hour on two cores).
rev=$(git rev-parse --short "$BEFORE")
tree=.build/before/$rev
if [[ ! -x $tree/.build/release/gatehouse ]]; then
  [[ -d $tree ]] || git worktree add --detach "$tree" "$rev" >&2
  (cd "$tree" && swift build -c release --product gatehouse >&2)
fi
swift build -c release --product gatehouse >&2
declare -A BINS=([before]="$tree/.build/release/gatehouse" [after]="$(swift build -c release --show-bin-path)/gatehouse")

WORK=$(mktemp -d)
SERVER=""
trap '[[ -n "$SERVER" ]] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
source scripts/bench-database-api.sh

read -r MY_HOST MY_PORT MY_USER MY_PASSWORD < <(python3 -c '
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1]); print(p.hostname, p.port, u.unquote(p.username), u.unquote(p.password))' "$GATEHOUSE_TEST_MYSQL_ROOT")
# A fresh database for one run: its URL.
fresh_database() {
  local store=$1 name=bench_$2
  case $store in
    sqlite) echo "$WORK/$name.sqlite" ;;
    postgres)
      psql -q "$GATEHOUSE_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >&2
      echo "${GATEHOUSE_TEST_POSTGRES%/*}/$name" ;;
    mysql)
      mariadb --no-defaults -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" -p"$MY_PASSWORD" \
        -e "DROP DATABASE IF EXISTS $name; CREATE DATABASE $name; GRANT ALL ON $name.* TO 'gatehouse'@'127.0.0.1'" >&2
      echo "${GATEHOUSE_TEST_MYSQL%%/gatehouse_test*}/$name?ssl-mode=disabled" ;;
  esac
}

# What a run cost, from /proc (CPU in clock ticks of 10 ms): the service's CPU, the database
# server's (every mariadbd or postgres process; none for SQLite) and the service's context switches
# (all its threads), so a change's cost per check-in shows through this machine's drift in rate.
ticks() {
  local total=0 pid
  for pid in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0))); done
  echo "$total"
}
database_pids() { case $1 in mysql) pgrep -x mariadbd || true ;; postgres) pgrep -x postgres || true ;; esac; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {sum += $2} END {print sum + 0}'; }

echo "$CONNECTIONS connections, ${DURATION}s per run, first check-ins in random ticket order; before = $rev, after = working tree"
for store in $STORES; do
  : > "$WORK/before.rates"; : > "$WORK/after.rates"; : > "$WORK/ratios"
  for round in $(seq 1 "$ROUNDS"); do
    line="$store round $round:"
    for side in before after; do
      BIN=${BINS[$side]}
      db=$(fresh_database "$store" "${side}_$round")
      start_service "$db"
      api_setup "$PER_RUN"
      # Fresh statistics: a table filled since its last ANALYZE can get plans made for an empty one.
      if [[ $store == postgres ]]; then psql -q "$db" -c "ANALYZE"; fi
      service0=$(ticks "$SERVER"); database0=$(ticks $(database_pids "$store")); switches0=$(switches "$SERVER")
      read -r rate p50 p99 < <(api_run 0)
      service1=$(ticks "$SERVER"); database1=$(ticks $(database_pids "$store")); switches1=$(switches "$SERVER")
      stop_service
      checkins=$((rate > 0 ? rate * DURATION : 1))
      echo "$rate" >> "$WORK/$side.rates"
      line+=$(printf '  %s %6s/s p50 %8s p99 %8s [per check-in: service %s µs, database %s µs, %s switches]' "$side" "$rate" "$p50" "$p99" \
        $(((service1 - service0) * 10000 / checkins)) $(((database1 - database0) * 10000 / checkins)) \
        "$(awk -v n=$((switches1 - switches0)) -v c=$checkins 'BEGIN {printf "%.2f", n / c}')")
      if [[ $side == after ]]; then echo "$((rate * 100 / before_rate))" >> "$WORK/ratios"; fi
      before_rate=$rate
    done
    echo "$line"
  done
  printf '%-9s before %6s/s  after %6s/s  (medians of %d rounds; after/before per round, median %s%%)\n' "$store" \
    "$(median < "$WORK/before.rates")" "$(median < "$WORK/after.rates")" "$ROUNDS" "$(median < "$WORK/ratios")"
done
