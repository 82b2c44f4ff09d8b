#!/usr/bin/env bash
# Runs a command with a throwaway MariaDB server of its own: its own data folder and socket, a
# free port on 127.0.0.1, stopped and removed afterwards. The command finds it in
#   GATEHOUSE_TEST_MYSQL        mysql:// URL of an empty database (user gatehouse, TCP)
#   GATEHOUSE_TEST_MYSQL_SOCKET the same database through the server's Unix socket
#   GATEHOUSE_TEST_MYSQL_ROOT   mysql:// URL of the server's root user (for the refusal tests)
#   GATEHOUSE_TEST_MYCTL        a script taking `stop` or `start` (for the restart test)
# Needs Debian's mariadb-server package (scripts/install-deps.sh --with-test-tools installs it).
set -euo pipefail

server=$(command -v mariadbd || ls /usr/sbin/mariadbd /usr/sbin/mysqld 2>/dev/null | head -1 || true)
if [[ -z "$server" || ! -x "$server" ]]; then
  echo "with-mariadb: no MariaDB server (apt-get install mariadb-server)" >&2
  exit 1
fi
data=$(mktemp -d /tmp/gatehouse-mariadb.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
socket="$data/mysqld.sock"

# The server refuses to run as root: it runs as the `mysql` user when we are root.
owner=$(id -un)
if [[ $(id -u) -eq 0 ]]; then
  owner=mysql
  chown mysql: "$data"
fi
cleanup() {
  if [[ -f "$data/mysqld.pid" ]]; then kill -9 "$(cat "$data/mysqld.pid")" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

mariadb-install-db --no-defaults --datadir="$data/db" --user="$owner" --auth-root-authentication-method=normal \
  --skip-test-db --skip-name-resolve >"$data/install.log" 2>&1 || { cat "$data/install.log" >&2; exit 1; }
ctl="$data/ctl.sh"
cat > "$ctl" <<CTL
#!/usr/bin/env bash
# stop | start the test server
case "\$1" in
  stop)
    mariadb-admin --no-defaults --socket="$socket" -u root shutdown >/dev/null 2>&1 || true
    for _ in \$(seq 100); do [[ -S "$socket" ]] || exit 0; sleep 0.1; done ;;
  start)
    # Durable as in production (InnoDB's defaults: the redo log flushed at every commit).
    "$server" --no-defaults --datadir="$data/db" --socket="$socket" --port=$port --bind-address=127.0.0.1 \\
      --user=$owner --pid-file="$data/mysqld.pid" --log-error="$data/server.log" --skip-name-resolve \\
      --innodb-flush-log-at-trx-commit=1 --innodb-buffer-pool-size=256M --max-connections=1000 >/dev/null 2>&1 &
    for _ in \$(seq 300); do
      mariadb-admin --no-defaults --socket="$socket" -u root ping >/dev/null 2>&1 && exit 0
      sleep 0.1
    done
    echo "with-mariadb: the server did not start" >&2; cat "$data/server.log" >&2; exit 1 ;;
esac
CTL
chmod 755 "$ctl"
bash "$ctl" start
mariadb --no-defaults --socket="$socket" -u root <<SQL
CREATE DATABASE gatehouse_test CHARACTER SET utf8mb4;
CREATE USER 'gatehouse'@'127.0.0.1' IDENTIFIED BY 'test-password';
CREATE USER 'gatehouse'@'localhost' IDENTIFIED BY 'test-password';
GRANT ALL ON gatehouse_test.* TO 'gatehouse'@'127.0.0.1';
GRANT ALL ON gatehouse_test.* TO 'gatehouse'@'localhost';
ALTER USER 'root'@'localhost' IDENTIFIED BY 'root-password';
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'root-password';
GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
SQL
# The control script stops the server as root through the socket.
sed -i "s|-u root shutdown|-u root -proot-password shutdown|" "$ctl"

export GATEHOUSE_TEST_MYSQL="mysql://gatehouse:test-password@127.0.0.1:$port/gatehouse_test?ssl-mode=disabled"
export GATEHOUSE_TEST_MYSQL_SOCKET="mysql://gatehouse:test-password@localhost/gatehouse_test?socket=$socket&ssl-mode=disabled"
export GATEHOUSE_TEST_MYSQL_ROOT="mysql://root:root-password@127.0.0.1:$port/mysql?ssl-mode=disabled"
export GATEHOUSE_TEST_MYCTL="$ctl"
echo "with-mariadb: $("$server" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
set +e
"$@"
status=$?
set -e
# A server that died under the tests explains every failure after it: say so, with its log.
if ! mariadb-admin --no-defaults --socket="$socket" -u root -proot-password ping >/dev/null 2>&1; then
  echo "with-mariadb: the server is not running at the end of the command; the end of its log:" >&2
  tail -n 60 "$data/server.log" >&2 || true
fi
exit $status
