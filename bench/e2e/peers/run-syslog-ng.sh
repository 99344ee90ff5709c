#!/bin/bash
# Start syslog-ng in the foreground with the private benchmark config.
# BENCH_DEST: d_json (default, file), d_pipe (FIFO output) or d_pg (PostgreSQL
# on 127.0.0.1:PG_PORT).
# BENCH_SNG_FLAGS: log path flags, default flow-control ("" = syslog-ng default).
# Needs BENCH_PORT, BENCH_OUT, BENCH_RUNDIR (bench.py sets them).
here=$(cd "$(dirname "$0")" && pwd)
export BENCH_DEST=${BENCH_DEST:-d_json} PG_PORT=${PG_PORT:-55432}
export BENCH_SNG_FLAGS=${BENCH_SNG_FLAGS-flow-control}
exec "${SYSLOG_NG_BIN:-/usr/sbin/syslog-ng}" -F --no-caps \
  -f "$here/syslog-ng.conf" \
  --persist-file "$BENCH_RUNDIR/syslog-ng.persist" \
  --pidfile "$BENCH_RUNDIR/syslog-ng.pid" \
  --control "$BENCH_RUNDIR/syslog-ng.ctl" \
  --stderr
