#!/usr/bin/env python3
"""One measured run of bench/e2e (issue 6). Two modes:

  measure.py replay   --name N --rundir D --port P --input F --done KIND:ARG [...] -- CMD ARGS...
      Max throughput. Starts CMD (the processor: conveyor, a peer, the naive variant), waits for its TCP port,
      pushes the whole INPUT over ONE blocking TCP connection with sendfile(2) (as fast as the receiver reads,
      never faster), and waits until the output holds every line. lines/s = lines / (last row seen - first
      byte sent). CPU s = the processor's utime+stime in that window, peak RSS = its VmHWM.
      Completion (--done): file:PATH (newlines appended), files:GLOB (the same over every matching file, e.g. an
      NDJSON sink's file, its rotated files and its dead letters), sqlite:PATH (rows in events + dead_letters),
      api:URL (conveyor's /api/pipeline: stored + dead-lettered of every sink), pgid:TABLE (max(id), the peers'
      bigserial key); --verify-pg TABLE[,TABLE] counts rows at the end (PostgreSQL on --pg-port).

  measure.py scenario --name N --rundir D --port P --duration S --sender CMD [--sender CMD ...] -- CMD ARGS...
      Seed and overload scenarios. Starts CMD, then the senders (each a shell-quoted command, e.g. conveyor gen),
      and for DURATION s samples the processor's RSS and CPU every 0.5 s and conveyor's /api/pipeline (--api)
      every second; with --latency-db PATH it also measures ingest->stored latency (below). Then waits for the
      senders to finish and keeps their output.

Latency (--latency-db): every 100 ms a reader selects the rows committed since its last look
(rowid > last) from the SQLite store; a row's stored time is taken as the moment it became visible to that
reader, so latency = that moment - the row's observed_ts (set by conveyor when it received the line). This is an
upper bound, late by at most the polling interval plus the query time (both recorded), never early.
With --latency-api URL instead (a store only the service can read, such as DuckDB): the admitted and stored curves
of /api/pipeline's first sink, polled every 100 ms, give each 500th line's latency (see ApiLatencyProbe).

Writes DIR/result.json (one JSON object, also printed) and DIR/timeline.csv. Stops CMD by its PID (SIGTERM, then
SIGKILL after 20 s). Loopback only. Modelled on /work/shared/peers/bench.py (same sender and counting method).
"""
import argparse
import csv
import glob
import json
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

CLK = os.sysconf("SC_CLK_TCK")
PSQL = "/usr/lib/postgresql/15/bin/psql"


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def reaped_children_cpu(pid):
    """CPU s of the children `pid` has waited for (cutime + cstime)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / CLK


def proc_mem(pid):
    rss = hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                rss = int(ln.split()[1])
            elif ln.startswith("VmHWM:"):
                hwm = int(ln.split()[1])
    return rss / 1024.0, hwm / 1024.0


def http_json(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(8 << 20), b""):
            n += chunk.count(b"\n")
    return n


# ---- completion counters -----------------------------------------------------------------------------------

class FileCounter:
    def __init__(self, path):
        self.path, self.f, self.count = path, None, 0

    def poll(self):
        if self.f is None:
            try:
                self.f = open(self.path, "rb")
            except FileNotFoundError:
                return 0
        while True:
            buf = self.f.read(8 << 20)
            if not buf:
                return self.count
            self.count += buf.count(b"\n")


class GlobCounter:
    """Newlines in every file matching a glob: an NDJSON sink's file, the files it rotated away, its dead letters."""
    def __init__(self, pattern):
        self.pattern, self.files, self.count, self.next_glob = pattern, {}, 0, 0.0

    def poll(self):
        # Files are told apart by inode: a rotation renames the open file (same inode, read on through the open
        # handle) and creates a new one under the old name (a new inode, opened here).
        now = time.monotonic()
        if now >= self.next_glob:
            self.next_glob = now + 0.2
            for path in glob.glob(self.pattern):
                try:
                    ino = os.stat(path).st_ino
                    if ino not in self.files:
                        self.files[ino] = open(path, "rb")
                except FileNotFoundError:
                    pass
        for f in self.files.values():
            while True:
                buf = f.read(8 << 20)
                if not buf:
                    break
                self.count += buf.count(b"\n")
        return self.count


class SqliteCounter:
    """Rows in a conveyor SQLite store: max(rowid) of events (a fresh database, rows only appended) plus dead letters."""
    def __init__(self, path):
        self.path, self.db = path, None

    def poll(self):
        if self.db is None:
            if not os.path.exists(self.path):
                return 0
            try:
                self.db = sqlite3.connect("file:%s?mode=ro" % self.path, uri=True, timeout=5)
            except sqlite3.Error:
                return 0
        try:
            r = self.db.execute("SELECT (SELECT coalesce(max(rowid), 0) FROM events), (SELECT count(*) FROM dead_letters)").fetchone()
            return r[0] + r[1]
        except sqlite3.Error:   # schema not created yet
            return 0

    def exact(self):
        if self.db is None:
            return 0
        r = self.db.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM dead_letters)").fetchone()
        return r[0] + r[1]


class ApiCounter:
    """Stored + dead-lettered of every sink, as conveyor's /api/pipeline reports them (after the commit)."""
    def __init__(self, url):
        self.url, self.last, self.answered = url, 0, False

    def poll(self):
        try:
            snap = http_json(self.url)
        except (OSError, ValueError):
            return self.last
        self.answered = True
        self.last = sum(s.get("stored", 0) + s.get("dead_lettered", 0) for s in snap.get("sinks", []))
        return self.last


class PgIdCounter:
    def __init__(self, table, port):
        self.table, self.port = table, port

    def poll(self):
        return int(psql(self.port, "SELECT coalesce(max(id), 0) FROM %s" % self.table) or 0)


def psql(port, q):
    return subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", q],
                          check=True, capture_output=True, text=True).stdout.strip()


def pg_server_cpu(port):
    """CPU s of the PostgreSQL postmaster on `port`, its live children (the writers' backends among them) and the
    children it has reaped (a backend that exits between two readings, e.g. a pooled connection closed, would otherwise
    take its CPU with it: one run read 5.5 s where its neighbours read 9-11)."""
    datadir = psql(port, "SHOW data_directory")
    with open(os.path.join(datadir, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if int(d) == postmaster:
                total += proc_cpu(int(d)) + reaped_children_cpu(int(d))
            elif ppid == postmaster:
                total += proc_cpu(int(d))
        except (OSError, ValueError, IndexError):
            pass
    return total


def make_counter(spec, pg_port):
    kind, _, arg = spec.partition(":")
    if kind == "file":
        return FileCounter(arg), 0.02
    if kind == "files":
        return GlobCounter(arg), 0.02
    if kind == "sqlite":
        return SqliteCounter(arg), 0.05
    if kind == "api":
        return ApiCounter(arg), 0.05
    if kind == "pgid":
        return PgIdCounter(arg, pg_port), 0.25
    sys.exit("unknown --done kind: %s" % spec)


# ---- process handling --------------------------------------------------------------------------------------

def wait_port(port, proc, timeout=90):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit("processor exited during start-up, rc=%s (see its log)" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("processor did not open port %d in %ds" % (port, timeout))


def stop(proc, grace=20):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Sampler(threading.Thread):
    """RSS and CPU s of one PID every `interval` s; `extra()` adds columns (e.g. rows done)."""
    def __init__(self, pid, t0, interval, extra=None):
        super().__init__(daemon=True)
        self.pid, self.t0, self.interval, self.extra = pid, t0, interval, extra
        self.rows, self.stop_flag, self.max_rss = [], False, 0.0

    def run(self):
        while not self.stop_flag:
            try:
                rss, _ = proc_mem(self.pid)
                cpu = proc_cpu(self.pid)
            except (OSError, ValueError):
                return
            self.max_rss = max(self.max_rss, rss)
            row = [round(time.monotonic() - self.t0, 2), round(rss, 1), round(cpu, 2)]
            if self.extra:
                row += self.extra()
            self.rows.append(row)
            time.sleep(self.interval)


def start(cmd, rundir, env_extra):
    env = dict(os.environ, **env_extra)
    log = open(os.path.join(rundir, "processor.log"), "wb")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def write_result(rundir, res, header, rows):
    with open(os.path.join(rundir, "timeline.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    with open(os.path.join(rundir, "result.json"), "w") as f:
        json.dump(res, f)
    print(json.dumps(res), flush=True)


# ---- replay (max throughput) -------------------------------------------------------------------------------

def replay(a, cmd):
    nlines = a.lines or count_lines(a.input)
    counter, poll_s = make_counter(a.done, a.pg_port)
    proc = start(cmd, a.rundir, {"BENCH_PORT": str(a.port), "BENCH_RUNDIR": os.path.abspath(a.rundir)})
    sent, res = {}, None
    try:
        wait_port(a.port, proc)
        time.sleep(a.settle)
        rss0, _ = proc_mem(proc.pid)
        cpu0 = proc_cpu(proc.pid)
        pg0 = pg_server_cpu(a.pg_port) if a.pg_cpu else None
        done = [0]
        t_start = time.monotonic()
        sampler = Sampler(proc.pid, t_start, 0.1, lambda: [done[0]])
        sampler.start()

        def send():
            with open(a.input, "rb") as f, socket.create_connection(("127.0.0.1", a.port)) as s:
                sent["t0"] = time.monotonic()
                try:
                    s.sendfile(f)
                except OSError as e:
                    sent["error"] = "%s after %d bytes" % (e.__class__.__name__, f.tell())
                    return
                sent["t_sent"] = time.monotonic()
                s.shutdown(socket.SHUT_WR)
                s.settimeout(None)
                try:
                    while s.recv(4096):
                        pass
                except OSError:
                    pass

        threading.Thread(target=send, daemon=True).start()
        while "t0" not in sent:
            time.sleep(0.001)
        t0, t_done, last_n, last_change = sent["t0"], None, 0, time.monotonic()
        while True:
            n = counter.poll()
            done[0] = n
            now = time.monotonic()
            if n != last_n:
                last_n, last_change = n, now
            if n >= nlines:
                t_done = now
                break
            if proc.poll() is not None or now - max(last_change, t0) > a.stall or now - t0 > a.timeout:
                break
            time.sleep(poll_s)
        t_last = t_done or last_change
        cpu1 = proc_cpu(proc.pid) if proc.poll() is None else float("nan")
        _, hwm = proc_mem(proc.pid) if proc.poll() is None else (0, 0)
        pg_cpu = round(pg_server_cpu(a.pg_port) - pg0, 2) if a.pg_cpu else None
        sampler.stop_flag = True
        sampler.join()
        if isinstance(counter, ApiCounter) and not counter.answered:
            # A count that was never read is not 0 rows: say so instead of reporting a figure.
            sys.exit("%s never answered: no row count for this run" % counter.url)
        final = counter.exact() if isinstance(counter, SqliteCounter) else last_n
        verified = {}
        for table in filter(None, (a.verify_pg or "").split(",")):
            verified[table] = int(psql(a.pg_port, "SELECT count(*) FROM %s" % table))
        elapsed = t_last - t0
        res = {
            "name": a.name, "case": a.case, "input_lines": nlines, "output_rows": final, "verified_pg_rows": verified or None,
            "complete": final >= nlines, "elapsed_s": round(elapsed, 3), "lines_per_s": round(final / elapsed) if elapsed > 0 else None,
            "sender_done_s": round(sent["t_sent"] - t0, 3) if "t_sent" in sent else None, "sender_error": sent.get("error"),
            "cpu_s": round(cpu1 - cpu0, 2), "cores": round((cpu1 - cpu0) / elapsed, 2) if elapsed > 0 else None,
            "peak_rss_mib": round(max(hwm, sampler.max_rss), 1), "rss_at_start_mib": round(rss0, 1),
            "end_resolution_s": poll_s, "pg_server_cpu_s": pg_cpu,
        }
        rows = [[round(r[0] - (t0 - t_start), 2)] + r[1:] for r in sampler.rows]
    finally:
        stop(proc)
    write_result(a.rundir, res, ["t_s", "rss_mib", "cpu_s", "rows_done"], rows)


# ---- scenario (seed, overload) -----------------------------------------------------------------------------

class LatencyProbe(threading.Thread):
    def __init__(self, path, interval=0.1):
        super().__init__(daemon=True)
        self.path, self.interval, self.stop_flag = path, interval, False
        self.samples, self.query_ms_max, self.polls = [], 0.0, 0   # (poll wall time s, latency ms)

    def run(self):
        db, last = None, 0
        while not self.stop_flag:
            time.sleep(self.interval)
            if db is None:
                if not os.path.exists(self.path):
                    continue
                db = sqlite3.connect("file:%s?mode=ro" % self.path, uri=True, timeout=5)
            q0 = time.time()
            try:
                rows = db.execute("SELECT rowid, observed_ts FROM events WHERE rowid > ? ORDER BY rowid", (last,)).fetchall()
            except sqlite3.Error:
                continue
            q1 = time.time()
            self.polls += 1
            self.query_ms_max = max(self.query_ms_max, (q1 - q0) * 1000)
            if rows:
                last = rows[-1][0]
                seen_us = q0 * 1e6   # visible by the time the query started: the earliest honest stored time
                self.samples.extend((q0, (seen_us - obs) / 1000.0) for _, obs in rows)


class ApiLatencyProbe(threading.Thread):
    """Ingest->stored latency for a store no second process can read (DuckDB admits one): every 100 ms it reads
    /api/pipeline's first sink, lines admitted to the main buffer A(t) and records stored or dead-lettered S(t). The
    pipeline is first in, first out (one main buffer, parse hand-off in take order, one sink queue), so the k-th
    admitted line is the k-th stored: its latency is S^-1(k) - A^-1(k), each read off the polled curves by linear
    interpolation. An estimate, good to about one polling interval either way, not a per-row measurement."""

    def __init__(self, url, interval=0.1):
        super().__init__(daemon=True)
        self.url, self.interval, self.stop_flag = url, interval, False
        self.points, self.samples, self.query_ms_max, self.polls = [], [], 0.0, 0   # (t, admitted, done); (t, ms)
        self.every = 500   # one sample per this many lines: latency_rows counts the lines the samples stand for

    def run(self):
        while not self.stop_flag:
            time.sleep(self.interval)
            q0 = time.time()
            try:
                sink = http_json(self.url)["sinks"][0]
            except (OSError, ValueError, KeyError, IndexError):
                continue
            q1 = time.time()
            self.polls += 1
            self.query_ms_max = max(self.query_ms_max, (q1 - q0) * 1000)
            self.points.append(((q0 + q1) / 2, sink["admitted"], sink["stored"] + sink["dead_lettered"]))
        self.samples = self._latencies()

    def _latencies(self):
        import bisect
        every = self.every
        pts = self.points
        if len(pts) < 2:
            return []
        ts = [p[0] for p in pts]

        def when(col, k):   # first moment the curve reaches k, interpolated between the two polls around it
            vals = [p[col] for p in pts]
            i = bisect.bisect_left(vals, k)
            if i == 0 or i >= len(vals):
                return None
            v0, v1 = vals[i - 1], vals[i]
            return ts[i - 1] + (ts[i] - ts[i - 1]) * (k - v0) / (v1 - v0)

        out = []
        for k in range(every, pts[-1][2] + 1, every):
            ta, ts_ = when(1, k), when(2, k)
            if ta is not None and ts_ is not None:
                out.append((ts_, max(0.0, (ts_ - ta) * 1000.0)))
        return out


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))], 1)


def scenario(a, cmd):
    proc = start(cmd, a.rundir, {"BENCH_PORT": str(a.port), "BENCH_RUNDIR": os.path.abspath(a.rundir)})
    senders, res = [], None
    try:
        wait_port(a.port, proc)
        if a.api:
            end = time.monotonic() + 30
            while time.monotonic() < end:
                try:
                    http_json(a.api)
                    break
                except (OSError, ValueError):
                    time.sleep(0.2)
        time.sleep(a.settle)
        cpu0 = proc_cpu(proc.pid)
        probe = LatencyProbe(a.latency_db) if a.latency_db else ApiLatencyProbe(a.latency_api) if a.latency_api else None
        if probe:
            probe.start()
        t0 = time.monotonic()
        for i, s in enumerate(a.sender):
            out = open(os.path.join(a.rundir, "sender-%d.log" % i), "wb")
            senders.append(subprocess.Popen(shlex.split(s), stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        sampler = Sampler(proc.pid, t0, 0.5)
        sampler.start()
        api_rows, tick = [], t0
        while time.monotonic() - t0 < a.duration:
            tick += 1.0
            if a.api:
                try:
                    snap = http_json(a.api)
                    for st in snap.get("stages", []):
                        api_rows.append([round(time.monotonic() - t0, 2), st.get("name"), st.get("depth"), st.get("capacity"),
                                         st.get("bytes"), st.get("max_bytes"), st.get("fill"), st.get("received"), st.get("sent"),
                                         sum((st.get("dropped") or {}).values()), st.get("blocked_seconds")])
                except (OSError, ValueError):
                    pass
            time.sleep(max(0.0, tick - time.monotonic()))
        t_end = time.monotonic()
        cpu1 = proc_cpu(proc.pid)
        _, hwm = proc_mem(proc.pid)
        final_snap = None
        if a.api:
            try:
                final_snap = http_json(a.api)
            except (OSError, ValueError):
                pass
        for p in senders:   # they stop by themselves (--duration); this only bounds the wait
            try:
                p.wait(a.sender_grace)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        sampler.stop_flag = True
        sampler.join()
        if probe:
            probe.stop_flag = True
            probe.join()
        rows = sampler.rows
        last30 = [r[1] for r in rows if r[0] >= a.duration - 30]
        first_half = [r[1] for r in rows if a.duration - 30 > r[0] >= a.duration - 60]
        lat = [l for _, l in probe.samples] if probe else []
        res = {
            "name": a.name, "case": a.case, "duration_s": round(t_end - t0, 1),
            "cpu_s": round(cpu1 - cpu0, 2), "cores": round((cpu1 - cpu0) / (t_end - t0), 3),
            "peak_rss_mib": round(hwm, 1),
            "rss_last30_min_mib": round(min(last30), 1) if last30 else None,
            "rss_last30_max_mib": round(max(last30), 1) if last30 else None,
            "rss_growth_last30_mib": round(last30[-1] - last30[0], 1) if last30 else None,
            "rss_max_before_last30_mib": round(max(first_half), 1) if first_half else None,
            "latency_rows": len(lat) * getattr(probe, "every", 1), "latency_p50_ms": pct(lat, 50), "latency_p99_ms": pct(lat, 99), "latency_max_ms": pct(lat, 100),
            "latency_poll_ms": 100, "latency_query_ms_max": round(probe.query_ms_max, 1) if probe else None,
            "senders": [open(os.path.join(a.rundir, "sender-%d.log" % i), errors="replace").read()[-2000:] for i in range(len(senders))],
            "pipeline_end": final_snap,
        }
        if api_rows:
            with open(os.path.join(a.rundir, "pipeline.csv"), "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["t_s", "stage", "depth", "capacity", "bytes", "max_bytes", "fill", "received", "sent", "dropped", "blocked_s"])
                w.writerows(api_rows)
        if probe:
            with open(os.path.join(a.rundir, "latency.csv"), "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["t_s", "latency_ms"])
                step = max(1, len(probe.samples) // 20000)   # keep the file small
                w.writerows([round(t - (time.time() - time.monotonic() + t0), 2), round(l, 1)] for t, l in probe.samples[::step])
    finally:
        for p in senders:
            if p.poll() is None:
                p.kill()
        stop(proc)
    write_result(a.rundir, res, ["t_s", "rss_mib", "cpu_s"], sampler.rows if res else [])


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("replay", "scenario", "pgcpu"):
        sys.exit("usage: measure.py replay|scenario OPTIONS -- CMD ARGS... | pgcpu --pg-port P [--since CPU_S]")
    if sys.argv[1] == "pgcpu":   # CPU s of the PostgreSQL server (minus --since): for runs not started by this script
        ap = argparse.ArgumentParser()
        ap.add_argument("--pg-port", type=int, required=True)
        ap.add_argument("--since", type=float, default=0.0)
        a = ap.parse_args(sys.argv[2:])
        print(round(pg_server_cpu(a.pg_port) - a.since, 2))
        return
    mode = sys.argv.pop(1)
    # a SIGTERM (run.sh's clean-up) unwinds through the finally blocks, which stop the processor by its PID
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--case", default="")
    ap.add_argument("--rundir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--pg-port", type=int, default=55471)
    # replay
    ap.add_argument("--input")
    ap.add_argument("--lines", type=int, default=0, help="lines in --input (counted when 0)")
    ap.add_argument("--done", help="file:PATH | files:GLOB | sqlite:PATH | api:URL | pgid:TABLE")
    ap.add_argument("--verify-pg")
    ap.add_argument("--pg-cpu", action="store_true", help="also measure the PostgreSQL server's CPU s")
    ap.add_argument("--stall", type=float, default=30)
    ap.add_argument("--timeout", type=float, default=600)
    # scenario
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--sender", action="append", default=[])
    ap.add_argument("--sender-grace", type=float, default=30)
    ap.add_argument("--api")
    ap.add_argument("--latency-db")
    ap.add_argument("--latency-api", help="/api/pipeline URL: latency from the admitted and stored curves (ApiLatencyProbe)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    os.makedirs(a.rundir, exist_ok=True)
    (replay if mode == "replay" else scenario)(a, cmd)


if __name__ == "__main__":
    main()
