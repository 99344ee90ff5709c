#!/usr/bin/env bash
# Runs every test Conveyor has, doing every set-up step itself on a fresh Debian machine with the .NET SDK:
# installs PostgreSQL, RabbitMQ, Chromium and the log shippers (rsyslog, syslog-ng) when missing, starts two
# throwaway PostgreSQL servers and two RabbitMQ nodes on private loopback ports (one of each shared by every test,
# one that outage tests stop and restart), restores packages, builds, runs all test projects, and stops the servers again whatever happened.
#   ./test.sh                 everything
#   ./test.sh --filter EXPR   pass a dotnet test filter through (e.g. --filter 'FullyQualifiedName~Buffer')
#   STRESS=1 ./test.sh        also the long stress runs (>= 100M items)
set -euo pipefail
cd "$(dirname "$0")"

work=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-test.XXXXXX")
chmod 755 "$work"   # the postgres user must reach its data folder inside
pg_bin=""
cleanup() {
  for dir in "$work"/rmq-*; do
    [ -d "$dir" ] && tests/rabbitmq.sh kill "$dir" >/dev/null 2>&1 || true
  done
  for dir in "$work"/pg-*; do
    if [ -n "$pg_bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
      runuser -u postgres -- "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

find_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

ensure_postgres() {
  pg_bin=$(find_pg_bin)
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "== installing PostgreSQL (apt-get)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
    pg_bin=$(find_pg_bin)
  fi
}

# The dashboard's browser tests drive Debian's Chromium through Playwright, which must never download a browser.
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "== installing Chromium (apt-get)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
  fi
}

# apt-get install for packages that ship a daemon. Where no policy-rc.d forbids it, apt would start the package's own
# service (RabbitMQ on 5672, syslog-ng as the system logger), or try to, through an init script, on a machine without
# systemd: a temporary policy-rc.d keeps it from starting anything.
apt_install_no_start() {
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
  fi
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
  if [ -n "$policy" ]; then as_root rm -f "$policy"; fi
}

# RabbitMQ from Debian.
ensure_rabbitmq() {
  if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || ! command -v epmd >/dev/null; then
    echo "== installing RabbitMQ (apt-get)"
    apt_install_no_start rabbitmq-server
  fi
}

# The shippers of the Elasticsearch bulk tests: syslog-ng's elasticsearch-http() (syslog-ng-core + syslog-ng-mod-http)
# and rsyslog's omelasticsearch (rsyslog + rsyslog-elasticsearch). The two daemons conflict as Debian packages, so
# syslog-ng is installed and rsyslog only unpacked (apt-get download + dpkg -x) into a private root kept in the user's
# cache: nothing in /etc changes, and neither daemon is started as the system's logger. An rsyslog installed as a
# package is used as it is. The tests run each one as a private foreground process and find them through
# CONVEYOR_TEST_RSYSLOGD, CONVEYOR_TEST_RSYSLOG_MODULES and CONVEYOR_TEST_SYSLOG_NG.
ensure_shippers() {
  if dpkg -s rsyslog >/dev/null 2>&1; then
    if ! dpkg -s rsyslog-elasticsearch >/dev/null 2>&1; then
      echo "== installing rsyslog-elasticsearch (apt-get)"
      as_root apt-get update -qq
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq rsyslog-elasticsearch >/dev/null
    fi
    export CONVEYOR_TEST_RSYSLOGD=/usr/sbin/rsyslogd CONVEYOR_TEST_RSYSLOG_MODULES="$(ls -d /usr/lib/*/rsyslog | head -n 1)"
  else
    local root=${XDG_CACHE_HOME:-$HOME/.cache}/conveyor-test/rsyslog-root modules
    modules=$(ls -d "$root"/usr/lib/*/rsyslog 2>/dev/null | head -n 1 || true)
    if [ ! -x "$root/usr/sbin/rsyslogd" ] || [ ! -f "$modules/omelasticsearch.so" ]; then
      echo "== unpacking rsyslog and rsyslog-elasticsearch into $root (apt-get download, dpkg -x)"
      as_root apt-get update -qq
      # rsyslogd's own libraries do not conflict with syslog-ng and are installed as usual.
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq libestr0 libfastjson4 liblognorm5 libcurl4 >/dev/null
      local debs
      debs=$(mktemp -d)
      chmod 777 "$debs"   # apt fetches as its _apt user
      (cd "$debs" && apt-get download -qq rsyslog rsyslog-elasticsearch >/dev/null)
      mkdir -p "$root"
      for deb in "$debs"/*.deb; do dpkg -x "$deb" "$root"; done
      rm -rf "$debs"
      modules=$(ls -d "$root"/usr/lib/*/rsyslog | head -n 1)
    fi
    export CONVEYOR_TEST_RSYSLOGD=$root/usr/sbin/rsyslogd CONVEYOR_TEST_RSYSLOG_MODULES=$modules
  fi
  if ! dpkg -s syslog-ng-core >/dev/null 2>&1 || ! dpkg -s syslog-ng-mod-http >/dev/null 2>&1; then
    if dpkg -s rsyslog >/dev/null 2>&1; then
      echo "!! rsyslog is installed as a package, so syslog-ng-core cannot be: the syslog-ng bulk test will fail saying so" >&2
    else
      echo "== installing syslog-ng-core and syslog-ng-mod-http (apt-get)"
      apt_install_no_start syslog-ng-core syslog-ng-mod-http
    fi
  fi
  export CONVEYOR_TEST_SYSLOG_NG=/usr/sbin/syslog-ng
  echo "== shippers: $("$CONVEYOR_TEST_RSYSLOGD" -v 2>/dev/null | head -n 1 | awk '{print $1, $2}'), $(/usr/sbin/syslog-ng --version 2>/dev/null | head -n 1)"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_postgres NAME PREFIX: a private server in $work/pg-NAME, described to the tests by PREFIX_POSTGRES
# (connection string), PREFIX_PG_DATA and PREFIX_PG_OPTS; CONVEYOR_TEST_PG_CTL says how to stop and start it:
#   runuser -u postgres -- $CONVEYOR_TEST_PG_CTL -D $PREFIX_PG_DATA -m fast -w stop
#   runuser -u postgres -- $CONVEYOR_TEST_PG_CTL -D $PREFIX_PG_DATA -l $PREFIX_PG_DATA/../pg.log -w -o "$PREFIX_PG_OPTS" start
start_postgres() {
  local name=$1 prefix=$2 port dir=$work/pg-$1
  port=$(free_port)
  mkdir -p "$dir/sock"
  chown -R postgres:postgres "$dir"
  runuser -u postgres -- "$pg_bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=trust \
    -E UTF8 --locale=C.UTF-8 --no-sync >"$work/initdb-$name.log" 2>&1 || { cat "$work/initdb-$name.log" >&2; exit 1; }
  local opts="-p $port -k $dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 -o "$opts" start >/dev/null
  psql -q -h "$dir/sock" -p "$port" -U postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE conveyor LOGIN PASSWORD 'conveyor' SUPERUSER" -c "CREATE DATABASE conveyor OWNER conveyor" >/dev/null
  export "${prefix}_POSTGRES=Host=127.0.0.1;Port=$port;Username=conveyor;Password=conveyor;Database=conveyor"
  export "${prefix}_PG_DATA=$dir/data" "${prefix}_PG_OPTS=$opts" CONVEYOR_TEST_PG_CTL="$pg_bin/pg_ctl"
  echo "== PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') ($name) on 127.0.0.1:$port"
}

# start_rabbitmq NAME PREFIX: a private node in $work/rmq-NAME on free ports (AMQP, Erlang distribution, its own
# epmd), started in the background; wait_rabbitmq NAME waits for it. Described to the tests by PREFIX_AMQP (the
# broker URI) and PREFIX_AMQP_DIR; CONVEYOR_TEST_RABBITMQ_SH is the script that stops and starts it again (keeping
# its queues and messages):  $CONVEYOR_TEST_RABBITMQ_SH stop|start $PREFIX_AMQP_DIR
start_rabbitmq() {
  local name=$1 prefix=$2 dir=$work/rmq-$1 port
  port=$(free_port)
  tests/rabbitmq.sh init "$dir" "$port" "$(free_port)" "$(free_port)"
  tests/rabbitmq.sh start "$dir" >"$work/rmq-start-$name.log" 2>&1 &
  echo $! >"$work/rmq-start-$name.pid"
  export "${prefix}_AMQP=amqp://guest:guest@127.0.0.1:$port/" "${prefix}_AMQP_DIR=$dir" CONVEYOR_TEST_RABBITMQ_SH="$PWD/tests/rabbitmq.sh"
}
wait_rabbitmq() {
  local name=$1 port
  if ! wait "$(cat "$work/rmq-start-$name.pid")"; then cat "$work/rmq-start-$name.log" >&2; exit 1; fi
  port=$(grep AMQP_PORT "$work/rmq-$name/ports" | cut -d= -f2)
  echo "== RabbitMQ $(dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null | cut -d- -f1) ($name) on 127.0.0.1:$port"
}

ensure_postgres
ensure_rabbitmq
ensure_chromium
ensure_shippers
# The brokers boot (6-8 s each) while PostgreSQL starts and the solution builds.
start_rabbitmq shared CONVEYOR_TEST
start_rabbitmq outage CONVEYOR_TEST_OUTAGE
start_postgres shared CONVEYOR_TEST
start_postgres outage CONVEYOR_TEST_OUTAGE

echo "== restore and build"
dotnet build Conveyor.slnx -c Release -nologo -v quiet -clp:NoSummary
wait_rabbitmq shared
wait_rabbitmq outage

echo "== test"
status=0
dotnet test Conveyor.slnx -c Release --no-build -nologo --logger "console;verbosity=minimal" \
  --results-directory "$work/results" "$@" 2>&1 | tee "$work/test.log" || status=$?

passed=$(grep -oE 'Passed: +[0-9]+' "$work/test.log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$work/test.log" | awk '{s+=$2} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: $passed passed, $failed failed"
exit "$status"
