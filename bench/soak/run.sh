#!/usr/bin/env bash
# Soak test (issue 15; not in CI): the seed's load for a long time against a conveyor run whose sinks are slow,
# failing and recovering, sampling the service's resident memory, threads and open file descriptors, then asserting
# they stayed flat and that every line sent is accounted for.
#
#   bench/soak/run.sh [--duration 30m] [--rate 50000] [--out DIR] [--configuration Release] [--no-build]
#
#   --duration D  how long the load runs (default 30m; --duration 2m for a try); gen's duration syntax
#   --rate N      lines per second (default the seed's 50000), from `conveyor gen --servers 3`
#   --out DIR     results folder (default bench/soak/results/<UTC time>; ignored by git)
#   --configuration C  the build of src/Conveyor.Cli to run (default Release)
#   --no-build    use the last build of that configuration
#
# The service: a TCP source (what gen sends to), an HTTP source (for /api/pipeline), and two sinks over null: so
# no disk fills in 30 minutes: `slow:25ms+null:` (1,000-event batches at most 40,000 events/s, below the load: its
# queue fills and drops by its policy, counted) and `flaky:40s/20s+null:` (writes for 40 s, then every write fails
# for 20 s, over and over: retries, warnings, /ready 503, recovery). Every 10 s samples.csv gets the time, RSS (KiB),
# threads and open fds of the conveyor process, and /api/pipeline's received count of the TCP source.
#
# Asserts at the end (exit 1 when one fails, each printed):
#   flat:       the mean of the last third of the samples against the middle third: RSS within 15% (+16 MiB),
#               threads within 20% (+4), open fds within 10% (+8). The first third is warm-up (JIT, pools, the
#               buffers filling) and is not compared.
#   accounting: gen's sent = the shutdown report's received, and for each sink
#               admitted = stored + dead letters + rejected + dropped at queue + failed + not written
#               (sent = stored + dead-lettered + dropped, with every way of dropping named).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
duration=30m rate=50000 out="" build=1 configuration=Release
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift;;
    --rate) rate=$2; shift;;
    --out) out=$2; shift;;
    --configuration) configuration=$2; shift;;
    --no-build) build=0;;
    -h|--help) sed -n '2,26p' "$0"; exit 0;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2;;
  esac
  shift
done
out=${out:-$here/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"

if [ "$build" = 1 ]; then
  dotnet build "$repo/src/Conveyor.Cli" -c "$configuration" -v quiet -nologo >/dev/null
fi
dll=$repo/src/Conveyor.Cli/bin/$configuration/net10.0/conveyor.dll
[ -f "$dll" ] || { echo "no Release build at $dll (drop --no-build)" >&2; exit 2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tcp=$(free_port) http=$(free_port)
cat > "$out/conveyor.json" <<JSON
{
  "sources": [ { "type": "tcp", "port": $tcp, "format": "combined" }, { "type": "http", "port": $http } ],
  "sinks": [ { "uri": "slow:25ms+null:" }, { "uri": "flaky:40s/20s+null:" } ]
}
JSON

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cd "$out"
dotnet "$dll" run --config conveyor.json > conveyor.stdout 2> conveyor.stderr &
service=$!; pids+=("$service")
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$http/health" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fs "http://127.0.0.1:$http/health" >/dev/null || { echo "the service did not start; see $out/conveyor.stderr" >&2; exit 1; }

echo "time_s,rss_kib,threads,fds,received,load1" > samples.csv
sample() {
  local rss threads fds received
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$service/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$service/status")
  fds=$(ls "/proc/$service/fd" | wc -l)
  received=$(curl -fs "http://127.0.0.1:$http/api/pipeline" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(s.get("received",0) for s in d.get("stages",[]) if s.get("name","").startswith("source:tcp")))' 2>/dev/null || echo "")
  echo "$(( $(date +%s) - started )),$rss,$threads,$fds,$received,$(cut -d' ' -f1 /proc/loadavg)" >> samples.csv
}

started=$(date +%s)
dotnet "$dll" gen --servers 3 --rate "$rate" --duration "$duration" --to "tcp://127.0.0.1:$tcp" > /dev/null 2> gen.stderr &
gen=$!; pids+=("$gen")
while kill -0 "$gen" 2>/dev/null; do
  sample
  for _ in $(seq 1 10); do kill -0 "$gen" 2>/dev/null || break; sleep 1; done
done
wait "$gen" || { echo "gen failed; see $out/gen.stderr" >&2; exit 1; }
sample

# Stop: the drain deadline (30 s) lets the flaky sink get through one more down period's backlog or report it left.
kill -TERM "$service"
wait "$service" || true

python3 - "$out" <<'PY'
import csv, re, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/samples.csv")))
ok = True
def check(name, good, detail):
    global ok
    print(("ok    " if good else "FAIL  ") + name + ": " + detail)
    ok &= good
n = len(rows)
if n < 6:
    check("samples", False, f"only {n} samples; run longer")
else:
    mid, last = rows[n // 3: 2 * n // 3], rows[2 * n // 3:]
    for key, pct, slack in (("rss_kib", 0.15, 16 * 1024), ("threads", 0.20, 4), ("fds", 0.10, 8)):
        m = sum(float(r[key]) for r in mid) / len(mid)
        l = sum(float(r[key]) for r in last) / len(last)
        check(f"flat {key}", l <= m * (1 + pct) + slack, f"middle third {m:.0f}, last third {l:.0f} (allowed {m * (1 + pct) + slack:.0f})")
    print(f"      peak RSS {max(int(r['rss_kib']) for r in rows) // 1024} MiB, load average {min(float(r['load1']) for r in rows)}-{max(float(r['load1']) for r in rows)}")
gen = open(f"{out}/gen.stderr").read()
err = open(f"{out}/conveyor.stderr").read()
sent = re.findall(r"gen: sent ([\d,]+) lines in", gen)
report = re.search(r"Shutdown report: received (\d+), admitted (\d+),", err)
if not sent or not report:
    check("accounting", False, "no gen total or no shutdown report (see gen.stderr, conveyor.stderr)")
else:
    sent, received, admitted = int(sent[-1].replace(",", "")), int(report.group(1)), int(report.group(2))
    check("sent = received", sent == received, f"gen sent {sent}, the service received {received}, admitted {admitted}")
    for m in re.finditer(r"sink (\S+) \((\w+)\): stored (\d+) events and (\d+) dead letters, rejected (\d+), dropped at queue (\d+), failed (\d+), not written (\d+)", err):
        name, parts = m.group(1), [int(x) for x in m.groups()[2:]]
        check(f"sink {name}", admitted == sum(parts),
              f"admitted {admitted} = stored {parts[0]} + dead letters {parts[1]} + rejected {parts[2]} + dropped at queue {parts[3]} + failed {parts[4]} + not written {parts[5]}")
warnings = len(re.findall(r"a write failed and is being retried|still failing", err))
recovered = len(re.findall(r"recovered", err))
print(f"      flaky sink: {warnings} failure warnings, {recovered} recoveries logged")
sys.exit(0 if ok else 1)
PY
