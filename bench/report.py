#!/usr/bin/env python3
"""Turns bench/run-bench.sh's measurements into Markdown and the chart's data. Standard library.

  report.py OUT CHART DOC_DIR   reads OUT/runs.tsv, OUT/facts.tsv and OUT/commands.txt; prints
                                the results (Markdown; the chart linked relative to DOC_DIR) and
                                writes OUT/latency.dat for bench/latency.gp
  report.py --soak OUT          prints the soak's results (Markdown) from OUT/soak.csv and
                                OUT/facts.tsv (bench/soak.sh)
  report.py --splice DOC FILE SCRIPT
                                replaces the part of DOC between SCRIPT's markers with FILE
"""
import os
import statistics
import sys


COLUMNS = ["group", "round", "system", "route", "conns", "rps", "p50", "p99", "avg", "requests",
           "errors", "cpu_load", "cpu_server", "cpu_pg", "cpu_extra", "cpu_busy", "rss_max", "file",
           "pre_busy"]

# The chart's series, in the order bench/latency.gp draws them: (group, system, route prefix).
SERIES = [
    ("itemsd GET /api/items?limit=10", "itemsd", "GET /api/items"),
    ("pgbench, the same SELECT", "pgbench", "SELECT"),
    ("itemsd POST /api/items", "itemsd", "POST"),
    ("itemsd GET /health", "itemsd", "GET /health"),
    ("minimal hyper GET /health", "baseline", "GET /health"),
]

MIB = 1024
# A run whose machine time not accounted to the load generator, the server, PostgreSQL (or moto)
# exceeds this percent of one core overlapped other work (a clean run leaves about 5-15 %: the
# kernel's loopback softirq work); it is marked in the tables.
OTHER_LIMIT = 35


def load(out):
    runs = []
    with open(os.path.join(out, "runs.tsv")) as f:
        for line in f:
            row = dict(zip(COLUMNS, line.rstrip("\n").split("\t")))
            for key in ("rps", "requests", "errors", "conns", "cpu_load", "cpu_server", "cpu_pg",
                        "cpu_extra", "cpu_busy", "rss_max", "pre_busy"):
                row[key] = int(float(row[key]))
            runs.append(row)
    facts = {}
    with open(os.path.join(out, "facts.tsv")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            facts[key] = value
    commands = []
    path = os.path.join(out, "commands.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip() and line.strip() not in commands:
                    commands.append(line.strip())
    return runs, facts, commands


def pick(runs, group, system=None, route=None, conns=None):
    return [r for r in runs if r["group"] == group
            and (system is None or r["system"] == system)
            and (route is None or r["route"].startswith(route))
            and (conns is None or r["conns"] == conns)]


def mean_rps(rows):
    return statistics.mean(r["rps"] for r in rows) if rows else 0.0


def us_per_request(r):
    """itemsd's CPU time per request in microseconds."""
    return r["cpu_server"] / 100 / r["rps"] * 1e6 if r["rps"] else 0.0


def mean_us(rows):
    return statistics.mean(us_per_request(r) for r in rows) if rows else 0.0


def pct(a, b):
    return 100.0 * a / b if b else 0.0


def fmt_ms(value):
    return value if value == "-" else f"{float(value):.2f}"


def mib(kb):
    return f"{int(kb) / MIB:.1f}"


def verdict(ok):
    return "met" if ok else "**missed**"


def other_cpu(r):
    return max(0, r["cpu_busy"] - r["cpu_load"] - r["cpu_server"] - r["cpu_pg"] - r["cpu_extra"])


def disturbed(r):
    return other_cpu(r) > OTHER_LIMIT


def mark(r):
    return " †" if disturbed(r) else ""


def cpu_cells(r, server_label=True):
    return f'{r["cpu_load"]} | {r["cpu_server"] if server_label else "-"} | {r["cpu_pg"]} | {other_cpu(r)}{mark(r)} | {r["cpu_busy"]}'


def comparison_table(runs, group, a, b, a_name, b_name):
    """Per run and the means; returns (lines, ratio in percent)."""
    lines = [
        f"| round | run | what | req/s (tps) | p50 ms | p99 ms | mean ms | errors | CPU % load generator | {a_name} | PostgreSQL | other | machine |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = pick(runs, group)
    order = {}
    for r in rows:
        order.setdefault(r["round"], []).append(r)
    for rnd, rs in order.items():
        for i, r in enumerate(rs, 1):
            name = a_name if r["system"] == a else b_name
            lines.append(
                f'| {rnd} | {i} | {name}: {r["route"]} | {r["rps"]} | {fmt_ms(r["p50"])} | {fmt_ms(r["p99"])} '
                f'| {fmt_ms(r["avg"])} | {r["errors"]} | {cpu_cells(r, r["system"] != "pgbench")} |')
    ma, mb = mean_rps(pick(runs, group, a)), mean_rps(pick(runs, group, b))
    ratio = pct(ma, mb)
    lines.append("")
    lines.append(f"Means: {a_name} {ma:,.0f} req/s, {b_name} {mb:,.0f}; ratio **{ratio:.0f} %**.")
    return lines, ratio


def main():
    if sys.argv[1:2] == ["--splice"]:
        splice(*sys.argv[2:5])
        return
    if sys.argv[1:2] == ["--soak"]:
        soak(sys.argv[2])
        return
    out, chart, doc_dir = sys.argv[1:4]
    runs, facts, commands = load(out)
    chart_link = os.path.relpath(chart, doc_dir)
    o = []
    p = o.append

    p(f'Run of {facts.get("date", "?")}, itemsd at commit {facts.get("commit", "?")}'
      + (f' (binary: {facts["binary_version"]})' if "binary_version" in facts else "") + ".")
    p("")
    p(f'Machine: {facts.get("nproc")} cores, {facts.get("cpu")}, {facts.get("memory")} RAM, '
      f'{facts.get("kernel")}, {facts.get("os")}; PostgreSQL {facts.get("postgres")} '
      f'(throwaway cluster, fsync=off), {facts.get("wrk")}. Load generator, itemsd and PostgreSQL '
      f'share the same {facts.get("nproc")} cores.')
    p("")
    p(f'Settings: {facts.get("settings")}; benchmarks took {facts.get("bench_seconds", "?")} s.')
    p("")

    # --- the comparisons --------------------------------------------------------------
    sel_lines, sel_ratio = comparison_table(runs, "db-select", "itemsd", "pgbench", "itemsd", "pgbench")
    ins_lines, ins_ratio = comparison_table(runs, "db-insert", "itemsd", "pgbench", "itemsd", "pgbench")
    root_lines, root_ratio = comparison_table(runs, "baseline-root", "itemsd", "baseline", "itemsd", "baseline")
    health_lines, health_ratio = comparison_table(runs, "baseline-health", "itemsd", "baseline", "itemsd", "baseline")
    cw, cw_cpu = {}, {}
    for route in ("items", "health"):
        on = mean_rps(pick(runs, f"cloudwatch-{route}", "logs-on"))
        off = mean_rps(pick(runs, f"cloudwatch-{route}", "logs-off"))
        cw[route] = (on, off, pct(on, off))
        us_on = mean_us(pick(runs, f"cloudwatch-{route}", "logs-on"))
        us_off = mean_us(pick(runs, f"cloudwatch-{route}", "logs-off"))
        cw_cpu[route] = (us_on, us_off, pct(us_off, us_on))

    settings = facts.get("settings", "")
    pool_size = settings.split("POOL_SIZE=")[1].split()[0] if "POOL_SIZE=" in settings else "?"
    sweep_max = max((int(c) for c in facts.get("settings", "").split('SWEEP="')[1].split('"')[0].split()),
                    default=0) if 'SWEEP="' in facts.get("settings", "") else 0
    load_rss = max((r["rss_max"] for r in pick(runs, "sweep", "itemsd", conns=sweep_max)), default=0)
    peak_rss = int(facts.get("rss_peak_kb", 0))
    idle = [int(x) for x in facts.get("rss_idle", "0 0 0").split()]
    idle_default = [int(x) for x in facts.get("rss_idle_default_pool", "0 0 0").split()]
    idle_rss = max(idle[0], idle_default[0])
    ready = {k[len("ready_ms_min"):]: v.split() for k, v in facts.items() if k.startswith("ready_ms_min")}
    ready_worst = max((float(v[0]) for v in ready.values()), default=0.0)
    size = int(facts.get("binary_bytes", 0))

    p("### Targets")
    p("")
    p("| figure | target | measured | |")
    p("|---|---|---|---|")
    p(f"| GET /api/items?limit=10, itemsd / pgbench (same SELECT, {runs[0]['conns'] if runs else '?'} connections) | ≥ 60 % | {sel_ratio:.0f} % | {verdict(sel_ratio >= 60)} |")
    p(f"| POST /api/items, itemsd / pgbench (same INSERT) | ≥ 60 % | {ins_ratio:.0f} % | {verdict(ins_ratio >= 60)} |")
    p(f"| GET /, itemsd / minimal hyper server | ≥ 90 % | {root_ratio:.0f} % | {verdict(root_ratio >= 90)} |")
    p(f"| GET /health, itemsd / minimal hyper server | ≥ 90 % | {health_ratio:.0f} % | {verdict(health_ratio >= 90)} |")
    p(f"| resident memory idle (fresh process, 5 s after start) | < 15 MiB | {mib(idle_default[0])} MiB (default pool, 2 connections); {mib(idle[0])} MiB (pool of {pool_size}) | {verdict(idle_rss < 15 * MIB)} |")
    p(f"| resident memory under load (largest sample at {sweep_max} connections; peak VmHWM of the whole sweep) | < 64 MiB | {mib(load_rss)} MiB; peak {mib(peak_rss)} MiB | {verdict(max(load_rss, peak_rss) < 64 * MIB)} |")
    ready_text = "; ".join(f"{v[0]} ms (pool minimum {k})" for k, v in sorted(ready.items(), key=lambda kv: int(kv[0])))
    p(f"| exec to ready (median), database reachable | < 100 ms | {ready_text} | {verdict(ready_worst < 100)} |")
    for route, label in (("items", "GET /api/items?limit=10"), ("health", "GET /health")):
        on, off, ratio = cw[route]
        us_on, us_off, cpu_ratio = cw_cpu[route]
        p(f"| {label} with log shipping to CloudWatch Logs, on / off: throughput here (moto on the same cores) | ≥ 95 % | {ratio:.0f} % | {verdict(ratio >= 95)} |")
        p(f"| {label}, on / off: requests per itemsd CPU second (CloudWatch elsewhere, as in AWS) | ≥ 95 % | {cpu_ratio:.0f} % ({us_off:.0f} against {us_on:.0f} µs a request) | {verdict(cpu_ratio >= 95)} |")
    p(f"| static binary, stripped | ≤ 12 MiB (packaging/build-release.sh's budget) | {size:,} bytes ({size / 1048576:.2f} MiB) | {verdict(size <= 12 * 1048576)} |")
    p("")
    p("CPU columns below are percent of one core over the run (the machine has "
      f"{facts.get('nproc')} cores: {int(facts.get('nproc', 1)) * 100} % is all of it); "
      "\"other\" is the machine's busy time not accounted to the three (the kernel's softirq "
      "work for loopback TCP, mostly).")
    p("")
    p(f"† marks a run in which more than {OTHER_LIMIT} % of a core went to none of them: other work "
      "on the machine overlapped it, and its figures are suspect.")
    p("")
    p("### itemsd against PostgreSQL's own limit")
    p("")
    p("GET /api/items?limit=10 against pgbench running the same SELECT:")
    p("")
    o.extend(sel_lines)
    p("")
    p("POST /api/items against pgbench running the same INSERT:")
    p("")
    o.extend(ins_lines)
    p("")
    p(f'Rows in items after the insert runs: {facts.get("rows_after_inserts", "?")} (the table is '
      f'reset to the seed before the next benchmark).')
    p("")
    p("### itemsd against a minimal hyper server")
    p("")
    p("GET /:")
    p("")
    o.extend(root_lines)
    p("")
    p("GET /health:")
    p("")
    o.extend(health_lines)
    p("")

    # --- latency sweep -------------------------------------------------------------------
    p("### Latency against connections")
    p("")
    p(f"![p50 and p99 latency against connections]({chart_link})")
    p("")
    p("| what | connections | req/s (tps) | p50 ms | p99 ms | mean ms | errors | itemsd RSS max MiB | CPU % load generator | server | PostgreSQL | other | machine |")
    p("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    dat = []
    for title, system, route in SERIES:
        rows = sorted(pick(runs, "sweep", system, route), key=lambda r: r["conns"])
        dat.append(f'"{title}" p50 p99')
        for r in rows:
            rss = mib(r["rss_max"]) if system == "itemsd" else "-"
            p(f'| {title} | {r["conns"]} | {r["rps"]} | {fmt_ms(r["p50"])} | {fmt_ms(r["p99"])} | {fmt_ms(r["avg"])} '
              f'| {r["errors"]} | {rss} | {cpu_cells(r, system != "pgbench")} |')
            dat.append(f'{r["conns"]} {r["p50"]} {r["p99"]}')
        dat.append("")
        dat.append("")
    with open(os.path.join(out, "latency.dat"), "w") as f:
        f.write("\n".join(dat))
    p("")
    p("wrk's percentiles are of the requests it sent (a closed loop: each connection waits for "
      "its answer before sending again); pgbench's come from its per-transaction log.")
    p("")

    # --- memory, start-up, size --------------------------------------------------------
    p("### Memory, start-up, size")
    p("")
    p("| figure | value |")
    p("|---|---|")
    for label, (rss, anon, file) in ((f"default pool (DB_POOL_MIN_CONN=2, DB_POOL_MAX_CONN=10)", idle_default),
                                     (f"pool of {pool_size} (the benchmark's)", idle)):
        p(f"| resident memory idle, 5 s after start, {label}: total (anonymous + file-backed) | {mib(rss)} MiB ({mib(anon)} + {mib(file)}) |")
    p(f"| resident memory under load, largest sample (every 0.2 s) at {sweep_max} connections | {mib(load_rss)} MiB |")
    p(f"| resident memory peak over the whole sweep (VmHWM) | {mib(peak_rss)} MiB |")
    p(f"| resident memory 5 s after the sweep | {mib(facts.get('rss_after_load_kb', 0))} MiB |")
    p(f"| open file descriptors / threads 5 s after the sweep | {facts.get('fds_after_load', '?')} / {facts.get('threads', '?')} |")
    p(f"| minimal hyper server's peak resident memory over the sweep | {mib(facts.get('baseline_rss_peak_kb', 0))} MiB |")
    for k, v in sorted(ready.items(), key=lambda kv: int(kv[0])):
        p(f"| exec to READY=1, DB_POOL_MIN_CONN={k}: median (min, max) of the runs | {v[0]} ms ({v[1]}, {v[2]}) |")
    p(f"| static binary, stripped | {size:,} bytes ({size / 1048576:.2f} MiB) |")
    p("")

    # --- CloudWatch ------------------------------------------------------------------------
    p("### The cost of log shipping")
    p("")
    p("\"on\": every log line (one per request) also shipped to CloudWatch Logs, here moto's "
      "server on the same machine; \"off\": stdout only. Both write stdout to /dev/null. A fresh "
      "process per run; CLOUDWATCH_NAMESPACE (metrics) is off in both.")
    p("")
    p("| round | logs | route | req/s | p50 ms | p99 ms | errors | itemsd CPU % | itemsd CPU µs/request | moto CPU % | load generator CPU % | machine CPU % |")
    p("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in [r for r in runs if r["group"].startswith("cloudwatch-")]:
        per_req = us_per_request(r)
        mode = r["system"].split("-")[-1]
        p(f'| {r["round"]} | {mode} | {r["route"]} | {r["rps"]} | {fmt_ms(r["p50"])} | {fmt_ms(r["p99"])} | {r["errors"]} '
          f'| {r["cpu_server"]} | {per_req:.0f} | {r["cpu_extra"] if mode == "on" else "-"} | {r["cpu_load"]} | {r["cpu_busy"]} |')
    p("")
    for route, label in (("items", "GET /api/items?limit=10"), ("health", "GET /health")):
        on, off, ratio = cw[route]
        us_on, us_off, cpu_ratio = cw_cpu[route]
        p(f"- {label}: on {on:,.0f} req/s, off {off:,.0f}: **{ratio:.0f} %**; itemsd's CPU a request "
          f"on {us_on:.1f} µs, off {us_off:.1f} µs: **{cpu_ratio:.0f} %** as many requests per CPU second.")
    p("")
    p("Delivered: log lines in moto for each \"on\" run, counted after SIGTERM flushed the buffer, "
      "against the requests wrk completed (itemsd also answers and logs the requests still in "
      "flight when wrk stops, at most one per connection, and logs its own start and stop):")
    p("")
    p("| round | route | requests wrk completed | access-log lines in moto | events in the stream | itemsd's counters before SIGTERM |")
    p("|---|---|---|---|---|---|")
    rounds = sorted({k.split("_")[2] for k in facts if k.startswith("moto_events_r")})
    for rnd in rounds:
        for route in ("items", "health"):
            events, access = facts.get(f"moto_events_{rnd}_{route}", "? ?").split()
            p(f'| {rnd[1:]} | {route} | {facts.get(f"wrk_requests_{rnd}_{route}", "?")} | {access} | {events} '
              f'| {facts.get(f"itemsd_counters_{rnd}", "").strip()} |')
    p("")

    # --- commands -----------------------------------------------------------------------------
    p("### Commands")
    p("")
    p("Every load command as run (PORT: the server's or PostgreSQL's):")
    p("")
    p("```")
    o.extend(commands)
    p("```")
    print("\n".join(o))


def soak(out):
    """The soak's Markdown from OUT/soak.csv and OUT/facts.tsv."""
    import csv
    facts = {}
    with open(os.path.join(out, "facts.tsv")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            facts[key] = value
    with open(os.path.join(out, "soak.csv")) as f:
        rows = [{k: (int(float(v)) if v not in ("", None) else None) for k, v in r.items()}
                for r in csv.DictReader(f)]
    rss_tol, fd_tol, warmup = (int(x) for x in facts["tolerance"].split())
    warm_i = next(i for i, r in enumerate(rows) if r["seconds"] >= warmup)
    warm, last = rows[warm_i], rows[-1]
    after = rows[warm_i:]
    # Leak test: the peak of the last third of the samples after the warm-up against the peak
    # of the first third (peaks, not single samples: the allocator and the log buffer move
    # resident memory up and down by a few MiB between samples).
    third = max(1, len(after) // 3)
    early, late = after[:third], after[-third:]
    rss_growth = max(r["rss_kb"] for r in late) - max(r["rss_kb"] for r in early)
    fd_growth = max(r["fds"] for r in late) - max(r["fds"] for r in early)
    # Least-squares slope of VmRSS after the warm-up, KiB a minute.
    n = len(after)
    mt = sum(r["seconds"] for r in after) / n
    mr = sum(r["rss_kb"] for r in after) / n
    var = sum((r["seconds"] - mt) ** 2 for r in after)
    slope = (sum((r["seconds"] - mt) * (r["rss_kb"] - mr) for r in after) / var * 60) if var else 0.0
    rss_flat = rss_growth <= rss_tol
    fd_flat = fd_growth <= fd_tol
    span = lambda rs: f'{rs[0]["seconds"]}-{rs[-1]["seconds"]} s'
    o = []
    p = o.append
    p(f'Soak of {facts.get("date")}, itemsd at commit {facts.get("commit")}; {facts.get("machine")}.')
    p("")
    p(f'Settings: {facts.get("settings")}. Load: {facts.get("wrk")}; answers by status: {facts.get("statuses", "?")}.')
    p("")
    p("| seconds | VmRSS MiB | anonymous MiB | open fds | threads | itemsd CPU % | rows in items | log events shipped | dropped | buffered KiB | moto RSS MiB |")
    p("|---|---|---|---|---|---|---|---|---|---|---|")
    shown = {0, warm_i, len(rows) - 1}
    step = max(1, 60 // max(1, rows[1]["seconds"] - rows[0]["seconds"]) if len(rows) > 1 else 1)
    shown.update(range(0, len(rows), step))

    def cell(v, scale=1, fmt="{:.0f}"):
        return "-" if v is None else fmt.format(v / scale)

    for i in sorted(shown):
        r = rows[i]
        label = f'{r["seconds"]}' + (" (warm-up done)" if i == warm_i else "")
        p(f'| {label} | {cell(r["rss_kb"], 1024, "{:.1f}")} | {cell(r["rss_anon_kb"], 1024, "{:.1f}")} | {r["fds"]} | {r["threads"]} '
          f'| {r["cpu_percent"]} | {r["items"]} | {cell(r["log_events_shipped"])} | {cell(r["log_events_dropped"])} '
          f'| {cell(r["log_buffered_bytes"], 1024)} | {cell(r["moto_rss_kb"], 1024, "{:.0f}")} |')
    p("")
    p(f"Verdict after the warm-up ({warmup} s), {len(after)} samples:")
    p("")
    p(f'- resident memory: peak {max(r["rss_kb"] for r in early) / 1024:.1f} MiB in {span(early)}, '
      f'{max(r["rss_kb"] for r in late) / 1024:.1f} MiB in {span(late)}, {last["rss_kb"] / 1024:.1f} MiB at the end '
      f'(growth {rss_growth} KiB, tolerance {rss_tol} KiB; least-squares trend after the warm-up '
      f'{slope:+.1f} KiB a minute): **{"flat" if rss_flat else "NOT flat"}**')
    p(f'- open file descriptors: at most {max(r["fds"] for r in early)} in {span(early)}, '
      f'{max(r["fds"] for r in late)} in {span(late)}, {last["fds"]} at the end '
      f'(tolerance {fd_tol}): **{"flat" if fd_flat else "NOT flat"}**')
    first = rows[0]
    p(f'- for reference, at the start ({first["seconds"]} s): {first["rss_kb"] / 1024:.1f} MiB, {first["fds"]} descriptors')
    print("\n".join(o))


def splice(doc, generated, script):
    begin = f"<!-- generated by {script}: begin -->"
    end = f"<!-- generated by {script}: end -->"
    with open(doc) as f:
        text = f.read()
    with open(generated) as f:
        body = f.read().strip("\n")
    if begin not in text or end not in text:
        sys.exit(f"report.py: {doc} lacks the markers {begin} and {end}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(doc, "w") as f:
        f.write(f"{head}{begin}\n{body}\n{end}{tail}")


if __name__ == "__main__":
    main()
