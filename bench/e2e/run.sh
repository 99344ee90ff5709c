#!/usr/bin/env bash
# End-to-end benchmark of the conveyor service (issue 6): TCP -> parse -> enrich -> store, against raw-store
# ceilings and two Debian-packaged peers (rsyslog, syslog-ng), all on this machine, loopback only.
#
#   bench/e2e/run.sh [--runs N] [--quick] [--smoke] [--cases "throughput seed overload scaling"]
#                    [--lines N] [--out DIR] [--no-setup] [--no-build]
#
#   --runs N     repetitions of every measured figure (default 3); tables give the median
#   --quick      development: 1 run, 200k lines, 20 s scenarios, a reduced scaling grid
#   --smoke      a few seconds: build, 20k lines through conveyor into SQLite, check every line arrived
#   --cases      any of: throughput (conveyor, raw ceilings and peers, one after the other in each repetition),
#                seed, overload, scaling (default: these four), and postgres (issue 10's PostgreSQL figure:
#                conveyor -> PostgreSQL vs a raw binary COPY into the same schema vs rsyslog -> ompgsql, each on
#                the same $PG_LINES lines, default 1,000,000), fulltext (issue 10's SQLite fullText choice:
#                conveyor -> sqlite: with fullText words, trigram and none on the store lines, then the time of
#                a rare-word and a common-word count through conveyor query on each store)
#   --out DIR    results folder (default bench/e2e/results/<UTC time>; ignored by git)
#   --no-setup   do not apt-get the peers (they are skipped when missing)
#   --no-build   reuse the binaries of the last build in $E2E_CACHE
#
# Needs: the corpus (tests/corpus in the repository, or CORPUS=DIR), the .NET 10 SDK, python3, root
# (apt-get, and PostgreSQL runs as the postgres user). Installs by itself: syslog-ng (+ scl, sql module, libdbi
# pgsql driver) with apt-get; rsyslog + rsyslog-pgsql are only unpacked (dpkg -x) into $E2E_CACHE, because
# Debian's rsyslog and syslog-ng-core packages conflict. Every peer runs as a private foreground process with its
# own config, pid file and ports on 127.0.0.1 (never as the machine's logger); PostgreSQL is a private throw-away
# cluster on 127.0.0.1:$PG_PORT. Every process started here is stopped by its PID on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CORPUS=${CORPUS:-$repo/tests/corpus}
E2E_CACHE=${E2E_CACHE:-${TMPDIR:-/tmp}/conveyor-e2e-cache}
PG_PORT=${PG_PORT:-55471}
PORT_BASE=${PORT_BASE:-56100}
PG_BIN=/usr/lib/postgresql/15/bin

runs=3 quick=0 smoke=0 setup=1 build=1 out=""
cases="throughput seed overload scaling"
lines=""
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift;;
    --quick) quick=1;;
    --smoke) smoke=1;;
    --cases) cases=$2; shift;;
    --lines) lines=$2; shift;;
    --out) out=$2; shift;;
    --no-setup) setup=0;;
    --no-build) build=0;;
    -h|--help) sed -n '2,23p' "$0"; exit 0;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2;;
  esac
  shift
done

# Sizes. The file outputs get the whole input (>= 2M lines). The stores get fewer: SQLite and PostgreSQL took
# 1.5-3k rows/s here (their full-text trigram indexes: see docs/BENCHMARKS.md), so 2M rows would take 10-20 min a
# run; their rate is flat over a run (e2e-throughput-over-time.png), so 10 corpus replays measure it.
lines_default=2000000 store_lines=110040 peer_pg_lines=110040 scenario_s=60 scale_lines=200000
scale_workers="1 2 4" scale_buffers="1000 10000 100000"
if [ "$quick" = 1 ]; then
  runs=1 lines_default=200000 store_lines=22008 peer_pg_lines=22008 scenario_s=20 scale_lines=100000 scale_workers="1 4" scale_buffers="1000 100000"
fi
if [ "$smoke" = 1 ]; then
  runs=1 lines_default=5000 cases=smoke
fi
lines=${lines:-$lines_default}
store_lines=${STORE_LINES:-$store_lines}
[ "$store_lines" -gt "$lines" ] && store_lines=$lines
[ "$peer_pg_lines" -gt "$lines" ] && peer_pg_lines=$lines
[ "$scale_lines" -gt "$lines" ] && scale_lines=$lines

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- preflight ----------------------------------------------------------------------------------------------
for f in apache-combined.log nginx-combined.log; do
  [ -s "$CORPUS/$f" ] || die "corpus file $CORPUS/$f is missing: bench/e2e replays tests/corpus (set CORPUS=DIR)"
done
command -v dotnet >/dev/null || die "the .NET SDK (dotnet) is not on PATH"
command -v python3 >/dev/null || die "python3 is not on PATH"
[ "$(id -u)" = 0 ] || die "run as root: it installs packages and runs PostgreSQL as the postgres user"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${out:-$here/results/$stamp}
mkdir -p "$out/runs" "$E2E_CACHE"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-e2e.XXXXXX")
chmod 755 "$work"   # the postgres user must reach its data folder below

pg_started=0
cleanup() {
  local rc=$?
  # measure.py stops what it starts; this catches an interrupted run (children of this script only)
  for p in $(pgrep -P $$ || true); do kill -TERM "$p" 2>/dev/null || true; done
  if [ "$pg_started" = 1 ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  [ $rc = 0 ] || log "failed (rc=$rc); partial results in $out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- setup: peers ---------------------------------------------------------------------------------------------
RSYSLOG_ROOT=${RSYSLOG_ROOT:-}
if [ "$smoke" = 0 ] && [ "$setup" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  need=""
  for p in syslog-ng-core syslog-ng-scl syslog-ng-mod-sql libdbd-pgsql liblognorm5 libestr0 libfastjson4 postgresql-15 postgresql-contrib; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
  done
  if dpkg -s rsyslog >/dev/null 2>&1; then
    log "rsyslog is installed as a package: using it (syslog-ng-core cannot be installed beside it)"
    need=$(echo "$need" | sed 's/syslog-ng-[a-z-]*//g')
  fi
  if [ -n "${need// /}" ]; then
    log "apt-get install$need"
    apt-get update -qq
    apt-get install -y -q $need >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; die "apt-get install failed"; }
  fi
  if ! dpkg -s rsyslog >/dev/null 2>&1 && [ -z "$RSYSLOG_ROOT" ]; then
    RSYSLOG_ROOT=$E2E_CACHE/rsyslog-root
    if [ ! -x "$RSYSLOG_ROOT/usr/sbin/rsyslogd" ] || [ ! -f "$RSYSLOG_ROOT/usr/lib/x86_64-linux-gnu/rsyslog/ompgsql.so" ]; then
      log "unpacking rsyslog + rsyslog-pgsql into $RSYSLOG_ROOT (dpkg -x; not installed)"
      mkdir -p "$work/debs" "$RSYSLOG_ROOT"
      chmod 777 "$work/debs"
      (cd "$work/debs" && apt-get download -q rsyslog rsyslog-pgsql >/dev/null 2>&1)
      for deb in "$work/debs"/*.deb; do dpkg -x "$deb" "$RSYSLOG_ROOT"; done
    fi
  fi
fi
export RSYSLOG_ROOT
have_rsyslog() { [ -x "${RSYSLOG_ROOT:-}/usr/sbin/rsyslogd" ]; }
have_syslogng() { [ -x /usr/sbin/syslog-ng ] && [ -d /usr/share/syslog-ng/include/scl/apache ]; }

# ---- build ----------------------------------------------------------------------------------------------------
bin=$E2E_CACHE/bin
if [ "$build" = 1 ]; then
  log "building conveyor (dotnet publish -c Release) and the bench/e2e tools"
  dotnet publish "$repo/src/Conveyor.Cli" -c Release -o "$bin/conveyor" --nologo -v q >"$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log" >&2; die "conveyor build failed"; }
  for t in raw-store naive charts; do
    [ "$smoke" = 1 ] && [ "$t" != raw-store ] && continue
    dotnet build "$here/$t" -c Release -o "$bin/$t" --nologo -v q >>"$work/build.log" 2>&1 \
      || { tail -30 "$work/build.log" >&2; die "bench/e2e/$t build failed"; }
  done
fi
conveyor=$bin/conveyor/conveyor
[ -x "$conveyor" ] || die "no conveyor binary at $conveyor (run without --no-build)"
case $("$conveyor" run --help 2>&1) in *--from*) ;; *) die "this conveyor has no 'run --from/--to' yet";; esac

# ---- input: the corpus replayed -------------------------------------------------------------------------------
make_input() {  # make_input N PATH: apache-combined.log + nginx-combined.log, repeated until >= N lines
  local n=$1 path=$2 per reps
  per=$(cat "$CORPUS/apache-combined.log" "$CORPUS/nginx-combined.log" | wc -l)
  reps=$(( (n + per - 1) / per ))
  for _ in $(seq "$reps"); do cat "$CORPUS/apache-combined.log" "$CORPUS/nginx-combined.log"; done >"$path.all"
  head -n "$n" "$path.all" >"$path"   # whole replays for N >= one replay (N is rounded up), else the first N lines
  [ "$n" -ge "$per" ] && mv "$path.all" "$path" || rm -f "$path.all"
  log "input: $(wc -l <"$path") lines ($reps x apache-combined.log + nginx-combined.log, $per lines), $(du -m "$path" | cut -f1) MB"
}
input=$work/input.log
make_input "$lines" "$input"
input_lines=$(wc -l <"$input")
store_input=$work/input-store.log
head -n "$store_lines" "$input" >"$store_input"

# ---- PostgreSQL (private cluster) -----------------------------------------------------------------------------
pg_start() {
  [ "$pg_started" = 1 ] && return 0
  mkdir -p "$work/pg"
  chown postgres "$work/pg"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$work/pg/data" -U postgres -A trust --no-sync >/dev/null
  # the same settings as the peers' pg-private.sh: a benchmark box, not a store
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w start -o \
    "-p $PG_PORT -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB -c max_wal_size=4GB" >/dev/null
  pg_started=1
  log "PostgreSQL on 127.0.0.1:$PG_PORT (pid $(head -1 "$work/pg/data/postmaster.pid"))"
}
psql_() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qAtX -v ON_ERROR_STOP=1 "$@"; }
pg_fresh_db() { psql_ -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null; }
pg_conn() { echo "Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$1"; }

# ---- one measured run -----------------------------------------------------------------------------------------
# Every run gets its own pair of ports: a stopped processor can leave its port in TIME_WAIT or still draining.
port=$PORT_BASE api_port=$((PORT_BASE + 1))
next_ports() { port=$((port + 2)); api_port=$((port + 1)); }
# a failed run is logged and left out of the tables; the other runs go on
measure() { python3 "$here/lib/measure.py" "$@" || log "FAILED: measure.py $1 $3 (see its processor.log)"; }
raw_store() {  # raw_store MODE TARGET RUNDIR
  mkdir -p "$3"
  "$bin/raw-store/e2e-raw-store" "$1" "$2" "$store_input" "$store_lines" >"$3/result.json" 2>"$3/error.log" || log "FAILED: raw-store $1 (see $3/error.log)"
  cat "$3/result.json"
}

conveyor_replay() {  # conveyor_replay NAME RUNDIR SINK DONE [INPUT [MEASURE_OPTION]]; env CONVEYOR__* passes through
  # DONE may say @API@ for this run's HTTP port, which is only chosen here (next_ports): a URL built by the caller
  # would name the previous run's port, where nothing listens (that is how conveyor -> PostgreSQL once read 0 rows).
  local name=$1 dir=$2 sink=$3 done=$4 in=${5:-$input} extra=${6:---settle=1}
  next_ports
  done=${done//@API@/$api_port}
  measure replay --name "$name" --case throughput --rundir "$dir" --port "$port" --input "$in" --done "$done" --pg-port "$PG_PORT" "$extra" \
    -- "$conveyor" run --from "tcp://127.0.0.1:$port" --from "http://127.0.0.1:$api_port" --to "$sink" --format combined
}

run_throughput() {  # run_throughput REP
  local r=$1 d=$out/runs/throughput
  mkdir -p "$d"
  log "throughput, repetition $r/$runs: conveyor (sqlite, postgres: $store_lines lines; ndjson: $input_lines), raw ceilings, peers"
  conveyor_replay conveyor-sqlite "$d/conveyor-sqlite-$r" "sqlite:$work/c-$r.db" "sqlite:$work/c-$r.db" "$store_input"
  rm -f "$work/c-$r.db"*
  pg_fresh_db conveyor
  conveyor_replay conveyor-postgres "$d/conveyor-postgres-$r" "postgres:$(pg_conn conveyor)" "api:http://127.0.0.1:@API@/api/pipeline" "$store_input" --pg-cpu
  psql_ -d conveyor -c "SELECT count(*) FROM events" >"$d/conveyor-postgres-$r/rows.txt" || true
  # the sink rotates its file every 100 MiB and writes dead letters beside it: count the lines of all of them
  mkdir -p "$work/nd"
  conveyor_replay conveyor-ndjson "$d/conveyor-ndjson-$r" "ndjson:$work/nd/c.ndjson" "files:$work/nd/c*.ndjson"
  rm -rf "$work/nd"

  raw_store sqlite "$work/raw-$r.db" "$d/raw-sqlite-$r"
  rm -f "$work/raw-$r.db"*
  # diagnostics: the same ceiling, and conveyor into the same schema, without the full-text trigger
  raw_store sqlite-nofts "$work/raw-$r.db" "$d/raw-sqlite-nofts-$r"
  rm -f "$work/raw-$r.db"*
  "$bin/raw-store/e2e-raw-store" sqlite-nofts "$work/c-$r.db" "$store_input" 0 >/dev/null
  conveyor_replay conveyor-sqlite-nofts "$d/conveyor-sqlite-nofts-$r" "sqlite:$work/c-$r.db" "sqlite:$work/c-$r.db" "$store_input"
  rm -f "$work/c-$r.db"*
  pg_fresh_db raw
  raw_store pgcopy "$(pg_conn raw)" "$d/raw-pgcopy-$r"

  if have_rsyslog; then
    next_ports
    BENCH_OUT=$work/rs.jsonl measure replay --name rsyslog-file --case throughput --rundir "$d/rsyslog-file-$r" --port "$port" \
      --input "$input" --done "file:$work/rs.jsonl" -- "$here/peers/run-rsyslog.sh"
    head -n 3 "$work/rs.jsonl" >"$d/rsyslog-file-$r/out.head.jsonl"; rm -f "$work/rs.jsonl"
  fi
  if have_syslogng; then
    next_ports
    BENCH_OUT=$work/sng.jsonl measure replay --name syslog-ng-file --case throughput --rundir "$d/syslog-ng-file-$r" --port "$port" \
      --input "$input" --done "file:$work/sng.jsonl" -- "$here/peers/run-syslog-ng.sh"
    head -n 3 "$work/sng.jsonl" >"$d/syslog-ng-file-$r/out.head.jsonl"; rm -f "$work/sng.jsonl"
  fi
  if have_rsyslog || have_syslogng; then
    psql_ -f "$here/peers/pg-tables.sql" >/dev/null 2>&1
    head -n "$peer_pg_lines" "$input" >"$work/input-peer-pg.log"
    if have_rsyslog; then
      next_ports
      BENCH_OUT=/dev/null BENCH_DEST=pg PG_PORT=$PG_PORT measure replay --name rsyslog-postgres --case throughput \
        --rundir "$d/rsyslog-postgres-$r" --port "$port" --input "$work/input-peer-pg.log" --done pgid:access_rsyslog \
        --pg-port "$PG_PORT" --pg-cpu --verify-pg access_rsyslog -- "$here/peers/run-rsyslog.sh"
    fi
    if have_syslogng; then
      next_ports
      BENCH_OUT=/dev/null BENCH_DEST=d_pg PG_PORT=$PG_PORT measure replay --name syslog-ng-postgres --case throughput \
        --rundir "$d/syslog-ng-postgres-$r" --port "$port" --input "$work/input-peer-pg.log" --done pgid:access_syslogng \
        --pg-port "$PG_PORT" --pg-cpu --verify-pg access_syslogng -- "$here/peers/run-syslog-ng.sh"
    fi
  fi
}

write_config() {  # write_config PATH SINK_URI BATCH LINGER WORKERS MAIN_CAPACITY MAIN_MAXBYTES QUEUE_MAXBYTES ("-": the sink's own)
  local batching='' queue_bytes=''
  [ "$3" != - ] && batching="\"batchMaxItems\": $3, \"batchLinger\": \"$4\","
  [ "$8" != - ] && queue_bytes=", \"maxBytes\": $8"
  cat >"$1" <<EOF
{
  "sources": [
    { "type": "Tcp", "host": "127.0.0.1", "port": $port, "format": "combined" },
    { "type": "Http", "host": "127.0.0.1", "port": $api_port, "format": "combined", "blockTimeout": "00:00:01" }
  ],
  "buffer": { "capacity": $6, "maxBytes": $7, "fullMode": "Block" },
  "parse": { "workers": $5, "batchSize": 512 },
  "sinks": [
    { "uri": "$2", "mode": "Pace", $batching
      "queue": { "capacity": 50000$queue_bytes, "fullMode": "Block" } }
  ]
}
EOF
}

scenario_config() {  # scenario_config CASE SINK_URI BATCH SINK_QUEUE_MAXBYTES: writes the case's config (for new ports)
  next_ports
  mkdir -p "$out/runs/$1"
  write_config "$work/$1.json" "$2" "$3" "00:00:00.050" 2 100000 67108864 "$4"
  cp "$work/$1.json" "$out/runs/$1/config.json"
}

gen() { echo "$conveyor gen --servers 3 --rate $1 --duration ${scenario_s}s --to $2"; }

run_seed() {  # the seed scenario: 3 web servers at 50k lines/s in total, a step costing 5 ms per call, then the default store
  local r=$1 d=$out/runs/seed cfg
  # Little's law: 50,000 lines/s x 5 ms = 250 lines in flight; the one writer takes what queued while it wrote, up to
  # the DuckDB default batch of 20,000 lines. DuckDB admits one process, so the latency comes from /api/pipeline's
  # admitted and stored curves (measure.py ApiLatencyProbe), not from reading the store.
  # The store's own batching (16,384-event batches filling a row group, 500 ms linger, 96 MiB queue), as zero config.
  scenario_config seed "slow:5ms+duckdb:$work/seed-$r.duckdb" - -
  cfg=$work/seed.json
  log "seed scenario, repetition $r/$runs: gen --servers 3 --rate 50000 for ${scenario_s}s -> slow:5ms+duckdb"
  measure scenario --name conveyor-seed --case seed --rundir "$d/conveyor-$r" --port "$port" --duration "$scenario_s" \
    --api "http://127.0.0.1:$api_port/api/pipeline" --latency-api "http://127.0.0.1:$api_port/api/pipeline" \
    --sender "$(gen 50000 "tcp://127.0.0.1:$port")" -- "$conveyor" run --config "$cfg"
  rm -f "$work/seed-$r.duckdb"*
}

run_overload() {  # producers at 10x the sink's rate: conveyor over TCP, over HTTP, and the naive unbounded queue
  local r=$1 d=$out/runs/overload cfg
  # the sink: 250 lines per call, 50 ms per call = 5,000 lines/s; the producers: 50,000 lines/s (10x)
  cfg=$work/overload.json
  log "overload, repetition $r/$runs: 50,000 lines/s offered to a 5,000 lines/s sink for ${scenario_s}s"
  scenario_config overload "slow:50ms+null:" 250 16777216
  measure scenario --name conveyor-tcp --case overload --rundir "$d/conveyor-tcp-$r" --port "$port" --duration "$scenario_s" \
    --api "http://127.0.0.1:$api_port/api/pipeline" --sender "$(gen 50000 "tcp://127.0.0.1:$port")" -- "$conveyor" run --config "$cfg"
  scenario_config overload "slow:50ms+null:" 250 16777216
  measure scenario --name conveyor-http --case overload --rundir "$d/conveyor-http-$r" --port "$port" --duration "$scenario_s" \
    --api "http://127.0.0.1:$api_port/api/pipeline" --sender "$(gen 50000 "http://127.0.0.1:$api_port/ingest")" -- "$conveyor" run --config "$cfg"
  next_ports
  measure scenario --name naive-tcp --case overload --rundir "$d/naive-tcp-$r" --port "$port" --duration "$scenario_s" \
    --sender "$(gen 50000 "tcp://127.0.0.1:$port")" -- "$bin/naive/e2e-naive" "$port" 250 50
}

run_postgres() {  # issue 10: conveyor -> PostgreSQL >= 100k rows/s, >= 0.8x raw binary COPY, >= 2x rsyslog
  local r=$1 d=$out/runs/postgres n=${PG_LINES:-1000000}
  mkdir -p "$d"
  head -n "$n" "$input" >"$work/input-pg.log"
  [ "$(wc -l <"$work/input-pg.log")" -ge "$n" ] || die "the input has fewer than $n lines (--lines)"
  if [ "$r" = 1 ]; then
    # A fresh initdb creates (zero-fills) every WAL segment the first load needs and touches each shared buffer for
    # the first time: 4-7 server CPU s per million rows on this VM, charged to whichever contender loads first. A
    # log store under steady ingest recycles its WAL and has its buffers mapped, so one unmeasured load (the raw
    # COPY into a scratch database, then a checkpoint that keeps its segments for recycling) warms the cluster and
    # every contender meets the same server.
    log "postgres: warming the cluster (one unmeasured raw COPY of $n lines into a scratch database)"
    pg_fresh_db warmup
    "$bin/raw-store/e2e-raw-store" pgcopy "$(pg_conn warmup)" "$work/input-pg.log" "$n" >"$d/warmup.json" 2>"$d/warmup.log" \
      || log "FAILED: the warm-up load (see $d/warmup.log)"
    psql_ -c "DROP DATABASE warmup" -c "CHECKPOINT" >/dev/null
  fi
  log "postgres, repetition $r/$runs: conveyor, raw binary COPY and rsyslog into PostgreSQL, $n lines each"
  pg_fresh_db conveyor
  conveyor_replay conveyor-postgres "$d/conveyor-postgres-$r" "postgres:$(pg_conn conveyor)" "api:http://127.0.0.1:@API@/api/pipeline" "$work/input-pg.log" --pg-cpu
  psql_ -d conveyor -c "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM dead_letters)" >"$d/conveyor-postgres-$r/rows.txt"
  pg_fresh_db raw
  mkdir -p "$d/raw-pgcopy-$r"
  "$bin/raw-store/e2e-raw-store" pgcopy "$(pg_conn raw)" "$work/input-pg.log" "$n" >"$d/raw-pgcopy-$r/result.json" 2>"$d/raw-pgcopy-$r/error.log" \
    || log "FAILED: raw-store pgcopy (see $d/raw-pgcopy-$r/error.log)"
  if have_rsyslog; then
    psql_ -f "$here/peers/pg-tables.sql" >/dev/null 2>&1
    next_ports
    BENCH_OUT=/dev/null BENCH_DEST=pg PG_PORT=$PG_PORT measure replay --name rsyslog-postgres --case postgres \
      --rundir "$d/rsyslog-postgres-$r" --port "$port" --input "$work/input-pg.log" --done pgid:access_rsyslog \
      --pg-port "$PG_PORT" --pg-cpu --verify-pg access_rsyslog -- "$here/peers/run-rsyslog.sh"
  fi
}

run_fulltext() {  # issue 10 item 7: what each SQLite fullText choice costs to write and what it buys a search
  local r=$1 d=$out/runs/fulltext m cfg db
  mkdir -p "$d"
  for m in words trigram none; do
    log "fulltext, repetition $r/$runs: conveyor -> sqlite: fullText $m, $store_lines lines"
    next_ports
    db=$work/ft-$m-$r.db cfg=$work/ft-$m.yaml
    printf 'sources:\n  - { type: tcp, host: 127.0.0.1, port: %s, format: combined }\n  - { type: http, host: 127.0.0.1, port: %s, format: combined }\nsinks:\n  - { uri: "sqlite:%s", fullText: %s }\n' \
      "$port" "$api_port" "$db" "$m" >"$cfg"
    measure replay --name "conveyor-sqlite-$m" --case fulltext --rundir "$d/conveyor-sqlite-$m-$r" --port "$port" --input "$store_input" \
      --done "sqlite:$db" --settle=1 -- "$conveyor" run --config "$cfg"
    # a rare word (a handful of rows) and a common one (most rows), counted over the whole store
    { TIMEFORMAT='rare_s=%R'; time "$conveyor" query 'Googlebot' --count --store "sqlite:$db" >"$d/conveyor-sqlite-$m-$r/rare.txt"; } 2>>"$d/conveyor-sqlite-$m-$r/query-times.txt"
    { TIMEFORMAT='common_s=%R'; time "$conveyor" query 'GET' --count --store "sqlite:$db" >"$d/conveyor-sqlite-$m-$r/common.txt"; } 2>>"$d/conveyor-sqlite-$m-$r/query-times.txt"
    du -b "$db" | cut -f1 >"$d/conveyor-sqlite-$m-$r/db-bytes.txt"
    rm -f -- "$work/ft-$m-$r.db" "$work/ft-$m-$r.db-wal" "$work/ft-$m-$r.db-shm"
  done
}

run_scaling() {  # throughput and memory against parse workers and main-buffer size, into the NDJSON file sink
  local r=$1 d=$out/runs/scaling w b
  mkdir -p "$d"
  head -n "$scale_lines" "$input" >"$work/input-scale.log"
  for w in $scale_workers; do
    for b in $scale_buffers; do
      log "scaling, repetition $r/$runs: workers=$w buffer=$b"
      mkdir -p "$work/nd"
      CONVEYOR__PARSE__WORKERS=$w CONVEYOR__BUFFER__CAPACITY=$b \
        conveyor_replay "conveyor-w$w-b$b" "$d/w$w-b$b-$r" "ndjson:$work/nd/s.ndjson" "files:$work/nd/s*.ndjson" "$work/input-scale.log" --stall=10
      rm -rf "$work/nd"
    done
  done
}

run_smoke() {
  local d=$out/runs/smoke
  mkdir -p "$d"
  conveyor_replay conveyor-sqlite "$d/conveyor-sqlite" "sqlite:$work/smoke.db" "sqlite:$work/smoke.db"
  python3 - "$d/conveyor-sqlite/result.json" "$input_lines" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["complete"] and r["output_rows"] == int(sys.argv[2])
print("smoke: %s (%d of %s lines stored, %s lines/s)" % ("ok" if ok else "FAILED", r["output_rows"], sys.argv[2], r["lines_per_s"]))
sys.exit(0 if ok else 1)
EOF
}

# ---- the cases ------------------------------------------------------------------------------------------------
{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "command=bench/e2e/run.sh ${*:-}"
  echo "git=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "nproc=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "mem=$(free -h | awk '/^Mem:/ {print $2}')"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "input_lines=$input_lines (file outputs), store_lines=$store_lines (SQLite, PostgreSQL), peer_pg_lines=$peer_pg_lines, scale_lines=$scale_lines, scenario_s=$scenario_s"
  echo "runs=$runs"
  echo "dotnet=$(dotnet --version)"
  have_rsyslog && echo "rsyslog=$("$RSYSLOG_ROOT/usr/sbin/rsyslogd" -v 2>/dev/null | head -1)"
  have_syslogng && echo "syslog-ng=$(/usr/sbin/syslog-ng --version 2>/dev/null | head -1)"
  echo "postgresql=$("$PG_BIN/postgres" --version)"
} >"$out/machine.txt"
log "results in $out"

for c in $cases; do
  case $c in
    smoke) run_smoke;;
    throughput) pg_start; for r in $(seq "$runs"); do run_throughput "$r"; done;;
    postgres) pg_start; for r in $(seq "$runs"); do run_postgres "$r"; done;;
    fulltext) for r in $(seq "$runs"); do run_fulltext "$r"; done;;
    seed) for r in $(seq "$runs"); do run_seed "$r"; done;;
    overload) for r in $(seq "$runs"); do run_overload "$r"; done;;
    scaling) for r in $(seq "$runs"); do run_scaling "$r"; done;;
    *) die "unknown case: $c";;
  esac
done
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

if [ "$smoke" = 0 ]; then
  python3 "$here/lib/summarize.py" "$out"
  if [ -x "$bin/charts/e2e-charts" ]; then
    "$bin/charts/e2e-charts" "$out" || log "charts failed (tables are in $out/tables.md)"
  fi
  log "done: $out/tables.md"
fi
