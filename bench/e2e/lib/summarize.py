#!/usr/bin/env python3
"""Summarises a bench/e2e results folder: medians over the repetitions, the ratios (computed per repetition,
between runs made side by side, then the median), markdown tables (tables.md), summary.json and charts.json
(the series that e2e-charts draws).

    summarize.py RESULTS_DIR
"""
import csv
import glob
import json
import os
import re
import statistics
import sys

out = sys.argv[1]
runs = os.path.join(out, "runs")


def load(case):
    res = {}
    for path in sorted(glob.glob(os.path.join(runs, case, "*", "result.json"))):
        run = os.path.basename(os.path.dirname(path))
        m = re.match(r"(.*)-(\d+)$", run)
        name, rep = (m.group(1), int(m.group(2))) if m else (run, 1)
        with open(path) as f:
            try:
                r = json.load(f)
            except ValueError:
                continue
        r["_dir"] = os.path.dirname(path)
        # pg_server_cpu.txt beside raw-pgcopy is not used: the loop's backend has exited by the time it is read,
        # so its CPU is missing from the postmaster's live children
        res.setdefault(name, {})[rep] = r
    return res


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, float) and digits:
        return "{:,.{d}f}".format(v, d=digits)
    return "{:,.0f}".format(v)


def rng(values):
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return ""
    return " ({:,.0f}–{:,.0f})".format(min(values), max(values))


def rate(r):
    return r.get("lines_per_s") or r.get("rows_per_s")


summary, md, charts = {}, [], []

# ---- throughput -----------------------------------------------------------------------------------------------
tp = load("throughput")
if tp:
    order = ["conveyor-sqlite", "raw-sqlite", "conveyor-sqlite-nofts", "raw-sqlite-nofts", "conveyor-ndjson", "rsyslog-file", "syslog-ng-file",
             "conveyor-postgres", "raw-pgcopy", "rsyslog-postgres", "syslog-ng-postgres"]
    what = {
        "conveyor-sqlite": "conveyor run --from tcp:// --to sqlite: (parse, enrich, store)",
        "raw-sqlite": "ceiling: prepared INSERT loop, 10k rows/transaction, same rows and schema",
        "conveyor-sqlite-nofts": "diagnostic: conveyor into the same schema with the FTS5 trigram trigger dropped",
        "raw-sqlite-nofts": "diagnostic: the ceiling loop without the FTS5 trigram trigger",
        "conveyor-ndjson": "conveyor run --from tcp:// --to ndjson: (JSON lines file)",
        "rsyslog-file": "rsyslog imtcp → mmnormalize → omfile JSON",
        "syslog-ng-file": "syslog-ng apache-accesslog-parser() → file() JSON, flow-control",
        "conveyor-postgres": "conveyor run --from tcp:// --to postgres: (binary COPY into events)",
        "raw-pgcopy": "ceiling: Npgsql binary COPY, 10k rows/COPY, same rows, same table",
        "rsyslog-postgres": "rsyslog → ompgsql (one INSERT per row)",
        "syslog-ng-postgres": "syslog-ng → sql() (INSERT per row, 1000 rows/commit)",
    }
    md.append("### Max throughput\n")
    md.append("| processor | what | lines | lines/s, median (range) | CPU s | CPU µs/line | PostgreSQL server CPU s | peak RSS MiB | complete |")
    md.append("|---|---|---|---|---|---|---|---|---|")
    for name in order + sorted(set(tp) - set(order)):
        if name not in tp:
            continue
        reps = tp[name].values()
        rates = [rate(r) for r in reps]
        lines = med([r.get("input_lines") or r.get("rows") for r in reps])
        cpu = med([r.get("cpu_s") for r in reps])
        rss = med([r.get("peak_rss_mib") for r in reps])
        complete = all(r.get("complete", r.get("rows") is not None) for r in reps)
        pgcpu = med([r.get("pg_server_cpu_s") for r in reps])
        summary[name] = {"lines_per_s": med(rates), "cpu_s": cpu, "peak_rss_mib": rss, "runs": len(rates), "lines": lines}
        md.append("| {} | {} | {} | {}{} | {} | {} | {} | {} | {} |".format(
            name, what.get(name, ""), fmt(lines), fmt(med(rates)), rng(rates), fmt(cpu, 1),
            fmt(cpu * 1e6 / lines, 1) if cpu and lines else "–", fmt(pgcpu, 1), fmt(rss, 1), "yes" if complete else "**no**"))

    def ratio(a, bs):
        """median over repetitions of rate(a) / max(rate(b) for b in bs), same repetition only."""
        vals = []
        for rep, ra in tp.get(a, {}).items():
            others = [rate(tp[b][rep]) for b in bs if rep in tp.get(b, {}) and rate(tp[b][rep])]
            if rate(ra) and others:
                vals.append(rate(ra) / max(others))
        return (round(med(vals), 2), len(vals)) if vals else (None, 0)

    md.append("\n| ratio (same repetition, then median) | value | target |")
    md.append("|---|---|---|")
    for label, a, bs, target in [
        ("conveyor → SQLite / raw SQLite insert loop", "conveyor-sqlite", ["raw-sqlite"], "≥ 0.8"),
        ("diagnostic, both without the FTS5 trigger: conveyor / raw", "conveyor-sqlite-nofts", ["raw-sqlite-nofts"], ""),
        ("conveyor → NDJSON file / rsyslog → JSON file", "conveyor-ndjson", ["rsyslog-file"], "≥ 1"),
        ("conveyor → NDJSON file / syslog-ng → JSON file", "conveyor-ndjson", ["syslog-ng-file"], ""),
        ("conveyor → PostgreSQL / best peer → PostgreSQL", "conveyor-postgres", ["rsyslog-postgres", "syslog-ng-postgres"], "≥ 4"),
        ("conveyor → PostgreSQL / raw binary COPY", "conveyor-postgres", ["raw-pgcopy"], "≥ 0.8"),
    ]:
        v, n = ratio(a, bs)
        summary["ratio " + label] = v
        md.append("| {} | {} | {} |".format(label, "–" if v is None else "{:.2f} (n={})".format(v, n), target))
    c = summary.get("conveyor-sqlite", {}).get("lines_per_s")
    md.append("\nconveyor → SQLite: {} lines/s against the target of 200,000.".format(fmt(c)))

    # lines/s over time, from the rows-done column of each timeline: repetition 2 when there is one (the first
    # repetition of the published run had an invalid NDJSON count, see docs/BENCHMARKS.md), else 1
    rep = 2 if any(2 in tp.get(n, {}) for n in order) else 1

    def over_time(names):
        series = []
        for name in names:
            r = tp.get(name, {}).get(rep)
            if not r or not os.path.exists(os.path.join(r["_dir"], "timeline.csv")):
                continue
            with open(os.path.join(r["_dir"], "timeline.csv")) as f:
                rows = [(float(x["t_s"]), int(x["rows_done"])) for x in csv.DictReader(f) if x.get("rows_done")]
            xs, ys, last = [], [], None
            for t, n in rows:
                if t < 0:
                    continue
                if last is None:
                    last = (t, n)
                elif t - last[0] >= 1.0:
                    xs.append(round(t, 2))
                    ys.append(round((n - last[1]) / (t - last[0])))
                    last = (t, n)
            if xs:
                series.append({"label": name, "x": xs, "y": ys})
        return series

    for file, title, names in [
            ("e2e-throughput-files-over-time.png", "JSON-lines file outputs, 2,002,728 lines: lines/s over time (repetition %d, 1 s windows)" % rep,
             ["conveyor-ndjson", "rsyslog-file", "syslog-ng-file"]),
            ("e2e-throughput-stores-over-time.png", "Stores, 110,040 lines: rows/s over time (repetition %d, 1 s windows)" % rep,
             ["conveyor-sqlite", "conveyor-sqlite-nofts", "conveyor-postgres", "rsyslog-postgres", "syslog-ng-postgres"])]:
        series = over_time(names)
        if series:
            charts.append({"file": file, "title": title, "xlabel": "seconds since the first byte was sent",
                           "ylabel": "lines stored per second", "series": series})
    bars = [(n, summary[n]["lines_per_s"]) for n in order if n in summary and summary[n]["lines_per_s"]]
    if bars:
        charts.append({"file": "e2e-throughput.png", "title": "Max throughput, median of {} run(s)".format(max(summary[n]["runs"] for n, _ in bars)),
                       "kind": "bar", "ylabel": "lines/s", "labels": [n for n, _ in bars], "values": [v for _, v in bars]})


# ---- postgres (issue 10) ------------------------------------------------------------------------------------
pg = load("postgres")
if pg:
    md.append("\n### conveyor → PostgreSQL (issue 10)\n")
    md.append("| processor | lines | rows/s, median (range) | CPU s | PostgreSQL server CPU s | complete |")
    md.append("|---|---|---|---|---|---|")
    for name in ["conveyor-postgres", "raw-pgcopy", "rsyslog-postgres"]:
        if name not in pg:
            continue
        reps = list(pg[name].values())
        rates = [rate(r) for r in reps]
        summary["postgres " + name] = med(rates)
        md.append("| {} | {} | {}{} | {} | {} | {} |".format(
            name, fmt(med([r.get("input_lines") or r.get("rows") for r in reps])), fmt(med(rates)), rng(rates),
            fmt(med([r.get("cpu_s") for r in reps]), 1), fmt(med([r.get("pg_server_cpu_s") for r in reps]), 1),
            "yes" if all(r.get("complete", r.get("rows") is not None) for r in reps) else "**no**"))
    for label, a, b, target in [("conveyor / raw binary COPY", "conveyor-postgres", "raw-pgcopy", "≥ 0.8"),
                                ("conveyor / rsyslog → ompgsql", "conveyor-postgres", "rsyslog-postgres", "≥ 2")]:
        vals = [rate(pg[a][k]) / rate(pg[b][k]) for k in pg.get(a, {}) if k in pg.get(b, {}) and rate(pg[a][k]) and rate(pg[b][k])]
        md.append("\n{}: {} (target {}); conveyor → PostgreSQL {} rows/s (target ≥ 100,000)".format(
            label, "–" if not vals else "{:.2f} (n={})".format(med(vals), len(vals)), target, fmt(summary.get("postgres conveyor-postgres"))))

# ---- scenarios ------------------------------------------------------------------------------------------------
GEN = re.compile(r"gen: sent ([\d,]+) lines in ([\d.]+) s \(([\d,]+) lines/s\).*refused ([\d,]+).*errors ([\d,]+)")
GEN_TICK = re.compile(r"gen: sent ([\d,]+), refused ([\d,]+), errors ([\d,]+)")


def gen_result(r):
    for text in r.get("senders", []):
        m = GEN.search(text)
        if m:
            n = lambda s: int(s.replace(",", ""))
            return {"sent": n(m.group(1)), "seconds": float(m.group(2)), "rate": n(m.group(3)), "refused": n(m.group(4)), "errors": n(m.group(5))}
    return {}


def sink_stats(r):
    snap = r.get("pipeline_end") or {}
    sinks = snap.get("sinks") or []
    return {k: sum(s.get(k, 0) for s in sinks) for k in ("admitted", "stored", "dead_lettered", "dropped", "in_pipeline", "left")}


seed = load("seed").get("conveyor", {})
if seed:
    reps = list(seed.values())
    g = [gen_result(r) for r in reps]
    s = {"cores": med([r["cores"] for r in reps]), "p50_ms": med([r["latency_p50_ms"] for r in reps]),
         "p99_ms": med([r["latency_p99_ms"] for r in reps]), "max_ms": med([r["latency_max_ms"] for r in reps]),
         "peak_rss_mib": med([r["peak_rss_mib"] for r in reps]), "sender_rate": med([x.get("rate") for x in g]),
         "rows": med([r["latency_rows"] for r in reps]), "runs": len(reps)}
    summary["seed"] = s
    md.append("\n### Seed scenario: 3 web servers, 50,000 lines/s offered, a step costing 5 ms per call, then the default store (DuckDB)\n")
    md.append("| runs | offered → achieved by senders, lines/s | rows stored in the window | conveyor CPU, cores | p50 / p99 / max ingest→stored, ms | peak RSS MiB |")
    md.append("|---|---|---|---|---|---|")
    md.append("| {} | 50,000 → {} | {} | {} | {} / {} / {} | {} |".format(
        s["runs"], fmt(s["sender_rate"]), fmt(s["rows"]), fmt(s["cores"], 2), fmt(s["p50_ms"]), fmt(s["p99_ms"]), fmt(s["max_ms"]), fmt(s["peak_rss_mib"], 1)))
    r1 = seed.get(1)
    if r1 and os.path.exists(os.path.join(r1["_dir"], "pipeline.csv")):
        by = {}
        with open(os.path.join(r1["_dir"], "pipeline.csv")) as f:
            for x in csv.DictReader(f):
                if x["fill"]:
                    by.setdefault(x["stage"], ([], []))
                    by[x["stage"]][0].append(float(x["t_s"]))
                    by[x["stage"]][1].append(round(100 * float(x["fill"]), 2))
        if by:
            charts.append({"file": "e2e-seed-buffer-fill.png", "title": "Seed scenario: buffer fill (repetition 1, /api/pipeline each second)",
                           "xlabel": "seconds", "ylabel": "fill, % of the tighter bound",
                           "series": [{"label": k, "x": v[0], "y": v[1]} for k, v in by.items()]})
    if r1 and os.path.exists(os.path.join(r1["_dir"], "latency.csv")):
        with open(os.path.join(r1["_dir"], "latency.csv")) as f:
            pts = [(float(x["t_s"]), float(x["latency_ms"])) for x in csv.DictReader(f)]
        buckets = {}
        for t, l in pts:
            buckets.setdefault(int(t), []).append(l)
        xs = sorted(buckets)
        charts.append({"file": "e2e-seed-latency.png", "title": "Seed scenario: ingest→stored latency per second (repetition 1)",
                       "xlabel": "seconds", "ylabel": "ms",
                       "series": [{"label": "p50", "x": xs, "y": [statistics.median(buckets[t]) for t in xs]},
                                  {"label": "max", "x": xs, "y": [max(buckets[t]) for t in xs]}]})

ov = load("overload")
if ov:
    md.append("\n### Overload: 50,000 lines/s offered for the whole window to a sink that takes 5,000 lines/s\n")
    md.append("| variant | runs | senders achieved, lines/s | refused (HTTP 429/503) | peak RSS MiB | RSS over the last 30 s, MiB (min–max, growth) | stored / dropped / buffered at the end |")
    md.append("|---|---|---|---|---|---|---|")
    rss_series = []
    for name in ["conveyor-tcp", "conveyor-http", "naive-tcp"]:
        if name not in ov:
            continue
        reps = list(ov[name].values())
        g = [gen_result(r) for r in reps]
        st = [sink_stats(r) for r in reps]
        s = {"sender_rate": med([x.get("rate") for x in g]), "refused": med([x.get("refused") for x in g]),
             "peak_rss_mib": med([r["peak_rss_mib"] for r in reps]), "last30_min": med([r["rss_last30_min_mib"] for r in reps]),
             "last30_max": med([r["rss_last30_max_mib"] for r in reps]), "growth": med([r["rss_growth_last30_mib"] for r in reps]),
             "stored": med([x.get("stored") for x in st]), "dropped": med([x.get("dropped") for x in st]), "runs": len(reps)}
        summary["overload " + name] = s
        md.append("| {} | {} | {} | {} | {} | {}–{} ({:+,.0f}) | {} |".format(
            name, s["runs"], fmt(s["sender_rate"]), fmt(s["refused"]), fmt(s["peak_rss_mib"], 1), fmt(s["last30_min"]), fmt(s["last30_max"]),
            s["growth"] or 0, "{} / {} / {}".format(fmt(s["stored"]), fmt(s["dropped"]), fmt(med([x.get("in_pipeline") for x in st])))
            if name.startswith("conveyor") else "(no accounting: unbounded queue)"))
        r1 = ov[name].get(min(ov[name]))
        with open(os.path.join(r1["_dir"], "timeline.csv")) as f:
            rows = list(csv.DictReader(f))
        rss_series.append({"label": name, "x": [float(x["t_s"]) for x in rows], "y": [float(x["rss_mib"]) for x in rows]})
    sender_series = []
    for name in ["conveyor-tcp", "conveyor-http", "naive-tcp"]:
        if name not in ov:
            continue
        r1 = ov[name].get(min(ov[name]))
        ticks = [int(m.group(1).replace(",", "")) for m in GEN_TICK.finditer("".join(r1.get("senders", [])))]
        if len(ticks) > 1:
            sender_series.append({"label": name, "x": [2.0 * (i + 1) for i in range(1, len(ticks))],
                                  "y": [(ticks[i] - ticks[i - 1]) / 2.0 for i in range(1, len(ticks))]})
    if sender_series:
        charts.append({"file": "e2e-overload-senders.png", "title": "Overload: what the senders achieved (50,000 lines/s offered)",
                       "xlabel": "seconds", "ylabel": "lines/s accepted (2 s windows)", "series": sender_series})
    charts.append({"file": "e2e-overload-rss.png", "title": "Overload (10x the sink's rate): RSS over time",
                   "xlabel": "seconds", "ylabel": "RSS, MiB", "series": rss_series})

# ---- scaling --------------------------------------------------------------------------------------------------
sc = load("scaling")
if sc:
    grid = {}
    for name, reps in sc.items():
        m = re.match(r"w(\d+)-b(\d+)$", name)
        if m:
            w, b = int(m.group(1)), int(m.group(2))
            ok = [r for r in reps.values() if r.get("complete")]   # a stalled run (no output for 10 s) is counted apart
            grid[(w, b)] = {"lines_per_s": med([rate(r) for r in ok]), "peak_rss_mib": med([r["peak_rss_mib"] for r in ok]),
                            "cores": med([r.get("cores") for r in ok]), "runs": len(reps), "stalled": len(reps) - len(ok)}
    ws, bs = sorted({k[0] for k in grid}), sorted({k[1] for k in grid})
    md.append("\n### Scaling: parse workers × main buffer (lines), TCP → NDJSON file\n")
    md.append("| workers \\ buffer | " + " | ".join("{:,} lines".format(b) for b in bs) + " |")
    md.append("|---|" + "---|" * len(bs))
    for w in ws:
        md.append("| {} | ".format(w) + " | ".join(
            "{} lines/s, {} MiB, {} cores{}".format(fmt(grid[(w, b)]["lines_per_s"]), fmt(grid[(w, b)]["peak_rss_mib"]), fmt(grid[(w, b)]["cores"], 2),
                                                    ", **{} of {} runs stalled**".format(grid[(w, b)]["stalled"], grid[(w, b)]["runs"]) if grid[(w, b)]["stalled"] else "")
            if (w, b) in grid else "–" for b in bs) + " |")
    summary["scaling"] = {"w%d-b%d" % k: v for k, v in grid.items()}
    charts.append({"file": "e2e-scaling.png", "title": "Throughput against parse workers (one line per main-buffer size)",
                   "xlabel": "parse workers", "ylabel": "lines/s",
                   "series": [{"label": "buffer {:,}".format(b), "x": [w for w in ws if (w, b) in grid],
                               "y": [grid[(w, b)]["lines_per_s"] or 0 for w in ws if (w, b) in grid]} for b in bs]})
    charts.append({"file": "e2e-scaling-rss.png", "title": "Peak RSS against main-buffer size (one line per worker count)",
                   "xlabel": "main buffer, lines (log10)", "ylabel": "peak RSS, MiB",
                   "series": [{"label": "{} workers".format(w), "x": [__import__("math").log10(b) for b in bs if (w, b) in grid],
                               "y": [grid[(w, b)]["peak_rss_mib"] or 0 for b in bs if (w, b) in grid]} for w in ws]})

machine = open(os.path.join(out, "machine.txt")).read() if os.path.exists(os.path.join(out, "machine.txt")) else ""
with open(os.path.join(out, "tables.md"), "w") as f:
    f.write("```\n" + machine + "```\n\n" + "\n".join(md) + "\n")
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
with open(os.path.join(out, "charts.json"), "w") as f:
    json.dump(charts, f)
print("\n".join(md))
