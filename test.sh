#!/usr/bin/env bash
# Runs every test Conveyor has, doing every set-up step itself on a fresh Debian machine with the .NET SDK:
# installs PostgreSQL when missing, starts a throwaway server on a private port, restores packages,
# builds, runs all test projects, and stops the server again whatever happened.
#   ./test.sh                 everything
#   ./test.sh --filter EXPR   pass a dotnet test filter through (e.g. --filter 'FullyQualifiedName~Buffer')
#   STRESS=1 ./test.sh        also the long stress runs (>= 100M items)
set -euo pipefail
cd "$(dirname "$0")"

work=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-test.XXXXXX")
chmod 755 "$work"   # the postgres user must reach its data folder inside
pg_dir=$work/pg
pg_bin=""
cleanup() {
  if [ -n "$pg_bin" ] && [ -f "$pg_dir/data/postmaster.pid" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_postgres() {
  local port; port=$(free_port)
  mkdir -p "$pg_dir/sock"
  chown -R postgres:postgres "$pg_dir"
  runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth-local=trust --auth-host=trust \
    -E UTF8 --locale=C.UTF-8 --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
  local opts="-p $port -k $pg_dir/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/pg.log" -w -t 60 -o "$opts" start >/dev/null
  psql -q -h "$pg_dir/sock" -p "$port" -U postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE conveyor LOGIN PASSWORD 'conveyor' SUPERUSER" -c "CREATE DATABASE conveyor OWNER conveyor" >/dev/null
  export CONVEYOR_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=conveyor;Password=conveyor;Database=conveyor"
  # Tests that stop and restart the server mid-stream need to know how:
  #   runuser -u postgres -- $CONVEYOR_TEST_PG_CTL -D $CONVEYOR_TEST_PG_DATA -m fast -w stop
  #   runuser -u postgres -- $CONVEYOR_TEST_PG_CTL -D $CONVEYOR_TEST_PG_DATA -l $CONVEYOR_TEST_PG_DATA/../pg.log -w -o "$CONVEYOR_TEST_PG_OPTS" start
  export CONVEYOR_TEST_PG_CTL="$pg_bin/pg_ctl" CONVEYOR_TEST_PG_DATA="$pg_dir/data" CONVEYOR_TEST_PG_OPTS="$opts"
  echo "== PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

ensure_postgres
ensure_chromium
start_postgres

echo "== restore and build"
dotnet build Conveyor.slnx -c Release -nologo -v quiet -clp:NoSummary

echo "== test"
status=0
dotnet test Conveyor.slnx -c Release --no-build -nologo --logger "console;verbosity=minimal" \
  --results-directory "$work/results" "$@" 2>&1 | tee "$work/test.log" || status=$?

passed=$(grep -oE 'Passed: +[0-9]+' "$work/test.log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$work/test.log" | awk '{s+=$2} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "tests: $passed passed, $failed failed"
exit "$status"
