#!/usr/bin/env bash
# Measures musl's own allocator against mimalloc under load: two static release builds of the
# same commit (packaging/build-release.sh with FEATURES= and FEATURES=mimalloc), each serving
# in turn against one throwaway PostgreSQL, loaded by wrk from a separate process, alternating
# A, B, A, B so both see the same machine. Prints a Markdown table of requests/s, p99 latency
# and resident memory after the load.
#
# Inputs (environment): MUSL_BINARY, MIMALLOC_BINARY (default: builds both into .tmp/alloc),
# DURATION (10s), CONNECTIONS (64), ROUNDS (2).
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-2}
command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install wrk)" >&2; exit 1; }
[[ "$ROUNDS" =~ ^[0-9]+$ && "$CONNECTIONS" =~ ^[0-9]+$ ]] || { echo "error: ROUNDS and CONNECTIONS are numbers" >&2; exit 64; }

if [[ -z "${MUSL_BINARY:-}" || -z "${MIMALLOC_BINARY:-}" ]]; then
    FEATURES='' DIST=.tmp/alloc/musl packaging/build-release.sh >/dev/null
    FEATURES=mimalloc DIST=.tmp/alloc/mimalloc packaging/build-release.sh >/dev/null
    MUSL_BINARY=.tmp/alloc/musl/x86_64-unknown-linux-musl/itemsd
    MIMALLOC_BINARY=.tmp/alloc/mimalloc/x86_64-unknown-linux-musl/itemsd
fi

pg_dir=$(mktemp -d /tmp/itemsd-bench-pg.XXXXXX)
pg_port=54391
app_port=54392
server_pid=
cleanup() {
    [[ -z "$server_pid" ]] || kill "$server_pid" 2>/dev/null || true
    stop_cluster "$pg_dir"
    rm -rf "$pg_dir"
}
trap cleanup EXIT
start_cluster "$pg_dir" "$pg_port"
create_database "$pg_dir" "$pg_port" appdb

start_server() {
    APPLICATION_PORT=$app_port BIND_ADDRESS=127.0.0.1 DB_HOST=127.0.0.1 DB_PORT=$pg_port \
        DB_NAME=appdb DB_POOL_MIN_CONN=16 DB_POOL_MAX_CONN=16 SHUTDOWN_DELAY_SECONDS=0 \
        AWS_EC2_METADATA_DISABLED=true "$1" >/dev/null &
    server_pid=$!
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$app_port/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "error: $1 did not answer /health" >&2
    return 1
}

stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=
}

# load URL: prints "requests/s p99_ms"
load() {
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$1" |
        awk '/Requests\/sec/ {rps=$2} $1=="99%" {p=$2; if (p ~ /us$/) {sub(/us/,"",p); p=p/1000} else if (p ~ /ms$/) {sub(/ms/,"",p)} else if (p ~ /s$/) {sub(/s/,"",p); p=p*1000}} END {printf "%.0f %.2f\n", rps, p}'
}

declare -A results
for round in $(seq "$ROUNDS"); do
    for name in musl mimalloc; do
        binary=$MUSL_BINARY
        [[ "$name" == musl ]] || binary=$MIMALLOC_BINARY
        start_server "$binary"
        if [[ "$round" == 1 && "$name" == musl ]]; then
            for i in $(seq 50); do
                curl -fs -X POST -H 'content-type: application/json' -d "{\"name\":\"item $i\"}" \
                    "http://127.0.0.1:$app_port/api/items" >/dev/null
            done
        fi
        items=$(load "http://127.0.0.1:$app_port/api/items?limit=10")
        health=$(load "http://127.0.0.1:$app_port/health")
        rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
        results[$name]+="$items $health $rss_kb;"
        stop_server
    done
done

echo "| allocator | round | GET /api/items?limit=10 req/s | p99 ms | GET /health req/s | p99 ms | RSS after load MiB |"
echo "|---|---|---|---|---|---|---|"
for name in musl mimalloc; do
    round=0
    IFS=';' read -r -a rows <<<"${results[$name]}"
    for row in "${rows[@]}"; do
        [[ -n "$row" ]] || continue
        round=$((round + 1))
        read -r irps ip99 hrps hp99 rss <<<"$row"
        printf '| %s | %d | %s | %s | %s | %s | %s |\n' "$name" "$round" "$irps" "$ip99" "$hrps" "$hp99" \
            "$(awk -v kb="$rss" 'BEGIN { printf "%.1f", kb / 1024 }')"
    done
done
