#!/usr/bin/env bash
# The distributed pair on one machine: a private RabbitMQ and PostgreSQL, one edge (edge.yaml) and WORKERS workers
# (worker.yaml), then the seed's load (`conveyor gen --servers 3 --rate 50000 --duration 30s`) into the edge's TCP
# port. Waits until PostgreSQL holds every line sent, prints lines sent / stored / distinct and the throughput, and
# stops everything it started, whatever happened. Run as root on Debian (it uses the postgres user for initdb).
#   examples/distributed/run.sh                         1 edge, 2 workers, 50,000 lines/s for 30 s
#   WORKERS=3 RATE=80000 DURATION=60s examples/distributed/run.sh
#   KILL_AT=100000 examples/distributed/run.sh          SIGKILL worker 1 once 100,000 lines are stored, restart it 2 s later
# At the end it prints each process's CPU seconds over the run and per stored line (edge, workers, RabbitMQ, PostgreSQL, gen).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
WORKERS=${WORKERS:-2} RATE=${RATE:-50000} DURATION=${DURATION:-30s} KILL_AT=${KILL_AT:-0}
work=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-distributed.XXXXXX"); chmod 755 "$work"
pids=()
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$root/tests/rabbitmq.sh" kill "$work/rmq" >/dev/null 2>&1 || true
  [ -f "$work/pg/data/postmaster.pid" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  # The broker's and the database's files are gigabytes after a run; the logs are what a reader wants afterwards.
  mv "$work/pg/pg.log" "$work/postgres.log" 2>/dev/null || true
  rm -rf "$work/rmq" "$work/pg"
  echo "logs kept in $work (edge.log, worker-N.log, gen.log, postgres.log)"
}
trap cleanup EXIT

command -v epmd >/dev/null || { echo "RabbitMQ is not installed: apt-get install rabbitmq-server (or run ./test.sh once)" >&2; exit 1; }
echo "== build"
dotnet build "$root/src/Conveyor.Cli" -c Release -nologo -v quiet -clp:NoSummary
cli=(dotnet "$root/src/Conveyor.Cli/bin/Release/net10.0/conveyor.dll")

amqp_port=$(free_port); pg_port=$(free_port); tcp_port=$(free_port); edge_http=$(free_port)
"$root/tests/rabbitmq.sh" init "$work/rmq" "$amqp_port" "$(free_port)" "$(free_port)"
"$root/tests/rabbitmq.sh" start "$work/rmq" & rmq_start=$!
mkdir -p "$work/pg/sock"; chown -R postgres:postgres "$work/pg"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg/data" -U postgres --auth-local=trust --auth-host=trust --no-sync >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/pg.log" -w -o "-p $pg_port -k $work/pg/sock -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
psql -q -h "$work/pg/sock" -p "$pg_port" -U postgres -c "CREATE ROLE conveyor LOGIN PASSWORD 'conveyor' SUPERUSER" -c "CREATE DATABASE conveyor OWNER conveyor"
wait "$rmq_start"
broker="amqp://guest:guest@127.0.0.1:$amqp_port/?queue=conveyor"
store="postgres:Host=127.0.0.1;Port=$pg_port;Username=conveyor;Password=conveyor;Database=conveyor"
echo "== RabbitMQ on $amqp_port, PostgreSQL on $pg_port"

start_worker() {
  local n=$1
  CONVEYOR__SOURCES__0__URI="$broker&prefetch=20" CONVEYOR__SOURCES__1__PORT=$((edge_http + n)) CONVEYOR__SINKS__0__URI="$store" \
    "${cli[@]}" run --config "$root/examples/distributed/worker.yaml" >>"$work/worker-$n.log" 2>&1 &
  worker_pid[$n]=$!; pids+=("$!")
}
declare -a worker_pid
CONVEYOR__SOURCES__0__PORT=$tcp_port CONVEYOR__SOURCES__1__PORT=$edge_http CONVEYOR__SINKS__0__URI="$broker&format=raw&batch=500&window=64" \
  "${cli[@]}" run --config "$root/examples/distributed/edge.yaml" >"$work/edge.log" 2>&1 &
pids+=("$!")
for n in $(seq 1 "$WORKERS"); do start_worker "$n"; done
for port in "$edge_http" $(seq $((edge_http + 1)) $((edge_http + WORKERS))); do
  until curl -fs "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done
done

# CPU seconds (user + system) of processes, from /proc: what each part of the chain costs per line.
ticks=$(getconf CLK_TCK)
cpu_ticks() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
pg_pids() { local pm; pm=$(head -n 1 "$work/pg/data/postmaster.pid"); echo "$pm" $(pgrep -P "$pm"); }
rmq_pids() { pgrep -f "$work/rmq" || true; }
declare -A cpu0
snapshot_cpu() {
  cpu0[edge]=$(cpu_ticks "${pids[0]}"); cpu0[rabbitmq]=$(cpu_ticks $(rmq_pids)); cpu0[postgres]=$(cpu_ticks $(pg_pids))
  for n in $(seq 1 "$WORKERS"); do cpu0[worker-$n]=$(cpu_ticks "${worker_pid[$n]}"); done
}
report_cpu() { # LINES
  local name now
  printf '%-10s %8s %10s\n' process "CPU s" "µs/line"
  for name in edge $(for n in $(seq 1 "$WORKERS"); do echo "worker-$n"; done) rabbitmq postgres; do
    case $name in
      edge) now=$(cpu_ticks "${pids[0]}");; rabbitmq) now=$(cpu_ticks $(rmq_pids));; postgres) now=$(cpu_ticks $(pg_pids));;
      worker-*) now=$(cpu_ticks "${worker_pid[${name#worker-}]}");;
    esac
    printf '%-10s %8.2f %10.1f\n' "$name" "$(echo "($now - ${cpu0[$name]}) / $ticks" | bc -l)" "$(echo "($now - ${cpu0[$name]}) / $ticks * 1000000 / $1" | bc -l)"
  done
  [ -s "$work/gen.time" ] || { echo "gen: not measured (no /usr/bin/time: apt-get install time)"; return 0; }
  read -r gu gs <"$work/gen.time"
  printf '%-10s %8.2f %10.1f\n' gen "$(echo "$gu + $gs" | bc -l)" "$(echo "($gu + $gs) * 1000000 / $1" | bc -l)"
  [ "$killed" = 1 ] && echo "(worker 1 was killed and restarted: its figure counts only the restarted process)"
  return 0
}

count() { psql -tA -h "$work/pg/sock" -p "$pg_port" -U postgres -d conveyor -c "SELECT count(*), count(DISTINCT id) FROM events" 2>/dev/null || echo "0|0"; }
echo "== load: ${RATE} lines/s for ${DURATION}, ${WORKERS} workers"
snapshot_cpu
start=$(date +%s.%N)
timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -f '%U %S' -o "$work/gen.time")
"${timer[@]}" "${cli[@]}" gen --servers 3 --rate "$RATE" --duration "$DURATION" --to "tcp://127.0.0.1:$tcp_port" >"$work/gen.log" 2>&1 & gen=$!
killed=0
while kill -0 "$gen" 2>/dev/null; do
  if [ "$KILL_AT" -gt 0 ] && [ "$killed" = 0 ] && [ "$(count | cut -d'|' -f1)" -ge "$KILL_AT" ]; then
    echo "== SIGKILL worker 1 at $(count | cut -d'|' -f1) stored; restart in 2 s"
    kill -KILL "${worker_pid[1]}"; killed=1; sleep 2; start_worker 1
  fi
  sleep 0.5
done
wait "$gen" || true
sent=$(grep -oE 'sent [0-9,]+' "$work/gen.log" | tail -1 | awk '{print $2}' | tr -d ,)
sent=${sent:-0}
echo "== sent $sent; waiting for PostgreSQL to hold them"
deadline=$((SECONDS + 300))
until [ "$(count | cut -d'|' -f1)" -ge "$sent" ] || [ $SECONDS -ge $deadline ]; do sleep 0.5; done
took=$(echo "$(date +%s.%N) - $start" | bc)
IFS='|' read -r rows distinct <<<"$(count)"
echo "sent $sent  stored $rows  distinct $distinct  in ${took}s = $(echo "$rows / $took" | bc) lines/s  (load average $(cut -d' ' -f1-3 /proc/loadavg))"
[ "$rows" -gt 0 ] && report_cpu "$rows"
[ "$rows" = "$sent" ] && [ "$distinct" = "$sent" ]
