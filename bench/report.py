#!/usr/bin/env python3
"""Turns the benchmarks' measurements into Markdown and chart data. Standard library only.

  report.py OUT CHART DOC_DIR   reads OUT/runs.tsv, OUT/facts.tsv and OUT/commands.txt
                                (bench/run-bench.sh); prints the results (Markdown, the chart
                                linked relative to DOC_DIR) and writes OUT/latency.dat for
                                bench/latency.gp
  report.py --soak OUT          prints the soak's results (Markdown) from OUT/soak.csv and
                                OUT/facts.tsv (bench/soak.sh)
  report.py --splice DOC FILE SCRIPT
                                replaces the part of DOC between SCRIPT's markers with FILE
"""
import csv
import os
import statistics
import sys

COLUMNS = ["group", "round", "system", "route", "conns", "rps", "p50", "p99", "avg", "requests",
           "errors", "cpu_load", "cpu_server", "cpu_pg", "cpu_extra", "cpu_machine", "rss_max", "file",
           "pre_busy"]
INTS = ("rps", "requests", "errors", "conns", "rss_max", "pre_busy")
# Percent of a core, to a tenth (whole percents in runs of earlier commits read the same).
FLOATS = ("cpu_load", "cpu_server", "cpu_pg", "cpu_extra")

# The chart's series, in the order bench/latency.gp draws them: (title, system, route prefix).
SERIES = [
    ("itemsd GET /api/items?limit=10", "itemsd", "GET /api/items"),
    ("pgbench, the same SELECT", "pgbench", "SELECT"),
    ("itemsd POST /api/items", "itemsd", "POST"),
    ("itemsd GET /health", "itemsd", "GET /health"),
    ("minimal hyper GET /health", "baseline", "GET /health"),
]

NAMES = {"itemsd": "itemsd", "pgbench": "pgbench", "baseline": "minimal server",
         "logs-on": "logs on", "logs-off": "logs off"}

MIB = 1024
# Percent of one core that processes other than the measured ones may take before a run is
# marked as overlapped by other work.
OTHERS_LIMIT = 25
# Percent of one core the hypervisor may steal before a run is marked: this machine is a virtual
# one, and its host sometimes takes a large share of the time the cores wanted to run.
STEAL_LIMIT = 25


def read_facts(out):
    facts = {}
    with open(os.path.join(out, "facts.tsv")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            facts[key] = value
    return facts


def load(out):
    runs = []
    with open(os.path.join(out, "runs.tsv")) as f:
        for line in f:
            row = dict(zip(COLUMNS, line.rstrip("\n").split("\t")))
            for key in INTS:
                row[key] = int(float(row[key]))
            for key in FLOATS:
                row[key] = float(row[key])
            irq, steal, others, idle = (int(x) for x in row["cpu_machine"].split(","))
            row.update(cpu_irq=irq, cpu_steal=steal, cpu_others=others, cpu_idle=idle)
            runs.append(row)
    commands = []
    path = os.path.join(out, "commands.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip() and line.strip() not in commands:
                    commands.append(line.strip())
    return runs, read_facts(out), commands


def pick(runs, group, system=None, route=None, conns=None):
    return [r for r in runs if r["group"] == group
            and (system is None or r["system"] == system)
            and (route is None or r["route"].startswith(route))
            and (conns is None or r["conns"] == conns)]


def mean_rps(rows):
    return statistics.mean(r["rps"] for r in rows) if rows else 0.0


def pct(a, b):
    return 100.0 * a / b if b else 0.0


class Ratio:
    """A over B, paired by round: the mean of each round's ratio, and their range. The rounds
    are minutes apart and this machine's speed drifts more between rounds than within one, so a
    round's own ratio is the sturdier figure; the ratio of the means is kept beside it."""

    def __init__(self, a_rows, b_rows, value=lambda r: r["rps"]):
        a = {r["round"]: value(r) for r in a_rows}
        b = {r["round"]: value(r) for r in b_rows}
        self.rounds = [pct(a[k], b[k]) for k in sorted(a) if k in b and b[k]]
        self.mean = statistics.mean(self.rounds) if self.rounds else 0.0
        self.of_means = pct(statistics.mean(a.values()), statistics.mean(b.values())) if a and b else 0.0
        self.min = min(self.rounds, default=0.0)
        self.max = max(self.rounds, default=0.0)

    def __str__(self):
        if len(self.rounds) < 2:
            return f"{self.mean:.1f} %"
        return f"{self.mean:.1f} % (rounds {min(self.rounds):.0f}-{max(self.rounds):.0f} %)"


def fmt_ms(value):
    return value if value == "-" else f"{float(value):.2f}"


def mib(kb):
    return f"{int(kb) / MIB:.1f}"


def verdict(ok):
    return "met" if ok else "**missed**"


def mark(r):
    return " †" if r["cpu_others"] > OTHERS_LIMIT else ""


def steal_mark(r):
    return " ‡" if r["cpu_steal"] > STEAL_LIMIT else ""


CPU_HEAD = "CPU %: load generator | server | PostgreSQL | interrupts | stolen | other processes | idle"


def cpu_cells(r):
    server = "-" if r["system"] == "pgbench" else r["cpu_server"]
    return (f'{r["cpu_load"]} | {server} | {r["cpu_pg"]} | {r["cpu_irq"]} | {r["cpu_steal"]}{steal_mark(r)} '
            f'| {r["cpu_others"]}{mark(r)} | {r["cpu_idle"]}')


def run_table(rows, names, first_cols=("round", "run")):
    lines = [
        f"| {' | '.join(first_cols)} | what | req/s (tps) | p50 ms | p99 ms | mean ms | errors | {CPU_HEAD} |",
        "|" + "---|" * (len(first_cols) + 13),
    ]
    by_round = {}
    for r in rows:
        by_round.setdefault(r["round"], []).append(r)
    for rnd, rs in by_round.items():
        for i, r in enumerate(rs, 1):
            lines.append(
                f'| {rnd} | {i} | {names.get(r["system"], r["system"])}: {r["route"]} | {r["rps"]} '
                f'| {fmt_ms(r["p50"])} | {fmt_ms(r["p99"])} | {fmt_ms(r["avg"])} | {r["errors"]} | {cpu_cells(r)} |')
    return lines


def drain(facts, rnd, route):
    seconds, ticks = (int(x) for x in facts.get(f"drain_r{rnd}_{route}", "0 0").split())
    return seconds, ticks


def us_per_request(r, facts):
    """itemsd's CPU time per request in microseconds, with the shipping after the run."""
    if not r["rps"] or not r["requests"]:
        return 0.0
    us = r["cpu_server"] / 100 / r["rps"] * 1e6
    if r["system"] == "logs-on":
        _, ticks = drain(facts, r["round"], r["group"].split("-", 1)[1])
        us += ticks / int(facts.get("clk_tck", 100)) / r["requests"] * 1e6
    return us


def pair_rounds(facts, name):
    """The rounds of bench/run-bench.sh's pair_run for NAME: itemsd's rows and the minimal
    server's, each with its CPU microseconds a request ("us")."""
    hz = int(facts.get("clk_tck", 100))
    a, b = [], []
    rnd = 1
    while f"pair_{name}_r{rnd}" in facts:
        n_a, t_a, n_b, t_b = (int(x) for x in facts[f"pair_{name}_r{rnd}"].split())
        if n_a and n_b:
            a.append({"round": rnd, "us": t_a / hz / n_a * 1e6, "requests": n_a})
            b.append({"round": rnd, "us": t_b / hz / n_b * 1e6, "requests": n_b})
        rnd += 1
    return a, b


def results(out, chart, doc_dir):
    runs, facts, commands = load(out)
    chart_link = os.path.relpath(chart, doc_dir)
    o = []
    p = o.append
    settings = facts.get("settings", "")
    pool_size = settings.split("POOL_SIZE=")[1].split()[0] if "POOL_SIZE=" in settings else "?"
    sweep = [int(c) for c in settings.split('SWEEP="')[1].split('"')[0].split()] if 'SWEEP="' in settings else []
    sweep_max = max(sweep, default=0)
    conns = settings.split("CONNECTIONS=")[1].split()[0] if "CONNECTIONS=" in settings else "?"

    p(f'Run of {facts.get("date", "?")}, repository at commit {facts.get("commit", "?")}'
      + (f' (binary: {facts["binary_version"]})' if "binary_version" in facts else "") + ".")
    p("")
    p(f'Machine: {facts.get("nproc")} virtual cores, {facts.get("cpu")}, {facts.get("memory")} RAM, '
      f'{facts.get("kernel")}, {facts.get("os")}; PostgreSQL {facts.get("postgres")} '
      f'(throwaway cluster, fsync=off), {facts.get("wrk")}. '
      + (f'Split layout (taskset): PostgreSQL (and moto, standing in for CloudWatch) on CPU '
         f'{facts.get("db_cpus")}, the load generator and the server on CPU {facts.get("http_cpus")}, '
         f'as a deployment splits them.'
         if facts.get("layout") == "split" else
         f'Load generator, server and PostgreSQL share the same {facts.get("nproc")} cores.'))
    p("")
    p(f'Settings: {settings}; the benchmarks took {facts.get("bench_seconds", "?")} s.')
    p("")

    # --- the figures the targets are about --------------------------------------------------
    names = dict(NAMES)
    variant = facts.get("variant", "")
    if variant:
        names["variant"] = f"itemsd with {variant}"
    m = {}
    for group in ("db-select", "db-insert"):
        for system in ("itemsd", "variant", "baseline", "pgbench"):
            m[group, system] = mean_rps(pick(runs, group, system))
    for group in ("baseline-root", "baseline-health"):
        for system in ("itemsd", "baseline"):
            m[group, system] = mean_rps(pick(runs, group, system))
    cw = {}
    for name in ("items", "paced-items", "paced-health"):
        on_rows = pick(runs, f"cloudwatch-{name}", "logs-on")
        off_rows = pick(runs, f"cloudwatch-{name}", "logs-off")
        on, off = mean_rps(on_rows), mean_rps(off_rows)
        us_on = statistics.mean(us_per_request(r, facts) for r in on_rows) if on_rows else 0.0
        us_off = statistics.mean(us_per_request(r, facts) for r in off_rows) if off_rows else 0.0
        cw[name] = dict(on=on, off=off, ratio=Ratio(on_rows, off_rows), us_on=us_on, us_off=us_off,
                        cpu_ratio=Ratio(off_rows, on_rows, lambda r: us_per_request(r, facts)))

    load_rss = max((r["rss_max"] for r in pick(runs, "sweep", "itemsd", conns=sweep_max)), default=0)
    peak_rss = int(facts.get("rss_peak_kb", 0))
    idle = [int(x) for x in facts.get("rss_idle", "0 0 0").split()]
    idle_default = [int(x) for x in facts.get("rss_idle_default_pool", "0 0 0").split()]
    ready = sorted(((k[len("ready_ms_min"):], v.split()) for k, v in facts.items() if k.startswith("ready_ms_min")),
                   key=lambda kv: int(kv[0]))
    # The targets are about itemsd as deployed: systemd/itemsd.env keeps the default pool.
    ready_default = next((float(v[0]) for k, v in ready if k == "2"), 0.0)
    size = int(facts.get("binary_bytes", 0))

    def paired(group, a, b):
        return Ratio(pick(runs, group, a), pick(runs, group, b))

    sel = paired("db-select", "itemsd", "pgbench")
    ins = paired("db-insert", "itemsd", "pgbench")
    root = paired("baseline-root", "itemsd", "baseline")
    health = paired("baseline-health", "itemsd", "baseline")
    sel_min = paired("db-select", "itemsd", "baseline")
    ins_min = paired("db-insert", "itemsd", "baseline")

    def cpu_paired(group):
        us = lambda r: us_per_request(r, facts)  # noqa: E731
        return Ratio(pick(runs, group, "itemsd"), pick(runs, group, "baseline"), us)

    def cpu_us(group, system):
        rows = pick(runs, group, system)
        return statistics.mean(us_per_request(r, facts) for r in rows) if rows else 0.0

    root_cpu, health_cpu = cpu_paired("baseline-root"), cpu_paired("baseline-health")
    at_once = {name: pair_rounds(facts, name) for name in ("root", "health")}
    at_once_cpu = {name: Ratio(a, b, lambda r: r["us"]) for name, (a, b) in at_once.items()}

    p("### Targets")
    p("")
    p("| figure | target | measured | |")
    p("|---|---|---|---|")
    p(f"| GET /api/items?limit=10: itemsd / pgbench running the same SELECT ({conns} connections) | ≥ 65 % in every round | {sel} | {verdict(sel.rounds and sel.min >= 65)} |")
    p(f"| POST /api/items: itemsd / pgbench running the same INSERT | ≥ 65 % in every round | {ins} | {verdict(ins.rounds and ins.min >= 65)} |")
    p(f"| GET /api/items?limit=10: itemsd / the minimal hyper + deadpool-postgres server | ≥ 120 % | {sel_min} | {verdict(sel_min.mean >= 120)} |")
    p(f"| POST /api/items: itemsd / the minimal hyper + deadpool-postgres server | ≥ 120 % | {ins_min} | {verdict(ins_min.mean >= 120)} |")
    p(f"| for reference: the minimal hyper + deadpool-postgres server / pgbench, SELECT; INSERT | - "
      f"| {paired('db-select', 'baseline', 'pgbench')}; {paired('db-insert', 'baseline', 'pgbench')} | |")
    if m["db-select", "variant"]:
        p(f"| for reference: itemsd with {variant} / pgbench, SELECT; INSERT | - "
          f"| {paired('db-select', 'variant', 'pgbench')}; {paired('db-insert', 'variant', 'pgbench')} | |")
    p(f"| GET /: itemsd / the minimal hyper server | ≥ 90 % | {root} | {verdict(root.mean >= 90)} |")
    p(f"| GET /health: itemsd / the minimal hyper server | ≥ 90 % | {health} | {verdict(health.mean >= 90)} |")
    for label, group, ratio in (("GET /", "baseline-root", root_cpu), ("GET /health", "baseline-health", health_cpu)):
        p(f"| {label}: itemsd's CPU a request / the minimal hyper server's (/proc, the rate runs above: one after the other) | ≤ 110 % "
          f"| {ratio} ({cpu_us(group, 'itemsd'):.1f} against {cpu_us(group, 'baseline'):.1f} µs) | {verdict(ratio.rounds and ratio.mean <= 110)} |")
    for label, name in (("GET /", "root"), ("GET /health", "health")):
        a, b = at_once[name]
        if not a:
            continue
        ratio = at_once_cpu[name]
        p(f"| {label}: itemsd's CPU a request / the minimal hyper server's, both loaded at once, each by a wrk of its own (/proc) | ≤ 110 % "
          f"| {ratio} ({statistics.mean(r['us'] for r in a):.1f} against {statistics.mean(r['us'] for r in b):.1f} µs) | {verdict(ratio.mean <= 110)} |")
    p(f"| resident memory idle, 5 s after start, the default pool as deployed (2 connections open) | < 15 MiB "
      f"| {mib(idle_default[0])} MiB (with the benchmark's {pool_size} open: {mib(idle[0])} MiB) | {verdict(idle_default[0] < 15 * MIB)} |")
    p(f"| resident memory under load: largest sample at {sweep_max} connections; peak (VmHWM) over the sweep "
      f"| < 64 MiB | {mib(load_rss)} MiB; {mib(peak_rss)} MiB | {verdict(max(load_rss, peak_rss) < 64 * MIB)} |")
    others = "; ".join(f"{v[0]} ms with {k} connections to open" for k, v in ready if k != "2")
    p(f"| exec to ready (median), database reachable, the default pool as deployed (2 connections to open) | < 100 ms "
      f"| {ready_default} ms{f' ({others})' if others else ''} | {verdict(0 < ready_default < 100)} |")
    c = cw["items"]
    moto_where = "moto on the database's core" if facts.get("layout") == "split" else "moto on the same cores"
    p(f"| GET /api/items?limit=10, log shipping on / off: throughput here ({moto_where}) | ≥ 95 % | {c['ratio']} | {verdict(c['ratio'].mean >= 95)} |")
    for name, label in (("paced-items", "GET /api/items?limit=10"), ("paced-health", "GET /health")):
        c = cw[name]
        p(f"| {label}, log shipping on / off: requests a second of itemsd CPU, at the same request rate (what an instance pays: CloudWatch is elsewhere) "
          f"| ≥ 95 % | {c['cpu_ratio']} ({c['us_off']:.1f} against {c['us_on']:.1f} µs a request) | {verdict(c['cpu_ratio'].mean >= 95)} |")
    p(f"| static binary, stripped | ≤ 12 MiB (packaging/build-release.sh's budget) | {size:,} bytes ({size / 1048576:.2f} MiB) | {verdict(size <= 12 * 1048576)} |")
    p("")
    p(f"CPU columns: percent of one core over the run ({facts.get('nproc')} cores: "
      f"{int(facts.get('nproc', 1)) * 100} % is the whole machine). The processes' figures come "
      "from /proc/PID/stat (the load generator's from its rusage); \"interrupts\" is the kernel's "
      "irq and softirq time (loopback TCP is processed there), \"stolen\" the time the hypervisor "
      "did not run a virtual core that wanted to run, \"other processes\" what the rest of the "
      f"machine used. † marks a run in which other processes took more than {OTHERS_LIMIT} % of a "
      f"core (other work overlapped it: its figures are suspect), ‡ one in which the hypervisor "
      f"stole more than {STEAL_LIMIT} % of a core (the cores were not all this run's).")
    busy_before = [r for r in runs if r["pre_busy"] > int(facts.get("quiet_busy", 25))]
    if busy_before:
        p("")
        p(f"{len(busy_before)} of {len(runs)} runs started while other work kept the machine busy "
          "(the script waited up to its limit, then measured anyway).")
    p("")

    # --- database ---------------------------------------------------------------------------
    p("### Against PostgreSQL's own limit")
    p("")
    for group, label in (("db-select", "GET /api/items?limit=10; pgbench runs the same SELECT"),
                         ("db-insert", "POST /api/items; pgbench runs the same INSERT")):
        it, va, bl, pg = (m[group, s] for s in ("itemsd", "variant", "baseline", "pgbench"))
        p(f"{label}; the minimal server (hyper + deadpool-postgres, the same statement, no logging, "
          "metrics or validation) does the same" + (f", and so does itemsd with {variant}" if va else "") + ":")
        p("")
        o.extend(run_table(pick(runs, group), names))
        p("")
        p(f"Means: itemsd {it:,.0f} req/s, " + (f"itemsd with {variant} {va:,.0f}, " if va else "")
          + f"the minimal server {bl:,.0f}, pgbench {pg:,.0f} tps. Round by round: itemsd / pgbench "
          + f"**{paired(group, 'itemsd', 'pgbench')}** (of the means {pct(it, pg):.1f} %); "
          + (f"itemsd / itemsd with {variant} {paired(group, 'itemsd', 'variant')}; " if va else "")
          + f"the minimal server / pgbench {paired(group, 'baseline', 'pgbench')}; "
          + f"itemsd / the minimal server {paired(group, 'itemsd', 'baseline')}.")
        p("")
    p(f'Rows in items after the insert runs: {facts.get("rows_after_inserts", "?")} (reset to the seed '
      'before the next benchmark).')
    p("")

    # --- baseline ---------------------------------------------------------------------------
    p("### Against the minimal hyper server")
    p("")
    for group, label in (("baseline-root", "GET /"), ("baseline-health", "GET /health")):
        it, bl = m[group, "itemsd"], m[group, "baseline"]
        p(f"{label}:")
        p("")
        o.extend(run_table(pick(runs, group), names))
        p("")
        p(f"Means: itemsd {it:,.0f} req/s, the minimal server {bl:,.0f}; round by round "
          f"**{paired(group, 'itemsd', 'baseline')}** (of the means {pct(it, bl):.1f} %).")
        p("")
    if at_once["root"][0] or at_once["health"][0]:
        p("Both servers loaded at once, each by a wrk of its own (one thread, half the connections), "
          "for their CPU a request: one after the other, this host's speed drifts between runs by "
          "more than the difference measured; at once, both live through the same moments. The "
          "rates are not compared here (the two share the cores):")
        p("")
        p("| route | round | itemsd requests | itemsd µs a request | minimal server requests | minimal server µs a request | itemsd / minimal, CPU a request |")
        p("|---|---|---|---|---|---|---|")
        for label, name in (("GET /", "root"), ("GET /health", "health")):
            for ra, rb, ratio in zip(*at_once[name], at_once_cpu[name].rounds):
                p(f"| {label} | {ra['round']} | {ra['requests']:,} | {ra['us']:.2f} | {rb['requests']:,} "
                  f"| {rb['us']:.2f} | {ratio:.1f} % |")
        p("")

    # --- CPU a request ---------------------------------------------------------------------
    p("### CPU a request")
    p("")
    p("Each run's CPU columns divided by its rate, averaged over the rounds: microseconds of CPU "
      "a request (the load generator's include reading the answers; \"interrupts\" is the "
      "kernel's loopback work, both hops):")
    p("")
    p("| comparison | what | req/s (tps) | load generator µs | server µs | PostgreSQL µs | interrupts µs | together µs |")
    p("|---|---|---|---|---|---|---|---|")
    labels = {"db-select": "GET /api/items?limit=10 (SELECT)", "db-insert": "POST /api/items (INSERT)",
              "baseline-root": "GET /", "baseline-health": "GET /health"}
    for group, label in labels.items():
        for system in ("itemsd", "variant", "baseline", "pgbench"):
            rows = pick(runs, group, system)
            if not rows:
                continue

            def per(key, rows=rows):
                return statistics.mean(r[key] / 100 / r["rps"] * 1e6 for r in rows if r["rps"])
            load_us, server_us, pg_us, irq_us = (per(k) for k in ("cpu_load", "cpu_server", "cpu_pg", "cpu_irq"))
            p(f"| {label} | {names.get(system, system)} | {mean_rps(rows):,.0f} | {load_us:.1f} | "
              f"{'-' if system == 'pgbench' else f'{server_us:.1f}'} | {pg_us:.1f} | {irq_us:.1f} | "
              f"{load_us + server_us + pg_us + irq_us:.1f} |")
    p("")

    # --- latency sweep ----------------------------------------------------------------------
    p("### Latency against connections")
    p("")
    p(f"![p50 and p99 latency against connections]({chart_link})")
    p("")
    p(f"| what | connections | req/s (tps) | p50 ms | p99 ms | mean ms | errors | itemsd RSS max MiB | {CPU_HEAD} |")
    p("|" + "---|" * 15)
    dat = []
    for title, system, route in SERIES:
        rows = sorted(pick(runs, "sweep", system, route), key=lambda r: r["conns"])
        dat.append(f'"{title}" p50 p99')
        for r in rows:
            rss = mib(r["rss_max"]) if system == "itemsd" else "-"
            p(f'| {title} | {r["conns"]} | {r["rps"]} | {fmt_ms(r["p50"])} | {fmt_ms(r["p99"])} | {fmt_ms(r["avg"])} '
              f'| {r["errors"]} | {rss} | {cpu_cells(r)} |')
            dat.append(f'{r["conns"]} {r["p50"]} {r["p99"]}')
        dat.extend(["", ""])
    with open(os.path.join(out, "latency.dat"), "w") as f:
        f.write("\n".join(dat))
    p("")
    p("wrk's percentiles are of the requests it sent, each connection waiting for its answer "
      "before the next (a closed loop); pgbench's come from its per-transaction log.")
    p("")

    # --- memory, start-up, size --------------------------------------------------------------
    p("### Memory, start-up, size")
    p("")
    p("| figure | value |")
    p("|---|---|")
    for label, (rss, anon, file) in (("the default pool (DB_POOL_MIN_CONN=2, DB_POOL_MAX_CONN=10)", idle_default),
                                     (f"a pool of {pool_size} (the benchmark's)", idle)):
        p(f"| resident memory idle, 5 s after start, {label}: total (anonymous + file-backed) | {mib(rss)} MiB ({mib(anon)} + {mib(file)}) |")
    p(f"| resident memory under load, largest sample (every 0.2 s) at {sweep_max} connections | {mib(load_rss)} MiB |")
    p(f"| resident memory, peak over the whole sweep (VmHWM) | {mib(peak_rss)} MiB |")
    p(f"| resident memory 5 s after the sweep | {mib(facts.get('rss_after_load_kb', 0))} MiB |")
    p(f"| open file descriptors / threads 5 s after the sweep | {facts.get('fds_after_load', '?')} / {facts.get('threads', '?')} |")
    p(f"| the minimal server's peak resident memory over the sweep | {mib(facts.get('baseline_rss_peak_kb', 0))} MiB |")
    for k, v in ready:
        p(f"| exec to READY=1, DB_POOL_MIN_CONN={k}: median (min, max) of {facts.get('ready_runs', '?')} starts | {v[0]} ms ({v[1]}, {v[2]}) |")
    p(f"| static binary, stripped | {size:,} bytes ({size / 1048576:.2f} MiB) |")
    p("")

    # --- log shipping -------------------------------------------------------------------------
    p("### The cost of log shipping")
    p("")
    p("\"on\": every log line (one a request) is also shipped to CloudWatch Logs, here moto's "
      "server on the same machine; \"off\": stdout only. stdout goes to /dev/null in both; "
      "metrics publishing is off in both. A fresh process for each round and mode runs GET "
      "/api/items?limit=10 as fast as it answers, then GET /api/items?limit=10 and GET /health at "
      "fixed rates (bench/paced.lua), below what itemsd serves with shipping on, so that both "
      "modes do the same work and their CPU a request compares. The lines still buffered when wrk "
      "stops are shipped before the next run starts, and itemsd's CPU meanwhile (\"drain\", at "
      "most 60 s) is counted in its CPU a request.")
    p("")
    p(f"| round | logs | route | req/s | p50 ms | p99 ms | errors | itemsd CPU µs a request | drain s | moto CPU % | {CPU_HEAD} |")
    p("|" + "---|" * 17)
    for r in [r for r in runs if r["group"].startswith("cloudwatch-")]:
        mode = r["system"].split("-")[-1]
        secs = drain(facts, r["round"], r["group"].split("-", 1)[1])[0] if mode == "on" else "-"
        p(f'| {r["round"]} | {mode} | {r["route"]} | {r["rps"]} | {fmt_ms(r["p50"])} | {fmt_ms(r["p99"])} | {r["errors"]} '
          f'| {us_per_request(r, facts):.1f} | {secs} | {r["cpu_extra"] if mode == "on" else "-"} | {cpu_cells(r)} |')
    p("")
    c = cw["items"]
    p(f"- GET /api/items?limit=10 as fast as it goes: on {c['on']:,.0f} req/s, off {c['off']:,.0f}: **{c['ratio']}**.")
    for name, label in (("paced-items", "GET /api/items?limit=10"), ("paced-health", "GET /health")):
        c = cw[name]
        p(f"- {label} at a fixed rate ({c['on']:,.0f} and {c['off']:,.0f} req/s): itemsd's CPU a request on "
          f"{c['us_on']:.1f} µs, off {c['us_off']:.1f} µs: **{c['cpu_ratio']}** as many requests a CPU second.")
    p("")
    p("Delivered: the lines in moto after each \"on\" process stopped (SIGTERM flushes the buffer), "
      "against the requests wrk completed (itemsd also answers and logs the requests in flight when "
      "wrk stops, at most one a connection, and its own start and stop):")
    p("")
    p("| round | requests wrk completed, /api/items | access-log lines in moto, /api/items | requests wrk completed, /health | lines in moto, /health | events in the stream | itemsd's counters before SIGTERM |")
    p("|---|---|---|---|---|---|---|")
    for key in sorted(k for k in facts if k.startswith("moto_events_r")):
        rnd = key[len("moto_events_r"):]
        events, items_lines, health_lines = facts[key].split()
        items_req = sum(int(facts.get(f"wrk_requests_r{rnd}_{n}", 0)) for n in ("items", "paced-items"))
        p(f'| {rnd} | {items_req} | {items_lines} | {facts.get(f"wrk_requests_r{rnd}_paced-health", "?")} | {health_lines} '
          f'| {events} | {facts.get(f"itemsd_counters_r{rnd}", "").strip()} |')
    p("")

    # --- profile ------------------------------------------------------------------------------
    profiles = [(k[len("profile_"):], v.split()) for k, v in facts.items() if k.startswith("profile_")]
    p("### Where the time goes, a request")
    p("")
    if profiles:
        p("`perf stat` on the server process while wrk loads it (one run each, "
          f"{conns} connections): per request, the server's CPU time, context switches and "
          "system calls. \"itemsd without the access log\" runs with LOG_LEVEL=WARN.")
        p("")
        p("| server | route | requests | CPU µs | context switches | system calls | of which futex | of which write |")
        p("|---|---|---|---|---|---|---|---|")
        names = {"itemsd": "itemsd", "itemsd-nolog": "itemsd without the access log",
                 "baseline": "the minimal server",
                 "baseline_musl": "the minimal server built like itemsd (static musl, mimalloc)"}
        routes = {"health": "GET /health", "items": "GET /api/items?limit=10"}
        for key, v in profiles:
            server, _, route = key.rpartition("-")
            p(f"| {names.get(server, server)} | {routes.get(route, route)} | {v[0]} | {v[1]} | {v[2]} | {v[3]} | {v[4]} | {v[5]} |")
    else:
        p("Skipped: perf could not count system calls on this machine.")
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
    facts = read_facts(out)
    with open(os.path.join(out, "soak.csv")) as f:
        rows = [{k: (int(float(v)) if v not in ("", None) else None) for k, v in r.items()}
                for r in csv.DictReader(f)]
    rss_tol, fd_tol, warmup = (int(x) for x in facts["tolerance"].split())
    warm_i = next(i for i, r in enumerate(rows) if r["seconds"] >= warmup)
    last = rows[-1]
    after = rows[warm_i:]
    # Leak test: the median of the last third of the samples after the warm-up against the
    # median of the first third (medians, not single samples: the allocator, and the shipping
    # buffer and batches when shipping, move resident memory by several MiB between samples).
    third = max(1, len(after) // 3)
    early, late = after[:third], after[-third:]
    rss_early = statistics.median(r["rss_kb"] for r in early)
    rss_late = statistics.median(r["rss_kb"] for r in late)
    rss_growth = rss_late - rss_early
    fd_growth = max(r["fds"] for r in late) - max(r["fds"] for r in early)
    # Least-squares slope of VmRSS after the warm-up, KiB a minute.
    n = len(after)
    mt = sum(r["seconds"] for r in after) / n
    mr = sum(r["rss_kb"] for r in after) / n
    var = sum((r["seconds"] - mt) ** 2 for r in after)
    slope = (sum((r["seconds"] - mt) * (r["rss_kb"] - mr) for r in after) / var * 60) if var else 0.0

    def span(rs):
        return f'{rs[0]["seconds"]}-{rs[-1]["seconds"]} s'

    def cell(v, scale=1, fmt="{:.0f}"):
        return "-" if v is None else fmt.format(v / scale)

    o = []
    p = o.append
    p(f'Soak of {facts.get("date")}, repository at commit {facts.get("commit")}'
      + (f' (binary: {facts["binary_version"]})' if "binary_version" in facts else "") + f'; {facts.get("machine")}.')
    p("")
    p(f'Settings: {facts.get("settings")}. Load: {facts.get("wrk")}; answers by status: '
      f'{facts.get("statuses", "?")}.')
    p("")
    p("| seconds | VmRSS MiB | anonymous MiB | open fds | threads | itemsd CPU % | rows in items | log events shipped | dropped | buffered KiB | moto RSS MiB |")
    p("|---|---|---|---|---|---|---|---|---|---|---|")
    shown = {0, warm_i, len(rows) - 1}
    step = max(1, 60 // max(1, rows[1]["seconds"] - rows[0]["seconds"])) if len(rows) > 1 else 1
    shown.update(range(0, len(rows), step))
    for i in sorted(shown):
        r = rows[i]
        label = f'{r["seconds"]}' + (" (warm-up done)" if i == warm_i else "")
        p(f'| {label} | {cell(r["rss_kb"], 1024, "{:.1f}")} | {cell(r["rss_anon_kb"], 1024, "{:.1f}")} | {r["fds"]} | {r["threads"]} '
          f'| {r["cpu_percent"]} | {r["items"]} | {cell(r["log_events_shipped"])} | {cell(r["log_events_dropped"])} '
          f'| {cell(r["log_buffered_bytes"], 1024)} | {cell(r["moto_rss_kb"], 1024)} |')
    p("")
    p(f"Verdict after the warm-up ({warmup} s), {len(after)} samples:")
    p("")
    p(f'- resident memory: median {rss_early / 1024:.1f} MiB in {span(early)} (range '
      f'{min(r["rss_kb"] for r in early) / 1024:.1f}-{max(r["rss_kb"] for r in early) / 1024:.1f}), '
      f'{rss_late / 1024:.1f} MiB in {span(late)} (range {min(r["rss_kb"] for r in late) / 1024:.1f}-'
      f'{max(r["rss_kb"] for r in late) / 1024:.1f}), {last["rss_kb"] / 1024:.1f} MiB at the end '
      f'(growth {rss_growth:.0f} KiB, tolerance {rss_tol} KiB; least-squares trend after the warm-up '
      f'{slope:+.1f} KiB a minute): **{"flat" if rss_growth <= rss_tol else "NOT flat"}**')
    p(f'- open file descriptors: at most {max(r["fds"] for r in early)} in {span(early)}, '
      f'{max(r["fds"] for r in late)} in {span(late)}, {last["fds"]} at the end '
      f'(tolerance {fd_tol}): **{"flat" if fd_growth <= fd_tol else "NOT flat"}**')
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


def main():
    if sys.argv[1:2] == ["--splice"] and len(sys.argv) == 5:
        splice(*sys.argv[2:5])
    elif sys.argv[1:2] == ["--soak"] and len(sys.argv) == 3:
        soak(sys.argv[2])
    elif len(sys.argv) == 4:
        results(*sys.argv[1:4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
