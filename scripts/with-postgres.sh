#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster of its own: its own data folder, a free
# port on 127.0.0.1, stopped and removed afterwards. The command finds it in
#   GATEHOUSE_TEST_POSTGRES   postgres:// URL of an empty database
#   GATEHOUSE_TEST_PGCTL      a script taking `stop` or `start` (for the restart test)
# Needs Debian's postgresql package (scripts/install-deps.sh --with-test-tools installs it).
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
  echo "with-postgres: no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 1
fi
data=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

# PostgreSQL refuses to run as root: run the server as the `postgres` user when we are root.
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres: "$data"
  as_owner=(runuser -u postgres --)
fi
cleanup() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$data"
}
trap cleanup EXIT

"${as_owner[@]}" "$bin/initdb" -D "$data" -U gatehouse -A trust --no-sync -E UTF8 >/dev/null
# One role that must give a password (the rest trust loopback), for the start-up error tests.
hba="$data/pg_hba.conf"
{ echo "host all gatehouse_pw 127.0.0.1/32 scram-sha-256"; cat "$hba"; } > "$hba.new" && mv "$hba.new" "$hba"
[[ $(id -u) -eq 0 ]] && chown postgres: "$hba"
ctl="$data/ctl.sh"
cat > "$ctl" <<CTL
#!/usr/bin/env bash
# stop | start the test cluster
case "\$1" in
  stop) ${as_owner[*]} "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null ;;
  start) ${as_owner[*]} "$bin/pg_ctl" -D "$data" -w -l "$data/server.log" -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null ;;
esac
CTL
chmod 755 "$ctl"
bash "$ctl" start
"${as_owner[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U gatehouse gatehouse_test
"${as_owner[@]}" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U gatehouse -d gatehouse_test -c "CREATE ROLE gatehouse_pw LOGIN PASSWORD 'right-password'" >/dev/null

export GATEHOUSE_TEST_POSTGRES="postgres://gatehouse@127.0.0.1:$port/gatehouse_test?sslmode=disable"
export GATEHOUSE_TEST_PGCTL="$ctl"
# The same server without a user: tests connect as gatehouse_pw, whose password is right-password.
export GATEHOUSE_TEST_POSTGRES_PASSWORD_ROLE="127.0.0.1:$port/gatehouse_test?sslmode=disable"
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
set +e
"$@"
status=$?
set -e
exit $status
