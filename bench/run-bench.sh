#!/usr/bin/env bash
# The benchmarks of itemsd (issue 6 part 5), each figure measured side by side in the same run,
# with load from a separate process (wrk; pgbench for the database) on this machine:
#
#   1. GET /api/items?limit=10 and POST /api/items against the database's own limit: pgbench
#      running itemsd's exact statements (bench/pgbench/*.sql, -M prepared) over as many
#      connections as wrk opens; against the minimal hyper + deadpool-postgres server of
#      bench/baseline doing the same; and against itemsd with ITEMSD_VARIANT (a connection per
#      request); in turn, the order reversed every other round.
#   2. GET / and GET /health against the minimal hyper server (bench/baseline), alternating;
#      then both servers loaded at once, each by a wrk of its own, for their CPU per request.
#   3. p50/p99 latency at 1, 16, 64 and 256 connections (itemsd's three main routes, pgbench's
#      SELECT and the baseline's /health), charted; resident memory idle and under load.
#   4. Exec-to-ready (bench/ready.py: fork+exec until sd_notify READY=1), the binary's size.
#   5. CloudWatch log shipping on (to moto's server, every request's log line shipped and then
#      counted in moto) against off, alternating: throughput, and itemsd's CPU per request at
#      fixed request rates (bench/paced.lua).
#   6. Where the time goes: perf stat per request (CPU, context switches, system calls) of
#      itemsd and the baseline under the same load (skipped where perf cannot count).
#
# For every run it also records where the CPU went from /proc: the load generator, the server,
# PostgreSQL, moto, interrupts (loopback TCP), time stolen by the hypervisor, other processes. It starts its own throwaway PostgreSQL (scripts/lib/postgres.sh;
# fsync=off, max_connections=400), writes the raw outputs and $OUT/results.md, replaces the
# generated part of $DOC (between its markers) with it, and draws $CHART with gnuplot.
#
# Inputs (environment; checked before anything runs):
#   DURATION        seconds per measured point (10)
#   ROUNDS          A/B rounds of each comparison, alternating which goes first (3)
#   CONNECTIONS     connections for the comparisons (16: wrk -c16, pgbench -c16)
#   SWEEP           connection counts of the latency sweep ("1 16 64 256")
#   POOL_SIZE       itemsd's DB_POOL_MIN_CONN = DB_POOL_MAX_CONN (16)
#   SEED_ITEMS      rows in items before the read benchmarks (1000)
#   READY_RUNS      exec-to-ready repetitions; the median is reported (15)
#   ITEMSD_BINARY   the static release binary (default: packaging/build-release.sh, then
#                   dist/x86_64-unknown-linux-musl/itemsd)
#   BASELINE_BINARY the baseline server (default: cargo build --release of bench/baseline)
#   BASELINE_MUSL_BINARY  the baseline built like itemsd, static musl with mimalloc, for the
#                   profile (default: built when the musl target and musl-gcc are there;
#                   "skip": none)
#   OUT             results and raw outputs (.tmp/bench)
#   CHART           the latency chart, SVG (docs/performance-latency.svg)
#   DOC             file whose generated section is replaced (docs/PERFORMANCE.md; empty: none)
#   ITEMSD_VARIANT  VAR=value words for a second itemsd in the database comparison
#                   ("DB_SHARED_CONNECTIONS=0": a connection of its own per request; empty: none)
#   PORT_BASE       ports PORT_BASE+1..+5 are used (24400)
#   CW_ROUNDS       rounds of the log shipping comparison (2)
#   PACED_CONNECTIONS, PACED_ITEMS_RATE, PACED_HEALTH_RATE
#                   the fixed-rate runs of the log shipping comparison: wrk connections (64) and
#                   requests a second for GET /api/items (4000) and GET /health (10000), below
#                   what itemsd serves with shipping on, so both modes do the same work
#   QUIET_BUSY      before each run, wait until the machine is busy less than this percent of
#                   one core (25) for half a second: other work on it skews every figure ...
#   QUIET_WAIT      ... but for at most this many seconds (120), then measure anyway (the
#                   results mark runs that other work overlapped)
#   LAYOUT          "shared" (every process on every core) or "split": PostgreSQL pinned to
#                   DB_CPUS, the HTTP side (the servers, wrk, pgbench) to HTTP_CPUS with taskset,
#                   the way a deployment splits the database from the instance, so that a ratio
#                   shows the server's own cost rather than the fight for shared cores; moto,
#                   standing in for CloudWatch (another machine too), goes with PostgreSQL (shared)
#   DB_CPUS, HTTP_CPUS  taskset CPU lists of the split layout (0 and 1)
#
# Usage: bench/run-bench.sh    (about 15 minutes with the defaults, plus builds)
#        LAYOUT=split bench/run-bench.sh   (the same, split; its own section of $DOC)
# On a machine shared with builds, hold a lock around it, e.g.
#   flock /tmp/itemsd-cpu.lock bench/run-bench.sh
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-16}
SWEEP=${SWEEP:-1 16 64 256}
POOL_SIZE=${POOL_SIZE:-16}
SEED_ITEMS=${SEED_ITEMS:-1000}
READY_RUNS=${READY_RUNS:-15}
ITEMSD_BINARY=${ITEMSD_BINARY:-}
BASELINE_BINARY=${BASELINE_BINARY:-}
BASELINE_MUSL_BINARY=${BASELINE_MUSL_BINARY:-}
OUT=${OUT:-.tmp/bench}
CHART=${CHART:-docs/performance-latency.svg}
DOC=${DOC-docs/PERFORMANCE.md}
PORT_BASE=${PORT_BASE:-24400}
ITEMSD_VARIANT=${ITEMSD_VARIANT-DB_SHARED_CONNECTIONS=0}
QUIET_BUSY=${QUIET_BUSY:-25}
QUIET_WAIT=${QUIET_WAIT:-120}
CW_ROUNDS=${CW_ROUNDS:-2}
PACED_CONNECTIONS=${PACED_CONNECTIONS:-64}
PACED_ITEMS_RATE=${PACED_ITEMS_RATE:-4000}
PACED_HEALTH_RATE=${PACED_HEALTH_RATE:-10000}
LAYOUT=${LAYOUT:-shared}
DB_CPUS=${DB_CPUS:-0}
HTTP_CPUS=${HTTP_CPUS:-1}
if [[ "$LAYOUT" == split ]]; then
    CHART=${CHART_SPLIT:-docs/performance-latency-split.svg}
    # The HTTP side: the servers started here and the load generators (see measure).
    server_pin=(taskset -c "$HTTP_CPUS")
    load_pin=(taskset -c "$HTTP_CPUS")
    # CloudWatch's stand-in, off the HTTP side's core as the service is off the instance.
    remote_pin=(taskset -c "$DB_CPUS")
else
    load_pin=()
fi

readonly LOG_GROUP=itemsd-bench

check_inputs() {
    local name
    for name in DURATION ROUNDS CONNECTIONS POOL_SIZE SEED_ITEMS READY_RUNS PORT_BASE QUIET_BUSY QUIET_WAIT \
        CW_ROUNDS PACED_CONNECTIONS PACED_ITEMS_RATE PACED_HEALTH_RATE; do
        [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive integer, not '${!name}'"
    done
    [[ "$SWEEP" =~ ^[1-9][0-9]*( [1-9][0-9]*)*$ ]] || die "SWEEP must be connection counts separated by spaces, not '$SWEEP'"
    ((POOL_SIZE <= 1000)) || die "POOL_SIZE must be at most 1000 (itemsd's bound)"
    ((PORT_BASE + 5 < 65536)) || die "PORT_BASE must leave room for 5 ports"
    [[ -z "$ITEMSD_VARIANT" || "$ITEMSD_VARIANT" =~ ^[A-Z_][A-Z0-9_]*=[^\ ]*(\ [A-Z_][A-Z0-9_]*=[^\ ]*)*$ ]] ||
        die "ITEMSD_VARIANT must be VAR=value words, not '$ITEMSD_VARIANT'"
    [[ -z "$ITEMSD_BINARY" || -x "$ITEMSD_BINARY" ]] || die "ITEMSD_BINARY=$ITEMSD_BINARY is not an executable"
    [[ -z "$BASELINE_BINARY" || -x "$BASELINE_BINARY" ]] || die "BASELINE_BINARY=$BASELINE_BINARY is not an executable"
    [[ -z "$BASELINE_MUSL_BINARY" || "$BASELINE_MUSL_BINARY" == skip || -x "$BASELINE_MUSL_BINARY" ]] ||
        die "BASELINE_MUSL_BINARY=$BASELINE_MUSL_BINARY is not an executable (or skip)"
    [[ "$CHART" == *.svg ]] || die "CHART must name an .svg file"
    [[ "$LAYOUT" == shared || "$LAYOUT" == split ]] || die "LAYOUT must be shared or split, not '$LAYOUT'"
    [[ "$DB_CPUS" =~ ^[0-9][0-9,-]*$ && "$HTTP_CPUS" =~ ^[0-9][0-9,-]*$ ]] ||
        die "DB_CPUS and HTTP_CPUS must be CPU lists (taskset -c), not '$DB_CPUS' and '$HTTP_CPUS'"
    [[ -z "$DOC" || -f "$DOC" ]] || die "DOC=$DOC does not exist (empty DOC skips updating it)"
}

check_tools() {
    local tool
    need_debian_tool wrk wrk "it generates the HTTP load"
    need_debian_tool gnuplot gnuplot-nox "it draws the chart"
    for tool in pgbench curl python3 awk getconf taskset; do
        command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install postgresql-client curl python3)"
    done
    find_pg_bindir >/dev/null || die "PostgreSQL server binaries not found: run scripts/install-deps.sh"
    [[ -x "$VENV/bin/moto_server" && -x "$VENV/bin/python" ]] ||
        die "moto_server not found in $VENV: run scripts/install-python-tools.sh"
}

# --- builds -----------------------------------------------------------------------------

build_binaries() {
    copy_itemsd
    if [[ -z "$BASELINE_BINARY" ]]; then
        note "building the baseline (bench/baseline)"
        cargo build --release --locked --quiet --manifest-path bench/baseline/Cargo.toml \
            --target-dir .tmp/bench/baseline-target >"$OUT/build-baseline.log" 2>&1 ||
            die "building bench/baseline failed; see $OUT/build-baseline.log"
        BASELINE_BINARY=.tmp/bench/baseline-target/release/itemsd-bench-baseline
    fi
    if [[ -z "$BASELINE_MUSL_BINARY" ]]; then
        build_baseline_musl
    fi
}

# --- measuring ----------------------------------------------------------------------------

clk_tck=$(getconf CLK_TCK)

# postgres_ticks: every PostgreSQL process of the cluster, and the backends that exited (the
# postmaster reaps them, so their time is in its cutime+cstime). A backend reaped between the
# two readings would be in neither, and when pgbench ends sixteen are reaped at once: the
# scan is repeated until the postmaster's children's time is the same before and after it.
postgres_ticks() {
    local pm children after total line rest stat
    pm=$(postmaster_pid)
    children=$(proc_ticks "$pm" children)
    while :; do
        total=$children
        for stat in /proc/[0-9]*/stat; do
            read -r line 2>/dev/null <"$stat" || continue
            rest=${line##*) }
            local -a f
            read -r -a f <<<"$rest"
            [[ "${f[1]}" == "$pm" ]] && total=$((total + f[11] + f[12]))
        done
        after=$(proc_ticks "$pm" children)
        ((after == children)) && break
        children=$after
    done
    echo "$total"
}

# sample_rss PID FILE: VmRSS in kB every 0.2 s while PID lives; run in the background.
sample_rss() {
    local pid=$1 file=$2
    while [[ -r "/proc/$pid/status" ]]; do
        awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null >>"$file" || true
        sleep 0.2
    done
}

# idle_memory PID: "VmRSS RssAnon RssFile" in kB.
idle_memory() {
    echo "$(status_kb "$1" VmRSS) $(status_kb "$1" RssAnon) $(status_kb "$1" RssFile)"
}

# measure FILE SERVER_PID EXTRA_PID -- COMMAND...: runs COMMAND (a load generator) with its
# output in FILE, and sets, in percent of one core over the run: m_cpu_load (COMMAND),
# m_cpu_server, m_cpu_pg, m_cpu_extra (EXTRA_PID, moto), m_cpu_irq (interrupts), m_cpu_steal,
# m_cpu_others (processes other than these) and m_cpu_idle; m_server_ticks (SERVER_PID's
# CPU ticks at the end) and m_rss_max (kB, max VmRSS of SERVER_PID during the run).
measure() {
    local file=$1 spid=$2 xpid=$3
    shift 4
    local t0 t1 s0 s1 p0 p1 x0 x1 m0 m1 i0 i1 st0 st1 a0 a1 cpu_times sampler="" rss_file="$file.rss"
    : >"$rss_file"
    wait_for_quiet
    m_pre_busy=$busy_now
    if [[ -n "$spid" ]]; then
        sample_rss "$spid" "$rss_file" &
        sampler=$!
        bench_pids+=("$sampler")
    fi
    s0=$( [[ -n "$spid" ]] && proc_ticks "$spid" || echo 0)
    x0=$( [[ -n "$xpid" ]] && proc_ticks "$xpid" || echo 0)
    p0=$(postgres_ticks)
    read -r m0 i0 st0 a0 < <(machine_ticks)
    t0=$(date +%s.%N)
    local TIMEFORMAT='%3U %3S'
    { time "${load_pin[@]}" "$@" >"$file" 2>&1; } 2>"$file.time" || die "$* failed; see $file"
    t1=$(date +%s.%N)
    read -r m1 i1 st1 a1 < <(machine_ticks)
    p1=$(postgres_ticks)
    x1=$( [[ -n "$xpid" ]] && proc_ticks "$xpid" || echo 0)
    s1=$( [[ -n "$spid" ]] && proc_ticks "$spid" || echo 0)
    if [[ -n "$sampler" ]]; then
        kill "$sampler" 2>/dev/null || true
        wait "$sampler" 2>/dev/null || true
    fi
    read -r -a cpu_times <"$file.time"
    m_server_ticks=$s1
    # Percent of one core: each process's ticks over the elapsed time, to a tenth (a paced
    # /health run keeps itemsd near 30 % of a core, where whole percents would move a ratio of
    # two runs by up to 3 points); the machine's columns scaled so that all of them add up to
    # 100 % a core.
    read -r m_cpu_load m_cpu_server m_cpu_pg m_cpu_extra m_cpu_irq m_cpu_steal m_cpu_others m_cpu_idle < <(awk \
        -v el="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" -v hz="$clk_tck" \
        -v u="${cpu_times[0]}" -v s="${cpu_times[1]}" -v sv=$((s1 - s0)) -v pg=$((p1 - p0)) \
        -v x=$((x1 - x0)) -v procs=$((m1 - m0)) -v irq=$((i1 - i0)) -v steal=$((st1 - st0)) \
        -v all=$((a1 - a0)) -v cores="$(nproc)" '
        BEGIN {
            load = (u + s) / el * 100; server = sv / hz / el * 100; pg = pg / hz / el * 100; x = x / hz / el * 100
            scale = all > 0 ? 100 * cores / all : 0
            others = procs * scale - load - server - pg - x; if (others < 0) others = 0
            idle = (all - procs - irq - steal) * scale; if (idle < 0) idle = 0
            printf "%.1f %.1f %.1f %.1f %.0f %.0f %.0f %.0f\n", load, server, pg, x, irq * scale, steal * scale, others, idle
        }')
    m_rss_max=$(sort -n "$rss_file" | tail -1)
    m_rss_max=${m_rss_max:-0}
}

wrk_threads() {
    if (($1 < 2)); then echo 1; else echo 2; fi
}

# Parsed figures of the last run: p_rps p_p50 p_p99 p_avg (ms) p_requests p_errors.
parse_wrk() {
    read -r p_rps p_p50 p_p99 p_avg p_requests p_errors < <(awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            return v + 0
        }
        /Requests\/sec/ { rps = $2 }
        $1 == "Latency" && avg == "" { avg = ms($2) }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        / requests in / { requests = $1 }
        /Non-2xx or 3xx responses/ { errors += $NF }
        /Socket errors/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
        END { printf "%.0f %.3f %.3f %.3f %d %d\n", rps, p50, p99, avg, requests, errors }' "$1")
}

# pgbench: tps, average latency, and p50/p99 from its per-transaction log when there is one.
parse_pgbench() {
    local file=$1 log_prefix=${2:-}
    read -r p_rps p_avg p_requests p_errors < <(awk '
        /^tps = / { tps = $3 }
        /^latency average/ { avg = $4 }
        /number of transactions actually processed/ { split($NF, a, "/"); n = a[1] }
        /number of failed transactions/ { failed = $5 }
        END { printf "%.0f %.3f %d %d\n", tps, avg, n, failed }' "$file")
    p_p50=-
    p_p99=-
    if [[ -n "$log_prefix" ]]; then
        read -r p_p50 p_p99 < <(cat "$log_prefix".* | awk '{print $3}' | sort -n | awk '
            { v[NR] = $1 } END { i50 = int(NR * 0.50); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1;
              if (i99 < 1) i99 = 1; printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
        rm -f "$log_prefix".*
    fi
}

runs_tsv=
# record GROUP ROUND SYSTEM ROUTE CONNS FILE: one line of runs.tsv from the parsed figures.
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$1" "$2" "$3" "$4" "$5" "$p_rps" "$p_p50" "$p_p99" "$p_avg" "$p_requests" "$p_errors" \
        "$m_cpu_load" "$m_cpu_server" "$m_cpu_pg" "$m_cpu_extra" "$m_cpu_irq,$m_cpu_steal,$m_cpu_others,$m_cpu_idle" "$m_rss_max" "$6" "$m_pre_busy" >>"$runs_tsv"
    note "$(printf '%-16s %-3s %-9s %-24s c=%-3s %6s/s p50 %7s p99 %7s ms err %s; CPU %% load %s server %s pg %s moto %s irq %s steal %s others %s idle %s' \
        "$1" "r$2" "$3" "$4" "$5" "$p_rps" "$p_p50" "$p_p99" "$p_errors" "$m_cpu_load" "$m_cpu_server" "$m_cpu_pg" "$m_cpu_extra" \
        "$m_cpu_irq" "$m_cpu_steal" "$m_cpu_others" "$m_cpu_idle")"
}

fact() {
    printf '%s\t%s\n' "$1" "$2" >>"$OUT/facts.tsv"
}

# run_wrk GROUP ROUND SYSTEM CONNS URL_PATH PORT SERVER_PID [LUA] [EXTRA_PID]
#   LUA: bench/post.lua (POST) or "bench/paced.lua RATE" (GET at RATE requests a second).
run_wrk() {
    local group=$1 round=$2 system=$3 conns=$4 path=$5 port=$6 spid=$7 lua=${8:-} xpid=${9:-}
    local route="GET $path" file="$OUT/raw/$group-r$round-$system-c$conns.txt" threads rate
    threads=$(wrk_threads "$conns")
    local -a args=(-t"$threads" -c"$conns" -d"${DURATION}s" --latency) script_args=()
    case "$lua" in
    "") ;;
    bench/post.lua)
        args+=(-s "$lua")
        route="POST $path"
        ;;
    "bench/paced.lua "*)
        rate=${lua#* }
        args+=(-s bench/paced.lua)
        script_args=(-- $((rate / threads)))
        route="GET $path at $rate/s"
        ;;
    *) die "run_wrk: unknown script $lua" ;;
    esac
    echo "wrk ${args[*]} http://127.0.0.1:PORT$path ${script_args[*]}" >>"$OUT/commands.txt"
    measure "$file" "$spid" "$xpid" -- wrk "${args[@]}" "http://127.0.0.1:$port$path" "${script_args[@]}"
    parse_wrk "$file"
    record "$group" "$round" "$system" "$route" "$conns" "$file"
}

# run_pgbench GROUP ROUND SCRIPT CONNS [log]: pgbench with itemsd's statement.
run_pgbench() {
    local group=$1 round=$2 script=$3 conns=$4 log=${5:-}
    local file="$OUT/raw/$group-r$round-pgbench-c$conns.txt" prefix="$OUT/raw/pgbench-log"
    local -a args=(-n -M prepared -c "$conns" -j "$(wrk_threads "$conns")" -T "$DURATION" -f "bench/pgbench/$script.sql")
    if [[ "$script" == select ]]; then
        args+=(-D limit=10 -D offset=0)
    else
        args+=(-D name=bench-item -D description=pgbench -D value=42)
    fi
    [[ -z "$log" ]] || args+=(--log --log-prefix="$prefix")
    echo "pgbench ${args[*]} -h 127.0.0.1 -p PORT -U postgres appdb" >>"$OUT/commands.txt"
    measure "$file" "" "" -- pgbench "${args[@]}" -h 127.0.0.1 -p "$pg_port" -U postgres appdb
    parse_pgbench "$file" "${log:+$prefix}"
    m_rss_max=0
    local route="SELECT items (list)"
    [[ "$script" == select ]] || route="INSERT items"
    record "$group" "$round" pgbench "$route" "$conns" "$file"
}

# --- the benchmarks -------------------------------------------------------------------------

# run_db_system GROUP ROUND SYSTEM: one run of GROUP (db-select or db-insert) by SYSTEM.
run_db_system() {
    local group=$1 round=$2 system=$3 path=/api/items lua=bench/post.lua script=insert
    if [[ "$group" == db-select ]]; then
        path="/api/items?limit=10" lua="" script=select
    fi
    case "$system" in
    itemsd) run_wrk "$group" "$round" itemsd "$CONNECTIONS" "$path" "$itemsd_port" "$server_pid" "$lua" ;;
    variant) run_wrk "$group" "$round" variant "$CONNECTIONS" "$path" "$variant_port" "$variant_pid" "$lua" ;;
    baseline) run_wrk "$group" "$round" baseline "$CONNECTIONS" "$path" "$baseline_port" "$baseline_pid" "$lua" ;;
    pgbench) run_pgbench "$group" "$round" "$script" "$CONNECTIONS" ;;
    esac
}

variant_pid=

# start_variant: a second itemsd with ITEMSD_VARIANT's variables, on its own port.
start_variant() {
    local -a extra
    read -r -a extra <<<"$ITEMSD_VARIANT"
    "${server_pin[@]}" env -i PATH="$PATH" "${itemsd_env[@]}" "${extra[@]}" "APPLICATION_PORT=$variant_port" \
        "$ITEMSD_BINARY" >/dev/null 2>>"$OUT/itemsd.stderr" &
    variant_pid=$!
    bench_pids+=("$variant_pid")
    wait_for_http "http://127.0.0.1:$variant_port/health" "$variant_pid" ||
        die "itemsd with $ITEMSD_VARIANT did not answer /health; see $OUT/itemsd.stderr"
}

# 1. itemsd, its variant, the minimal server and pgbench in turn, the order reversed every
#    other round.
bench_database() {
    local group round system
    local -a systems=(itemsd) order
    local i
    start_itemsd
    if [[ -n "$ITEMSD_VARIANT" ]]; then
        start_variant
        systems+=(variant)
    fi
    systems+=(baseline pgbench)
    start_baseline
    for group in db-select db-insert; do
        for round in $(seq "$ROUNDS"); do
            order=("${systems[@]}")
            if ((round % 2 == 0)); then
                for ((i = 0; i < ${#systems[@]}; i++)); do
                    order[i]=${systems[${#systems[@]} - 1 - i]}
                done
            fi
            for system in "${order[@]}"; do
                run_db_system "$group" "$round" "$system"
            done
        done
    done
    fact rows_after_inserts "$(sql -c 'SELECT count(*) FROM items')"
    stop_itemsd
    if [[ -n "$variant_pid" ]]; then
        stop_process "$variant_pid"
        variant_pid=
    fi
    seed_items
}

# 2. itemsd's GET / and GET /health against the minimal hyper server.
bench_baseline() {
    local round name path
    start_itemsd
    for name in root health; do
        path=/
        [[ "$name" == root ]] || path=/health
        for round in $(seq "$ROUNDS"); do
            if ((round % 2)); then
                run_wrk "baseline-$name" "$round" itemsd "$CONNECTIONS" "$path" "$itemsd_port" "$server_pid"
                run_wrk "baseline-$name" "$round" baseline "$CONNECTIONS" "$path" "$baseline_port" "$baseline_pid"
            else
                run_wrk "baseline-$name" "$round" baseline "$CONNECTIONS" "$path" "$baseline_port" "$baseline_pid"
                run_wrk "baseline-$name" "$round" itemsd "$CONNECTIONS" "$path" "$itemsd_port" "$server_pid"
            fi
        done
        for round in $(seq "$ROUNDS"); do
            pair_run "$name" "$round" "$path"
        done
    done
    stop_itemsd
}

# pair_run NAME ROUND URL_PATH: itemsd and the minimal server loaded at the same time, each by
# a wrk of its own with half the connections, for DURATION; a fact "pair_NAME_rROUND" with
# itemsd's requests and CPU ticks, then the minimal server's. One after the other, this host's
# speed (the hypervisor's steal, its neighbours) drifts by ±10 % between runs and rounds; at
# once, both live through the same moments, and the ratio of their CPU per request holds to
# about a point from round to round. A rate is not read from it: the two share the cores.
pair_run() {
    local name=$1 round=$2 path=$3 file="$OUT/raw/pair-$1-r$2" half=$(((CONNECTIONS + 1) / 2))
    local a0 a1 b0 b1 itemsd_wrk baseline_wrk system
    echo "wrk -t1 -c$half -d${DURATION}s http://127.0.0.1:ITEMSD_PORT$path & wrk -t1 -c$half -d${DURATION}s http://127.0.0.1:BASELINE_PORT$path (at once)" >>"$OUT/commands.txt"
    wait_for_quiet
    a0=$(proc_ticks "$server_pid")
    b0=$(proc_ticks "$baseline_pid")
    "${load_pin[@]}" wrk -t1 -c"$half" -d"${DURATION}s" "http://127.0.0.1:$itemsd_port$path" >"$file-itemsd.txt" 2>&1 &
    itemsd_wrk=$!
    "${load_pin[@]}" wrk -t1 -c"$half" -d"${DURATION}s" "http://127.0.0.1:$baseline_port$path" >"$file-baseline.txt" 2>&1 &
    baseline_wrk=$!
    wait "$itemsd_wrk" || die "wrk against itemsd failed; see $file-itemsd.txt"
    wait "$baseline_wrk" || die "wrk against the baseline failed; see $file-baseline.txt"
    a1=$(proc_ticks "$server_pid")
    b1=$(proc_ticks "$baseline_pid")
    for system in itemsd baseline; do
        ! grep -q "Non-2xx" "$file-$system.txt" || die "answers other than 2xx in $file-$system.txt"
    done
    fact "pair_${name}_r$round" "$(wrk_requests "$file-itemsd.txt") $((a1 - a0)) $(wrk_requests "$file-baseline.txt") $((b1 - b0))"
}

# wrk_requests FILE: the requests wrk's report in FILE counts.
wrk_requests() {
    awk '/ requests in / {print $1}' "$1"
}

# 3. Latency against connections; memory idle (fresh process, before any request but the
#    readiness check) and under load.
bench_latency() {
    local conns
    start_itemsd DB_POOL_MIN_CONN=2 DB_POOL_MAX_CONN=10
    sleep 5
    fact rss_idle_default_pool "$(idle_memory "$server_pid")"
    stop_itemsd
    start_itemsd
    sleep 5
    fact rss_idle "$(idle_memory "$server_pid")"
    for conns in $SWEEP; do
        run_wrk sweep 1 itemsd "$conns" "/api/items?limit=10" "$itemsd_port" "$server_pid"
        run_pgbench sweep 1 select "$conns" log
        run_wrk sweep 1 itemsd "$conns" /api/items "$itemsd_port" "$server_pid" bench/post.lua
        run_wrk sweep 1 itemsd "$conns" /health "$itemsd_port" "$server_pid"
        run_wrk sweep 1 baseline "$conns" /health "$baseline_port" "$baseline_pid"
    done
    fact rss_peak_kb "$(status_kb "$server_pid" VmHWM)"
    fact baseline_rss_peak_kb "$(status_kb "$baseline_pid" VmHWM)"
    sleep 5
    fact rss_after_load_kb "$(status_kb "$server_pid" VmRSS)"
    fact fds_after_load "$(open_fds "$server_pid")"
    fact threads "$(status_kb "$server_pid" Threads)"
    stop_itemsd
    stop_process "$baseline_pid"
    baseline_pid=
    seed_items
}

# 4. Exec to READY=1 with a reachable database, at the default pool minimum and at POOL_SIZE.
bench_startup() {
    local min
    for min in 2 "$POOL_SIZE"; do
        echo "bench/ready.py $READY_RUNS ITEMSD_BINARY (DB_POOL_MIN_CONN=$min)" >>"$OUT/commands.txt"
        fact "ready_ms_min$min" "$(env -i PATH="$PATH" "${itemsd_env[@]}" DB_POOL_MIN_CONN="$min" \
            python3 bench/ready.py "$READY_RUNS" "$ITEMSD_BINARY")"
    done
    fact binary_bytes "$(stat -c %s "$ITEMSD_BINARY")"
    if [[ -f "$(dirname "$ITEMSD_BINARY")/itemsd.version.json" ]]; then
        fact binary_version "$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(v["version"], v["git_commit"], v["rustc"])' \
            "$(dirname "$ITEMSD_BINARY")/itemsd.version.json")"
    fi
}

# drain_log_buffer: waits (up to 60 s) until itemsd has shipped the lines of the run: what is
# buffered is less than 4 KiB (the access-log lines of these very polls wait there for the next
# flush) and the count of shipped lines has not moved for a second (a batch is counted when
# CloudWatch has accepted it). Prints "seconds ticks": how long that took and itemsd's CPU ticks since the end
# of the run.
drain_log_buffer() {
    local started=$SECONDS buffered shipped previous=-1 still=0
    while ((SECONDS - started < 60 && still < 2)); do
        sleep 0.5
        read -r buffered shipped < <(curl -fs "http://127.0.0.1:$itemsd_port/metrics" | awk '
            $1 == "cloudwatch_logs_buffered_bytes" {b = $2} $1 == "cloudwatch_logs_events_shipped_total" {s = $2}
            END {print b + 0, s + 0}')
        if ((buffered < 4096)) && [[ "$shipped" == "$previous" ]]; then
            still=$((still + 1))
        else
            still=0
        fi
        previous=$shipped
    done
    echo "$((SECONDS - started)) $(($(proc_ticks "$server_pid") - m_server_ticks))"
}

# 5. Log shipping to CloudWatch Logs (moto) on against off, CW_ROUNDS rounds, the order reversed
#    every other round, a fresh process each: GET /api/items as fast as it goes (throughput on
#    against off), then GET /api/items and GET /health at fixed rates (itemsd's CPU a request
#    on against off at the same work). Each "on" process ships to its own stream; the lines are
#    counted in moto after SIGTERM has flushed the buffer.
bench_cloudwatch() {
    local round mode stream counts
    local -a aws order
    read -r -a aws <<<"$(aws_env)"
    start_moto
    for round in $(seq "$CW_ROUNDS"); do
        order=(off on)
        ((round % 2)) || order=(on off)
        for mode in "${order[@]}"; do
            stream="round-$round"
            if [[ "$mode" == on ]]; then
                start_itemsd "${aws[@]}" "CLOUDWATCH_LOG_GROUP=$LOG_GROUP" "CLOUDWATCH_LOG_STREAM=$stream"
            else
                start_itemsd
            fi
            run_shipping items "$round" "$mode" "$CONNECTIONS" "/api/items?limit=10" ""
            run_shipping paced-items "$round" "$mode" "$PACED_CONNECTIONS" "/api/items?limit=10" "bench/paced.lua $PACED_ITEMS_RATE"
            run_shipping paced-health "$round" "$mode" "$PACED_CONNECTIONS" /health "bench/paced.lua $PACED_HEALTH_RATE"
            if [[ "$mode" == on ]]; then
                fact "itemsd_counters_r$round" "$(curl -fs "http://127.0.0.1:$itemsd_port/metrics" |
                    awk '$1 ~ /^cloudwatch_logs_events_(shipped|dropped)_total/ {printf "%s=%s ", $1, $2}')"
            fi
            stop_itemsd # SIGTERM flushes what is left of the buffer
            if [[ "$mode" == on ]]; then
                counts=$(env "${aws[@]}" "$VENV/bin/python" bench/count-log-events.py "$LOG_GROUP" "$stream" /api/items /health) ||
                    die "counting the log events in moto failed"
                fact "moto_events_r$round" "$counts"
            fi
        done
    done
    stop_moto
}

# run_shipping NAME ROUND MODE CONNS PATH LUA: one run of the log shipping comparison; with
# shipping on, waits for the buffer to drain and records the wrk count and the drain's cost.
run_shipping() {
    local name=$1 round=$2 mode=$3
    run_wrk "cloudwatch-$name" "$round" "logs-$mode" "$4" "$5" "$itemsd_port" "$server_pid" "$6" "$moto_pid"
    if [[ "$mode" == on ]]; then
        fact "wrk_requests_r${round}_$name" "$p_requests"
        # The lines of this run still in the buffer are shipped after wrk stops: itemsd's CPU
        # until the buffer is empty is part of this run's cost.
        fact "drain_r${round}_$name" "$(drain_log_buffer)"
    fi
}

# profile_run NAME PID PORT PATH: perf stat on PID while wrk loads PATH; a fact "profile_NAME"
# with requests and, per request, CPU microseconds, context switches, system calls, futex
# calls, write calls.
profile_run() {
    local name=$1 pid=$2 port=$3 path=$4 file perf_pid
    file=$OUT/raw/profile-$name
    echo "perf stat -x, -e $PROFILE_EVENTS -p SERVER_PID -- sleep $DURATION & wrk -t2 -c$CONNECTIONS -d${DURATION}s http://127.0.0.1:PORT$path" >>"$OUT/commands.txt"
    wait_for_quiet
    perf stat -x, -e "$PROFILE_EVENTS" -o "$file.perf" -p "$pid" -- sleep "$DURATION" &
    perf_pid=$!
    "${load_pin[@]}" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$port$path" >"$file.wrk" 2>&1
    wait "$perf_pid" || die "perf stat failed; see $file.perf"
    fact "profile_$name" "$(awk -F, -v n="$(wrk_requests "$file.wrk")" '
        $3 == "task-clock" {cpu = $1} $3 == "context-switches" {cs = $1}
        $3 == "raw_syscalls:sys_enter" {sc = $1} $3 == "syscalls:sys_enter_futex" {fx = $1}
        $3 == "syscalls:sys_enter_write" {wr = $1}
        END {printf "%d %.1f %.2f %.2f %.2f %.2f", n, cpu * 1000 / n, cs / n, sc / n, fx / n, wr / n}' "$file.perf")"
    note "profile $name: $(tail -1 "$OUT/facts.tsv" | cut -f2)"
}

readonly PROFILE_EVENTS=task-clock,context-switches,raw_syscalls:sys_enter,syscalls:sys_enter_futex,syscalls:sys_enter_write

# 6. Where the time goes, per request: perf stat on the server process (CPU time, context
#    switches, system calls) while wrk loads it: itemsd as measured, itemsd without its access
#    log (LOG_LEVEL=WARN), the minimal server, and the minimal server built like itemsd (static
#    musl, mimalloc), on GET /health and GET /api/items. Skipped when perf cannot count here.
bench_profile() {
    local variant
    if ! perf stat -e "$PROFILE_EVENTS" -o /dev/null -- true >/dev/null 2>&1; then
        note "perf cannot count system calls here (not root, or perf_event_paranoid): skipping the profile"
        fact profile skipped
        return
    fi
    for variant in itemsd itemsd-nolog; do
        if [[ "$variant" == itemsd ]]; then start_itemsd; else start_itemsd LOG_LEVEL=WARN; fi
        profile_run "$variant-health" "$server_pid" "$itemsd_port" /health
        profile_run "$variant-items" "$server_pid" "$itemsd_port" "/api/items?limit=10"
        stop_itemsd
    done
    start_baseline
    profile_run baseline-health "$baseline_pid" "$baseline_port" /health
    profile_run baseline-items "$baseline_pid" "$baseline_port" "/api/items?limit=10"
    stop_process "$baseline_pid"
    baseline_pid=
    if [[ "$BASELINE_MUSL_BINARY" != skip ]]; then
        start_baseline "$BASELINE_MUSL_BINARY"
        profile_run baseline_musl-health "$baseline_pid" "$baseline_port" /health
        profile_run baseline_musl-items "$baseline_pid" "$baseline_port" "/api/items?limit=10"
        stop_process "$baseline_pid"
        baseline_pid=
    fi
}

# pin_database: the postmaster and the processes it has started onto DB_CPUS; the backends it
# forks for new connections inherit it.
pin_database() {
    local pid
    for pid in $(postmaster_pid) $(pgrep -P "$(postmaster_pid)"); do
        taskset -a -cp "$DB_CPUS" "$pid" >/dev/null || die "taskset -cp $DB_CPUS $pid failed"
    done
}

describe_machine() {
    fact date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    fact commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (with uncommitted changes)')"
    fact nproc "$(nproc)"
    fact cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    fact kernel "$(uname -sr)"
    fact memory "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    fact os "$(awk -F= '$1 == "PRETTY_NAME" {gsub(/"/, "", $2); print $2}' /etc/os-release)"
    fact postgres "$(sql -c 'SHOW server_version')"
    fact wrk "$(wrk -v 2>&1 | awk 'NR == 1 {print $1, $2}')"
    fact quiet_busy "$QUIET_BUSY"
    fact clk_tck "$clk_tck"
    fact ready_runs "$READY_RUNS"
    fact variant "$ITEMSD_VARIANT"
    fact layout "$LAYOUT"
    fact db_cpus "$DB_CPUS"
    fact http_cpus "$HTTP_CPUS"
    fact settings "DURATION=${DURATION}s ROUNDS=$ROUNDS CONNECTIONS=$CONNECTIONS SWEEP=\"$SWEEP\" POOL_SIZE=$POOL_SIZE SEED_ITEMS=$SEED_ITEMS CW_ROUNDS=$CW_ROUNDS PACED_CONNECTIONS=$PACED_CONNECTIONS PACED_ITEMS_RATE=$PACED_ITEMS_RATE PACED_HEALTH_RATE=$PACED_HEALTH_RATE"
}

main() {
    check_inputs
    check_tools
    bench_ports "$PORT_BASE"
    mkdir -p "$OUT/raw"
    rm -f "$OUT"/raw/* "$OUT/facts.tsv" "$OUT/commands.txt" "$OUT/itemsd.stderr"
    runs_tsv=$OUT/runs.tsv
    : >"$runs_tsv"
    build_binaries
    trap bench_cleanup EXIT
    start_database
    if [[ "$LAYOUT" == split ]]; then
        pin_database
    fi
    set_itemsd_env
    migrate_database
    seed_items
    describe_machine

    local started=$SECONDS
    note "1/6 itemsd against pgbench (${CONNECTIONS} connections, $ROUNDS rounds)"
    bench_database
    note "2/6 itemsd against the minimal hyper server"
    bench_baseline
    note "3/6 latency at $SWEEP connections, memory"
    bench_latency
    note "4/6 exec to ready, binary size"
    bench_startup
    note "5/6 CloudWatch log shipping on against off"
    bench_cloudwatch
    note "6/6 per-request profile (perf stat)"
    bench_profile
    fact bench_seconds $((SECONDS - started))

    python3 bench/report.py "$OUT" "$CHART" "$(dirname "${DOC:-$OUT/results.md}")" >"$OUT/results.md"
    gnuplot -e "data='$OUT/latency.dat'; out='$CHART'" bench/latency.gp
    if [[ -n "$DOC" ]]; then
        python3 bench/report.py --splice "$DOC" "$OUT/results.md" \
            "bench/run-bench.sh$([[ "$LAYOUT" == split ]] && echo " LAYOUT=split")"
    fi
    note "results: $OUT/results.md, chart: $CHART${DOC:+, generated section of $DOC updated}"
}

main "$@"
