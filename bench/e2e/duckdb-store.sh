#!/usr/bin/env bash
# Issue 10's "Done when" for the DuckDB default store: COUNT lines (default 10M) through `conveyor run` over TCP into
# duckdb:, the store rate over the first and the last fifth, /api/search timings while it runs (field filter newest
# 100, common word newest 50, exact total of a rare word, per-minute histogram of everything), and disk bytes per line
# against the raw bytes per line gen sent.
#   bench/e2e/duckdb-store.sh                    10M lines offered at 400k lines/s
#   COUNT=1000000 RATE=500000 bench/e2e/duckdb-store.sh
# Run it on a quiet machine only; it prints the load average beside the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${COUNT:-10000000}; RATE=${RATE:-400000}
cli=src/Conveyor.Cli/bin/Release/net10.0/conveyor.dll
[ -f "$cli" ] || dotnet build src/Conveyor.Cli -c Release -nologo -v q
work=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-duckdb.XXXXXX")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tcp=$(free_port); http=$(free_port)
dotnet "$cli" run --format combined --from "tcp://127.0.0.1:$tcp" --from "http://127.0.0.1:$http" --to "duckdb:$work/c.duckdb" 2>"$work/service.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -fs "http://127.0.0.1:$http/health" >/dev/null 2>&1; do sleep 0.2; done
stored() { curl -fs "http://127.0.0.1:$http/api/search?limit=1&total=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
search() { curl -fs -o /dev/null -w "%{time_total}" "http://127.0.0.1:$http/api/search?$1"; }
dotnet "$cli" gen --rate "$RATE" --count "$COUNT" --servers 3 --to "tcp://127.0.0.1:$tcp" >"$work/gen.log" 2>&1 &
gen=$!
fifth=$((COUNT / 5)); mark1=""; mark4=""; t0=$(date +%s.%N)
while kill -0 $gen 2>/dev/null || [ "$(stored)" -lt "$COUNT" ]; do
  n=$(stored); now=$(date +%s.%N)
  [ -z "$mark1" ] && [ "$n" -ge "$fifth" ] && mark1=$now && first=$(echo "$fifth / ($now - $t0)" | bc) && echo "first fifth stored: $first lines/s"
  [ -z "$mark4" ] && [ "$n" -ge $((4 * fifth)) ] && mark4=$now && t4=$n
  if [ -n "$mark1" ] && [ -z "$mark4" ]; then
    echo "while writing ($n rows): status=500 newest 100 $(search 'q=status%3D500&limit=100') s; common word newest 50 $(search 'q=Googlebot&limit=50') s; rare word total $(search 'q=zzqxrare&limit=1&total=1') s; per-minute histogram $(search 'q=&limit=1&histogram=1m') s"
  fi
  sleep 1
  [ "$(date +%s)" -gt "$(printf '%.0f' "$(echo "$t0 + 3600" | bc)")" ] && break
done
end=$(date +%s.%N)
last=$(echo "($COUNT - $t4) / ($end - $mark4)" | bc)
# Both rates again, side by side at the end: the first-fifth line above is printed mid-run and lost from a captured tail.
echo "first fifth stored: $first lines/s; last fifth stored: $last lines/s; last/first $(echo "scale=2; $last / $first" | bc); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "at $COUNT rows: status=500 newest 100 $(search 'q=status%3D500&limit=100') s; common word newest 50 $(search 'q=Googlebot&limit=50') s; rare word total $(search 'q=zzqxrare&limit=1&total=1') s; per-minute histogram $(search 'q=&limit=1&histogram=1m') s"
kill -TERM $pid; wait $pid || true
# gen's summary ends with the UTF-8 bytes of the lines it sent (newlines included): the raw size to compare with.
raw=$(grep -o '; [0-9]* bytes$' "$work/gen.log" | grep -o '[0-9]*' | tail -1)
disk=$(du -cb "$work"/c.duckdb* | tail -1 | cut -f1)
echo "disk $disk bytes for $COUNT lines: $((disk / COUNT)) bytes per line; raw $raw bytes: $((raw / COUNT)) bytes per line; disk/raw $(echo "scale=2; $disk / $raw" | bc)"
