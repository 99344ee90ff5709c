#!/usr/bin/env bash
# End-to-end throughput and memory of `conveyor run`: simulated web servers (conveyor gen) send over TCP for a
# while; prints lines/s stored, peak RSS and the shutdown report.
#   bench/e2e/run.sh                       null sink (everything but the store), 100k lines/s offered, 10 s
#   SINK=sqlite RATE=50000 bench/e2e/run.sh  the SQLite store
#   SINK='slow:20ms+null:' bench/e2e/run.sh  a sink slower than the input: every buffer fills, memory stays bounded
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE=${RATE:-100000}; SECONDS_TO_RUN=${DURATION:-10}; SINK=${SINK:-null:}
cli=src/Conveyor.Cli/bin/Release/net10.0/conveyor.dll
[ -f "$cli" ] || dotnet build src/Conveyor.Cli -c Release -nologo -v q
work=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-e2e.XXXXXX")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tcp=$(free_port); http=$(free_port)
[ "$SINK" = sqlite ] && SINK="sqlite:$work/x.db"
dotnet "$cli" run --from "tcp://127.0.0.1:$tcp" --from "http://127.0.0.1:$http" --to "$SINK" 2>"$work/service.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -fs "http://127.0.0.1:$http/health" >/dev/null 2>&1; do sleep 0.2; done
stored() { curl -fs "http://127.0.0.1:$http/api/pipeline" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(s["sent"] for s in d["stages"] if s["name"].startswith("write:")))'; }
start=$(date +%s.%N); before=$(stored)
dotnet "$cli" gen --rate "$RATE" --duration "${SECONDS_TO_RUN}s" --servers 3 --to "tcp://127.0.0.1:$tcp" 2>&1 | tail -1
after=$(stored); end=$(date +%s.%N)
echo "stored $((after - before)) lines in $(printf '%.1f' "$(echo "$end - $start" | bc)") s: $(echo "($after - $before) / ($end - $start)" | bc) lines/s end to end (sink $SINK)"
echo "peak RSS $(awk '/VmHWM/ {printf "%d MiB", $2/1024}' /proc/$pid/status); load average $(cut -d' ' -f1-3 /proc/loadavg)"
kill -TERM $pid; wait $pid || true
grep "Shutdown report" "$work/service.log" | sed 's/^.*Shutdown report: /  /'
