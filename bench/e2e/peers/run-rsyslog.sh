#!/bin/bash
# Start rsyslogd in the foreground with the private benchmark config.
# Debian's rsyslog and syslog-ng-core conflict as packages, so rsyslog may be
# an unpacked .deb: set RSYSLOG_ROOT to the folder it was unpacked into
# (setup-debian-peers.sh does that); empty = the system's /usr/sbin/rsyslogd.
# BENCH_DEST: file (default) or pg (PostgreSQL on 127.0.0.1:PG_PORT).
# Needs BENCH_PORT, BENCH_OUT, BENCH_RUNDIR (bench.py sets them).
here=$(cd "$(dirname "$0")" && pwd)
root=${RSYSLOG_ROOT:-}
export BENCH_CONFDIR="$here" PG_PORT=${PG_PORT:-55432}
export BENCH_OUTCONF="$BENCH_CONFDIR/rsyslog-out-${BENCH_DEST:-file}.conf"
exec "$root/usr/sbin/rsyslogd" -n \
  -M "$root/usr/lib/x86_64-linux-gnu/rsyslog" \
  -f "$here/rsyslog.conf" \
  -i "$BENCH_RUNDIR/rsyslogd.pid"
