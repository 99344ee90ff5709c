#!/usr/bin/env bash
# conveyor -> PostgreSQL on a warm server (issue 10): rows/s, conveyor's CPU and the server's CPU for each build named,
# run in turns against one private PostgreSQL cluster that stays up between runs (bench/e2e/run.sh --cases postgres
# starts a fresh cluster per run, whose first touches of its memory cost the server a few CPU seconds per million rows
# on a VM; this script measures the steady state a long-running server is in).
#
#   INPUT=FILE bench/e2e/postgres-warm.sh [--rounds N] BIN [BIN...]
#
#   INPUT     access-log lines sent over one TCP connection per run (all of them; e.g. 1,000,000 lines from
#             python3 ../shared/peers/gen_access_log.py --unique 4000 --lines 1000000 --out FILE, the shared peer
#             harness' generator, or any combined-format log)
#   BIN       a conveyor executable (dotnet publish -c Release -o DIR src/Conveyor.Cli; DIR/conveyor)
#   --rounds  how many times each build runs, alternating (default 3)
#
# Each run: a fresh database, `conveyor run --from tcp://127.0.0.1:PORT --to postgres:…`, the input sent, done when
# `SELECT count(*) FROM events` equals the input's lines. Prints one line per run. Needs root (PostgreSQL runs as the
# postgres user) and Debian's postgresql-15 (apt-get install postgresql-15); fsync off, as bench/e2e/run.sh.
set -euo pipefail
rounds=3
[ "${1:-}" = --rounds ] && { rounds=$2; shift 2; }
[ $# -ge 1 ] && [ -n "${INPUT:-}" ] || { sed -n '2,18p' "$0" >&2; exit 2; }
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin} PG_PORT=${PG_PORT:-55481} PORT=${PORT:-47101}
lines=$(wc -l <"$INPUT")
work=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-pgwarm.XXXXXX"); chmod 755 "$work"; mkdir "$work/pg"; chown postgres "$work/pg"
stop() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap stop EXIT
runuser -u postgres -- "$PG_BIN/initdb" -D "$work/pg/data" -U postgres -A trust --no-sync >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w start -o \
  "-p $PG_PORT -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB -c max_wal_size=4GB" >/dev/null
psql_() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qAtX "$@"; }
# the postmaster, its children (backends, WAL writer, checkpointer …) and the children it has reaped (a backend that
# exited between two readings), in clock ticks
server_ticks() {
  local t=0 p pm; pm=$(head -1 "$work/pg/data/postmaster.pid")
  t=$(awk '{print $16+$17}' "/proc/$pm/stat")
  for p in "$pm" $(pgrep -P "$pm" || true); do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}

for r in $(seq "$rounds"); do
  for bin in "$@"; do
    psql_ -c "DROP DATABASE IF EXISTS warm" -c "CREATE DATABASE warm" >/dev/null
    "$bin" run --from "tcp://127.0.0.1:$PORT" --to "postgres:Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=warm" >"$work/out.txt" 2>"$work/err.txt" &
    pid=$!
    for _ in $(seq 150); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done
    load=$(cut -d' ' -f1-3 /proc/loadavg); s0=$(server_ticks); start=$(date +%s.%N)
    python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$PORT)); s.sendfile(open(sys.argv[1],'rb')); s.close()" "$INPUT"
    # Done when every line is a row or a dead letter (a corpus has lines its parser refuses).
    until [ "$(psql_ -d warm -c 'SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM dead_letters)' 2>/dev/null || echo 0)" -ge "$lines" ]; do sleep 0.2; done
    end=$(date +%s.%N); s1=$(server_ticks)
    cpu=$(awk '{print ($14+$15)/100}' "/proc/$pid/stat")
    kill -TERM "$pid"; wait "$pid" || true
    stored=$(psql_ -d warm -c "SELECT (SELECT count(*) FROM events) || ' + ' || (SELECT count(*) FROM dead_letters)")
    python3 -c "import sys; n,a,b,s,c=map(float,sys.argv[1:6]); print(f'round {$r} {sys.argv[6]}: {n/(b-a):,.0f} rows/s, conveyor {c:.2f} CPU s, server {s/100:.2f} CPU s, rows + dead letters {sys.argv[8]} (load {sys.argv[7]})')" \
      "$lines" "$start" "$end" "$((s1 - s0))" "$cpu" "$bin" "$load" "$stored"
    sleep 8
  done
done
