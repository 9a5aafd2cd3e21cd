# shellcheck shell=bash
# Helpers shared by bench/run-bench.sh and bench/soak.sh: a throwaway PostgreSQL, itemsd and
# moto's server started and stopped by pid, readings from /proc. Functions only; sourced after
# scripts/lib/postgres.sh from the repository root. The sourcing script sets OUT, ITEMSD_BINARY,
# POOL_SIZE, SEED_ITEMS, QUIET_BUSY and QUIET_WAIT (and BASELINE_BINARY, BASELINE_MUSL_BINARY
# for the baseline), calls bench_ports PORT_BASE, and traps EXIT with bench_cleanup.

readonly VENV=.venv
readonly AWS_TEST_REGION=eu-north-1

die() {
    echo "${0##*/}: error: $*" >&2
    exit 1
}

note() {
    echo "${0##*/}: $*" >&2
}

# need_debian_tool TOOL PACKAGE WHY: TOOL on PATH, installed from Debian's PACKAGE when
# missing and running as root (as scripts/install-deps.sh installs the rest); otherwise one
# clear line saying what to install.
need_debian_tool() {
    command -v "$1" >/dev/null && return
    [[ "$(id -u)" == 0 ]] || die "$1 not found ($3): apt-get install $2"
    note "installing $2 ($3)"
    apt-get install -y -qq --no-install-recommends "$2" >/dev/null || die "apt-get install $2 failed"
}

# bench_ports BASE: PostgreSQL on BASE+1, itemsd BASE+2, the baseline BASE+3, moto BASE+4, a
# second itemsd BASE+5; fails when one is taken, or inside the kernel's range of ephemeral
# ports: there, a connection the run opens (wrk's, pgbench's, the pool's) can take one of them
# as its own port before the server meant for it starts (moto, at the fifth step, did once).
bench_ports() {
    pg_port=$(($1 + 1))
    itemsd_port=$(($1 + 2))
    baseline_port=$(($1 + 3))
    moto_port=$(($1 + 4))
    variant_port=$(($1 + 5))
    local ephemeral_low ephemeral_high port
    read -r ephemeral_low ephemeral_high </proc/sys/net/ipv4/ip_local_port_range
    if ((variant_port >= ephemeral_low && pg_port <= ephemeral_high)); then
        die "PORT_BASE=$1 puts ports inside the ephemeral range $ephemeral_low-$ephemeral_high; choose one below it"
    fi
    for port in "$pg_port" "$itemsd_port" "$baseline_port" "$moto_port" "$variant_port"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            die "port $port is in use (set PORT_BASE)"
        fi
    done
}

# --- processes: every one started here is stopped by its pid --------------------------------

bench_pids=()
# A command prefix for the servers (taskset in run-bench.sh's split layout; none by default).
server_pin=()
# A command prefix for what stands in for a service a deployment reaches over the network (moto,
# for CloudWatch): taskset onto the database's cores in run-bench.sh's split layout, so that it
# takes nothing of the HTTP side's core; none by default.
remote_pin=()
pg_dir=
server_pid=
moto_pid=

bench_cleanup() {
    local pid
    for pid in "${bench_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    if [[ -n "$pg_dir" ]]; then
        stop_cluster "$pg_dir"
        rm -rf "$pg_dir"
    fi
}

# How long a server started here has to answer /health: 10 s; more under valgrind.
ready_seconds=10

# wait_for_http URL PID: until URL answers 200, or the process dies, or ready_seconds pass.
wait_for_http() {
    local url=$1 pid=$2
    for _ in $(seq $((ready_seconds * 20))); do
        curl -fs -o /dev/null "$url" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

stop_process() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# copy_itemsd: ITEMSD_BINARY (default: packaging/build-release.sh's output, built first) copied
# into $OUT/bin, so that a rebuild of dist/ during the run changes nothing; ITEMSD_BINARY then
# names the copy.
copy_itemsd() {
    if [[ -z "$ITEMSD_BINARY" ]]; then
        note "building itemsd (packaging/build-release.sh)"
        packaging/build-release.sh >"$OUT/build-itemsd.log" 2>&1 ||
            die "packaging/build-release.sh failed; see $OUT/build-itemsd.log"
        ITEMSD_BINARY=dist/x86_64-unknown-linux-musl/itemsd
    fi
    mkdir -p "$OUT/bin"
    rm -f "$OUT/bin/itemsd" "$OUT/bin/itemsd.version.json"
    cp "$ITEMSD_BINARY" "$OUT/bin/itemsd"
    if [[ -f "$(dirname "$ITEMSD_BINARY")/itemsd.version.json" ]]; then
        cp "$(dirname "$ITEMSD_BINARY")/itemsd.version.json" "$OUT/bin/"
    fi
    ITEMSD_BINARY=$OUT/bin/itemsd
}

start_database() {
    pg_dir=$(mktemp -d /tmp/itemsd-bench-pg.XXXXXX)
    start_cluster "$pg_dir" "$pg_port"
    # pgbench's 256 clients plus itemsd's pools: above the default of 100.
    psql_at "$pg_dir" "$pg_port" -qc "ALTER SYSTEM SET max_connections = 400" >/dev/null
    stop_cluster "$pg_dir"
    start_cluster "$pg_dir" "$pg_port"
    create_database "$pg_dir" "$pg_port" appdb
}

postmaster_pid() {
    head -1 "$pg_dir/data/postmaster.pid"
}

sql() {
    psql_at "$pg_dir" "$pg_port" -d appdb -v ON_ERROR_STOP=1 -qtA "$@"
}

# itemsd's environment for the benchmark database: a pool of POOL_SIZE connections opened at
# start, AWS duties off, no instance metadata lookup, no pre-stop delay.
itemsd_env=()
set_itemsd_env() {
    itemsd_env=(
        "APPLICATION_PORT=$itemsd_port" BIND_ADDRESS=127.0.0.1
        DB_HOST=127.0.0.1 "DB_PORT=$pg_port" DB_NAME=appdb DB_USER=postgres
        "DB_POOL_MIN_CONN=$POOL_SIZE" "DB_POOL_MAX_CONN=$POOL_SIZE"
        SHUTDOWN_DELAY_SECONDS=0 AWS_EC2_METADATA_DISABLED=true INSTANCE_ID=i-0bench0000000000
        ENVIRONMENT=bench LOG_LEVEL=INFO
    )
}

# start_itemsd [VAR=value...]: starts itemsd with the benchmark environment plus the given
# variables (later ones win), its stdout (the access log) to /dev/null; sets server_pid.
start_itemsd() {
    "${server_pin[@]}" env -i PATH="$PATH" "${itemsd_env[@]}" "$@" "$ITEMSD_BINARY" >/dev/null 2>>"$OUT/itemsd.stderr" &
    server_pid=$!
    bench_pids+=("$server_pid")
    wait_for_http "http://127.0.0.1:$itemsd_port/health" "$server_pid" ||
        die "itemsd did not answer /health; see $OUT/itemsd.stderr"
}

stop_itemsd() {
    stop_process "$server_pid"
    server_pid=
}

baseline_pid=

# start_baseline [BINARY]: the minimal server (default BASELINE_BINARY) on baseline_port, with
# the benchmark database and pool; sets baseline_pid.
start_baseline() {
    "${server_pin[@]}" env -i PATH="$PATH" DB_HOST=127.0.0.1 "DB_PORT=$pg_port" DB_NAME=appdb DB_USER=postgres \
        "DB_POOL_MAX_CONN=$POOL_SIZE" "${1:-$BASELINE_BINARY}" "$baseline_port" >/dev/null 2>&1 &
    baseline_pid=$!
    bench_pids+=("$baseline_pid")
    wait_for_http "http://127.0.0.1:$baseline_port/health" "$baseline_pid" || die "the baseline did not answer /health"
}

# build_baseline_musl: bench/baseline built like itemsd (static musl, mimalloc, as
# packaging/build-release.sh builds itemsd) into BASELINE_MUSL_BINARY; "skip" when this
# machine has no musl-gcc or no musl target.
build_baseline_musl() {
    if ! command -v musl-gcc >/dev/null || ! grep -qx x86_64-unknown-linux-musl <<<"$(rustup target list --installed 2>/dev/null)"; then
        note "no musl-gcc or no x86_64-unknown-linux-musl target: the baseline is not built like itemsd (packaging/install-build-deps.sh)"
        BASELINE_MUSL_BINARY=skip
        return
    fi
    note "building the baseline like itemsd: static musl, mimalloc"
    CC_x86_64_unknown_linux_musl=musl-gcc \
        CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
        cargo build --release --locked --quiet --manifest-path bench/baseline/Cargo.toml \
        --target x86_64-unknown-linux-musl --features mimalloc \
        --target-dir .tmp/bench/baseline-target >"$OUT/build-baseline-musl.log" 2>&1 ||
        die "building bench/baseline for musl failed; see $OUT/build-baseline-musl.log"
    # shellcheck disable=SC2034 # the sourcing script's input, read there
    BASELINE_MUSL_BINARY=.tmp/bench/baseline-target/x86_64-unknown-linux-musl/release/itemsd-bench-baseline
}

start_moto() {
    "${remote_pin[@]}" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >/dev/null 2>"$OUT/moto.log" &
    moto_pid=$!
    bench_pids+=("$moto_pid")
    for _ in $(seq 300); do
        curl -s -o /dev/null "http://127.0.0.1:$moto_port/" && return 0
        sleep 0.1
    done
    die "moto_server did not listen within 30 s; see $OUT/moto.log"
}

stop_moto() {
    stop_process "$moto_pid"
    moto_pid=
}

# aws_env: what itemsd (and boto3) need to talk to moto, as VAR=value words.
aws_env() {
    echo "AWS_ENDPOINT_URL=http://127.0.0.1:$moto_port" "AWS_REGION=$AWS_TEST_REGION" \
        AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
}

# start_itemsd_logging SHIPPING GROUP STREAM: itemsd as the benchmarks run it, the access log on
# (to /dev/null); with SHIPPING "on", moto started first and every line also shipped to its
# CloudWatch Logs, into GROUP and STREAM.
start_itemsd_logging() {
    if [[ "$1" != on ]]; then
        start_itemsd LOG_LEVEL=INFO
        return
    fi
    start_moto
    local -a aws
    read -r -a aws <<<"$(aws_env)"
    start_itemsd LOG_LEVEL=INFO "${aws[@]}" "CLOUDWATCH_LOG_GROUP=$2" "CLOUDWATCH_LOG_STREAM=$3"
}

# --- data ---------------------------------------------------------------------------------

migrate_database() {
    env -i PATH="$PATH" "${itemsd_env[@]}" "$ITEMSD_BINARY" migrate >"$OUT/migrate.log" 2>&1 ||
        die "itemsd migrate failed; see $OUT/migrate.log"
}

# seed_items: the items table back to SEED_ITEMS rows, vacuumed and analysed. Each row gets its
# own created_at, a second apart, as rows inserted one request at a time have (one statement
# would give them all the same CURRENT_TIMESTAMP, and the newest-first query would then sort the
# whole table instead of reading ten rows from the index).
seed_items() {
    sql -c "TRUNCATE items RESTART IDENTITY" \
        -c "INSERT INTO items (name, description, value, created_at, updated_at)
            SELECT 'item ' || g, 'seeded item number ' || g, g::text,
                   now() - make_interval(secs => $SEED_ITEMS - g), now() - make_interval(secs => $SEED_ITEMS - g)
            FROM generate_series(1, $SEED_ITEMS) g" \
        -c "VACUUM ANALYZE items" >/dev/null
}

# --- /proc --------------------------------------------------------------------------------

# status_kb PID KEY: a field of /proc/PID/status (VmRSS, VmHWM, RssAnon, Threads...).
status_kb() {
    awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"
}

open_fds() {
    find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l
}

# proc_ticks PID: utime+stime (+ cutime+cstime with "children") of one process, 0 if gone.
proc_ticks() {
    local pid=$1 with_children=${2:-} line rest
    read -r line 2>/dev/null <"/proc/$pid/stat" || {
        echo 0
        return
    }
    rest=${line##*) }
    local -a f
    read -r -a f <<<"$rest"
    # f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
    if [[ -n "$with_children" ]]; then
        echo $((f[11] + f[12] + f[13] + f[14]))
    else
        echo $((f[11] + f[12]))
    fi
}

# machine_ticks: "processes interrupts steal total" from /proc/stat: time in processes (user,
# nice, system), in interrupts (irq, softirq: loopback TCP is processed there), stolen by the
# hypervisor (the virtual CPU wanted to run and did not), and all of it.
machine_ticks() {
    local user nice system idle iowait irq softirq steal
    read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
    echo "$((user + nice + system)) $((irq + softirq)) $steal $((user + nice + system + idle + iowait + irq + softirq + steal))"
}

# wait_for_quiet: until the machine's busy time (processes and interrupts) over half a second is
# at most QUIET_BUSY percent of one core (our own servers idle meanwhile), or QUIET_WAIT seconds
# have passed. Sets busy_now to the last figure.
wait_for_quiet() {
    local deadline=$((SECONDS + QUIET_WAIT)) p0 i0 a0 p1 i1 a1 cores said=
    cores=$(nproc)
    while :; do
        read -r p0 i0 _ a0 < <(machine_ticks)
        sleep 0.5
        read -r p1 i1 _ a1 < <(machine_ticks)
        busy_now=$(((p1 - p0 + i1 - i0) * 100 * cores / (a1 - a0 > 0 ? a1 - a0 : 1)))
        ((busy_now > QUIET_BUSY)) || return 0
        if ((SECONDS >= deadline)); then
            note "the machine is still busy (${busy_now} % of a core, not this benchmark); measuring anyway"
            return 0
        fi
        if [[ -z "$said" ]]; then
            note "the machine is busy (${busy_now} % of a core, not this benchmark): waiting up to ${QUIET_WAIT} s"
            said=1
        fi
        sleep 2
    done
}
