#!/usr/bin/env bash
# Reproduces an intermittent stall of conveyor run seen while building bench/e2e (issue 6): a run that never moves a
# line out of the main buffer (or never hands a batch to its sink), with every thread idle. Seen 2 of 6 times with
# one parse worker and a 1,000-line main buffer, and once with the defaults. A dotnet-dump 'dumpasync' of a stalled
# process shows the TCP source waiting for room and a PipelineRecord consumer waiting to read, but no parse worker
# at all: its wait is no longer reachable, as if a reader waiter was unlinked and never completed.
#   bench/e2e/repro-stall.sh [TRIES]     (needs the conveyor binary built by run.sh, and the corpus)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
conveyor=${E2E_CACHE:-${TMPDIR:-/tmp}/conveyor-e2e-cache}/bin/conveyor/conveyor
corpus=${CORPUS:-$here/../../tests/corpus}
port=${PORT_BASE:-56300}
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in 1 2 3 4 5; do cat "$corpus/apache-combined.log"; done >"$work/in.log"
for i in $(seq "${1:-8}"); do
  CONVEYOR__PARSE__WORKERS=1 CONVEYOR__BUFFER__CAPACITY=1000 "$conveyor" run --from "tcp://127.0.0.1:$port" \
    --from "http://127.0.0.1:$((port + 1))" --to null: --format combined >"$work/conveyor.log" 2>&1 &
  pid=$!
  sleep 4
  timeout 15 python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$port)); s.sendfile(open(sys.argv[1],'rb')); s.close()" "$work/in.log" || true
  sleep 1
  state=$(curl -s "http://127.0.0.1:$((port + 1))/api/pipeline" | python3 -c "
import json, sys
d = json.load(sys.stdin)
st = {s['name']: s for s in d['stages']}
print('main %s/%s sent %s; sink stored %s' % (st['main']['depth'], st['main']['capacity'], st['main']['sent'], sum(s['stored'] for s in d['sinks'])))")
  echo "try $i: $state"
  kill -TERM "$pid"; wait "$pid" || true; pid=""
  case $state in *"sent 0;"*|*"stored 0") echo "STALLED on try $i"; exit 1;; esac
done
echo "no stall in ${1:-8} tries"
