#!/usr/bin/env bash
# The soak (issue 6 part 4; a benchmark, not a CI test): DURATION seconds of mixed load on the
# release itemsd from a separate process (wrk with bench/soak.lua: 40 % list, 20 % create, 20 %
# get by id, 20 % delete, so the table stays about the same size), sampling every INTERVAL
# seconds itemsd's resident memory (VmRSS, and its anonymous part), open file descriptors,
# threads and CPU, the rows in items, and its log shipping counters. With CLOUDWATCH=1 every log
# line is also shipped to CloudWatch Logs (moto's server), so the bounded shipping buffer is
# soaked too. Then it prints the first, after-warm-up and last samples and whether memory and
# descriptors stayed flat after the warm-up, writes $OUT/soak.csv, $OUT/soak.md and the chart
# $CHART, and replaces the generated soak section of $DOC (one for each CLOUDWATCH).
#
# "Flat": of the samples after WARMUP seconds, the median resident memory of the last third is
# within RSS_TOLERANCE_KB of the median of the first third (a leak of a few bytes a request
# would exceed that within minutes at thousands of requests a second), and the most open
# descriptors of the last third within FD_TOLERANCE of the first third's. Medians, not single
# samples: the allocator, and the log buffer and the batches in flight when shipping, move
# resident memory up and down by several MiB between samples.
#
# Inputs (environment; checked before anything runs):
#   DURATION         seconds of load (600)
#   INTERVAL         seconds between samples (10)
#   WARMUP           seconds before the reference sample (60)
#   CONNECTIONS      wrk connections (32)
#   CLOUDWATCH       0: stdout only; 1: also ship the logs to moto (0)
#   POOL_SIZE        DB_POOL_MIN_CONN = DB_POOL_MAX_CONN (16)
#   SEED_ITEMS       rows before the load (1000)
#   RSS_TOLERANCE_KB allowed growth of VmRSS after the warm-up (2048)
#   FD_TOLERANCE     allowed growth of open descriptors after the warm-up (2)
#   ITEMSD_BINARY    default: packaging/build-release.sh's dist/x86_64-unknown-linux-musl/itemsd
#   OUT              .tmp/bench/soak-cloudwatch$CLOUDWATCH
#   CHART            docs/performance-soak.svg (docs/performance-soak-cloudwatch.svg with CLOUDWATCH=1)
#   DOC              docs/PERFORMANCE.md (empty: leave it alone)
#   PORT_BASE        ports PORT_BASE+1..+4 (24410)
#
# Usage: bench/soak.sh    (on a shared machine: flock /tmp/itemsd-cpu.lock bench/soak.sh)
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-10}
WARMUP=${WARMUP:-60}
CONNECTIONS=${CONNECTIONS:-32}
CLOUDWATCH=${CLOUDWATCH:-0}
POOL_SIZE=${POOL_SIZE:-16}
SEED_ITEMS=${SEED_ITEMS:-1000}
RSS_TOLERANCE_KB=${RSS_TOLERANCE_KB:-2048}
FD_TOLERANCE=${FD_TOLERANCE:-2}
ITEMSD_BINARY=${ITEMSD_BINARY:-}
OUT=${OUT:-.tmp/bench/soak-cloudwatch$CLOUDWATCH}
if [[ "${CLOUDWATCH}" == 1 ]]; then
    CHART=${CHART:-docs/performance-soak-cloudwatch.svg}
else
    CHART=${CHART:-docs/performance-soak.svg}
fi
DOC=${DOC-docs/PERFORMANCE.md}
PORT_BASE=${PORT_BASE:-24410}
QUIET_BUSY=${QUIET_BUSY:-25}
QUIET_WAIT=${QUIET_WAIT:-300}

readonly LOG_GROUP=itemsd-soak

check_inputs() {
    local name
    for name in DURATION INTERVAL WARMUP CONNECTIONS POOL_SIZE SEED_ITEMS RSS_TOLERANCE_KB PORT_BASE QUIET_BUSY QUIET_WAIT; do
        [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive integer, not '${!name}'"
    done
    [[ "$FD_TOLERANCE" =~ ^[0-9]+$ ]] || die "FD_TOLERANCE must be a number, not '$FD_TOLERANCE'"
    [[ "$CLOUDWATCH" == 0 || "$CLOUDWATCH" == 1 ]] || die "CLOUDWATCH must be 0 or 1, not '$CLOUDWATCH'"
    ((WARMUP < DURATION)) || die "WARMUP ($WARMUP) must be shorter than DURATION ($DURATION)"
    ((INTERVAL <= WARMUP)) || die "INTERVAL ($INTERVAL) must not exceed WARMUP ($WARMUP)"
    ((POOL_SIZE <= 1000)) || die "POOL_SIZE must be at most 1000 (itemsd's bound)"
    [[ -z "$ITEMSD_BINARY" || -x "$ITEMSD_BINARY" ]] || die "ITEMSD_BINARY=$ITEMSD_BINARY is not an executable"
    [[ "$CHART" == *.svg ]] || die "CHART must name an .svg file"
    [[ -z "$DOC" || -f "$DOC" ]] || die "DOC=$DOC does not exist (empty DOC skips updating it)"
    local tool
    need_debian_tool wrk wrk "it generates the HTTP load"
    need_debian_tool gnuplot gnuplot-nox "it draws the chart"
    for tool in curl python3; do
        command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install curl python3)"
    done
    find_pg_bindir >/dev/null || die "PostgreSQL server binaries not found: run scripts/install-deps.sh"
    [[ "$CLOUDWATCH" == 0 || -x "$VENV/bin/moto_server" ]] ||
        die "moto_server not found in $VENV: run scripts/install-python-tools.sh (or CLOUDWATCH=0)"
}

fact() {
    printf '%s\t%s\n' "$1" "$2" >>"$OUT/facts.tsv"
}

# metric NAME: a sample's value from itemsd's /metrics text in $metrics_text, empty if absent.
metric() {
    awk -v name="$1" '$1 == name {print $2; exit}' <<<"$metrics_text"
}

metrics_text=
cpu_ticks_before=0
# sample SECONDS: one CSV line about itemsd now.
sample() {
    local ticks cpu moto_rss=
    ticks=$(proc_ticks "$server_pid")
    cpu=$(awk -v t=$((ticks - cpu_ticks_before)) -v hz="$(getconf CLK_TCK)" -v s="$INTERVAL" \
        'BEGIN {printf "%.0f", t / hz / s * 100}')
    cpu_ticks_before=$ticks
    metrics_text=$(curl -fs "http://127.0.0.1:$itemsd_port/metrics" || true)
    [[ -z "$moto_pid" ]] || moto_rss=$(status_kb "$moto_pid" VmRSS)
    printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$1" \
        "$(status_kb "$server_pid" VmRSS)" "$(status_kb "$server_pid" RssAnon)" \
        "$(open_fds "$server_pid")" "$(status_kb "$server_pid" Threads)" "$cpu" \
        "$(sql -c 'SELECT count(*) FROM items')" \
        "$(metric cloudwatch_logs_events_shipped_total)" "$(metric cloudwatch_logs_events_dropped_total)" \
        "$(metric cloudwatch_logs_buffered_bytes)" "$moto_rss"
}

run_soak() {
    local started next wrk_pid
    : >"$OUT/soak.csv"
    echo "seconds,rss_kb,rss_anon_kb,fds,threads,cpu_percent,items,log_events_shipped,log_events_dropped,log_buffered_bytes,moto_rss_kb" >"$OUT/soak.csv"
    wait_for_quiet
    echo "wrk -t2 -c$CONNECTIONS -d${DURATION}s --latency -s bench/soak.lua http://127.0.0.1:PORT" >"$OUT/commands.txt"
    cpu_ticks_before=$(proc_ticks "$server_pid")
    started=$SECONDS
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/soak.lua "http://127.0.0.1:$itemsd_port" >"$OUT/wrk.txt" 2>&1 &
    wrk_pid=$!
    bench_pids+=("$wrk_pid")
    next=$started
    while kill -0 "$wrk_pid" 2>/dev/null; do
        if ((SECONDS >= next)); then
            sample $((SECONDS - started)) >>"$OUT/soak.csv"
            next=$((next + INTERVAL))
            if (((SECONDS - started) % 60 < INTERVAL)); then
                note "$(tail -1 "$OUT/soak.csv" | awk -F, '{printf "%4d s: RSS %.1f MiB, fds %d, CPU %d %%, items %d", $1, $2 / 1024, $4, $6, $7}')"
            fi
        fi
        sleep 0.5
    done
    wait "$wrk_pid" || die "wrk failed; see $OUT/wrk.txt"
    fact statuses "$(awk '/^statuses:/ {$1 = ""; print substr($0, 2)}' "$OUT/wrk.txt")"
    fact wrk "$(awk '/Requests\/sec/ {rps = $2} / requests in / {n = $1} /Non-2xx/ {bad = $NF}
        /Socket errors/ {sock = $0} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2}
        END {printf "%s requests, %s req/s, p50 %s, p99 %s, non-2xx %d%s", n, rps, p50, p99, bad, (sock ? "; " sock : "")}' "$OUT/wrk.txt")"
}

main() {
    check_inputs
    bench_ports "$PORT_BASE"
    mkdir -p "$OUT"
    rm -f "$OUT/facts.tsv" "$OUT/itemsd.stderr"
    copy_itemsd
    trap bench_cleanup EXIT
    start_database
    set_itemsd_env
    migrate_database
    seed_items
    local -a extra=()
    if [[ "$CLOUDWATCH" == 1 ]]; then
        start_moto
        read -r -a extra <<<"$(aws_env)"
        extra+=("CLOUDWATCH_LOG_GROUP=$LOG_GROUP" CLOUDWATCH_LOG_STREAM=soak)
    fi
    start_itemsd "${extra[@]}"
    fact date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    fact commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (with uncommitted changes)')"
    if [[ -f "$OUT/bin/itemsd.version.json" ]]; then
        fact binary_version "$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); print(v["version"], v["git_commit"], v["rustc"])' \
            "$OUT/bin/itemsd.version.json")"
    fi
    fact machine "$(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)"
    fact settings "DURATION=${DURATION}s INTERVAL=${INTERVAL}s WARMUP=${WARMUP}s CONNECTIONS=$CONNECTIONS CLOUDWATCH=$CLOUDWATCH POOL_SIZE=$POOL_SIZE SEED_ITEMS=$SEED_ITEMS"
    fact tolerance "$RSS_TOLERANCE_KB $FD_TOLERANCE $WARMUP"
    sleep 2
    note "soaking for ${DURATION} s, a sample every ${INTERVAL} s"
    run_soak
    stop_itemsd
    [[ -z "$moto_pid" ]] || stop_moto

    python3 bench/report.py --soak "$OUT" >"$OUT/soak.md"
    awk -F, 'NR > 1 {print $1, $2 / 1024, $4}' "$OUT/soak.csv" >"$OUT/soak.dat"
    local label="access log to stdout only"
    [[ "$CLOUDWATCH" == 0 ]] || label="access log also shipped to CloudWatch Logs (moto)"
    gnuplot -e "data='$OUT/soak.dat'; out='$CHART'; label='$label'" bench/soak.gp
    [[ -z "$DOC" ]] || python3 bench/report.py --splice "$DOC" "$OUT/soak.md" "bench/soak.sh CLOUDWATCH=$CLOUDWATCH"
    awk '/^Verdict/ || /^- /' "$OUT/soak.md" >&2
    note "results: $OUT/soak.md, $OUT/soak.csv, chart: $CHART${DOC:+, soak section of $DOC updated}"
}

main "$@"
