#!/usr/bin/env bash
# Instructions a request in user space, itemsd against the minimal hyper server built the same
# way (static musl, mimalloc), counted by valgrind's callgrind over a fixed number of requests
# on one keep-alive connection. Unlike a rate or a CPU time, the count is the same from run to
# run for the same binaries, whatever else the machine does, so a change to the request path
# shows its effect exactly; the kernel's share (system calls, wake-ups) is not in it, and
# bench/run-bench.sh measures that. The callgrind profiles stay in OUT, for callgrind_annotate.
#
# Inputs (environment; checked before anything runs):
#   ROUTE          path and query to request (/health)
#   REQUESTS       requests counted, after three uncounted (20000)
#   ITEMSD_BINARY  the binary; callgrind needs its symbols, so the unstripped one cargo leaves
#                  in target/ (default target/x86_64-unknown-linux-musl/release/itemsd, from
#                  packaging/build-release.sh)
#   BASELINE_MUSL_BINARY  bench/baseline built like itemsd (default: built, as run-bench.sh
#                  builds it; "skip": itemsd alone)
#   OUT            where the profiles go (.tmp/instructions)
#   PORT_BASE      ports PORT_BASE+1..+5 are used (24700)
#   SHIPPING       "on": itemsd also ships every access-log line to CloudWatch Logs (moto's
#                  server), and the count includes the shipping of the counted requests' lines,
#                  up to the last one CloudWatch accepted: what shipping costs an instance,
#                  whatever moto takes of the machine ("off", the default: no shipping)
#
# Usage: bench/count-instructions.sh; ROUTE=/ bench/count-instructions.sh
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUTE=${ROUTE:-/health}
REQUESTS=${REQUESTS:-20000}
ITEMSD_BINARY=${ITEMSD_BINARY:-target/x86_64-unknown-linux-musl/release/itemsd}
BASELINE_MUSL_BINARY=${BASELINE_MUSL_BINARY:-}
OUT=${OUT:-.tmp/instructions}
PORT_BASE=${PORT_BASE:-24700}
SHIPPING=${SHIPPING:-off}
# bench/lib.sh's table and pool: two connections, as deployed.
POOL_SIZE=2
SEED_ITEMS=1000

[[ "$SHIPPING" == on || "$SHIPPING" == off ]] || die "SHIPPING must be on or off, not '$SHIPPING'"
[[ "$ROUTE" == /* ]] || die "ROUTE must be a path, not '$ROUTE'"
for name in REQUESTS PORT_BASE; do
    [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive integer, not '${!name}'"
done
[[ -x "$ITEMSD_BINARY" ]] || die "ITEMSD_BINARY=$ITEMSD_BINARY is not an executable: run packaging/build-release.sh"
need_debian_tool valgrind valgrind "callgrind counts the instructions"
for tool in callgrind_control callgrind_annotate python3 curl; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install valgrind python3 curl)"
done

mkdir -p "$OUT"
if [[ -z "$BASELINE_MUSL_BINARY" ]]; then
    build_baseline_musl
fi
[[ "$BASELINE_MUSL_BINARY" == skip || -x "$BASELINE_MUSL_BINARY" ]] ||
    die "BASELINE_MUSL_BINARY=$BASELINE_MUSL_BINARY is not an executable (or skip)"

bench_ports "$PORT_BASE"
trap bench_cleanup EXIT
start_database >/dev/null
set_itemsd_env
migrate_database
seed_items >/dev/null

# count NAME PID PORT: with the server NAME (PID) started under callgrind, instrumentation off,
# turns it on for REQUESTS requests and off again, stops the server (waiting for it to write
# its profile, so not in a subshell) and adds the count a request to results.
count() {
    local name=$1 pid=$2 port=$3
    python3 - "$port" "$ROUTE" 3 <<<"$KEEPALIVE_CLIENT" || die "$name did not answer $ROUTE"
    callgrind_control --instr=on "$pid" >/dev/null 2>&1
    python3 - "$port" "$ROUTE" "$REQUESTS" <<<"$KEEPALIVE_CLIENT" || die "$name did not answer $ROUTE"
    if [[ "$name" == itemsd && "$SHIPPING" == on ]]; then
        wait_for_shipped "$port" "$((REQUESTS + 3))"
    fi
    callgrind_control --instr=off "$pid" >/dev/null 2>&1
    stop_process "$pid"
    local total
    total=$(callgrind_annotate "$OUT/callgrind-$name.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    [[ "$total" =~ ^[0-9]+$ ]] || die "no count in $OUT/callgrind-$name.out; see $OUT/*.stderr"
    results+=("$name $((total / REQUESTS))")
}

# wait_for_shipped PORT N: until itemsd on PORT reports N log lines accepted by CloudWatch Logs
# (its flush interval, 5 s, bounds the wait for the last batch). Each poll is a request of its
# own, a handful against REQUESTS.
wait_for_shipped() {
    local shipped batches started=$SECONDS
    while ((SECONDS - started < 120)); do
        read -r shipped batches < <(curl -fs "http://127.0.0.1:$1/metrics" | awk '
            $1 == "cloudwatch_logs_events_shipped_total" {s = $2} $1 == "cloudwatch_logs_batches_total" {b = $2}
            END {print s + 0, b + 0}')
        if ((shipped >= $2)); then
            note "itemsd shipped $shipped log lines in $batches PutLogEvents calls"
            return 0
        fi
        sleep 1
    done
    die "itemsd shipped ${shipped:-no} log lines of $2 within 120 s; see $OUT/itemsd.stderr"
}

# callgrind NAME: the command prefix that runs a server under callgrind (through the `env`
# that bench/lib.sh starts it with) with instrumentation off, its profile in OUT.
callgrind() {
    rm -f "$OUT/callgrind-$1.out"
    server_pin=(valgrind --tool=callgrind --trace-children=yes --instr-atstart=no
        "--callgrind-out-file=$OUT/callgrind-$1.out")
}

# Sends ROUTE N times on one keep-alive connection, each after the last answer has been read
# whole (by Content-Length), so every request is counted and nothing is pipelined.
KEEPALIVE_CLIENT='
import socket, sys
port, route, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = socket.create_connection(("127.0.0.1", port))
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
request = f"GET {route} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
buf = b""
for _ in range(n):
    conn.sendall(request)
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1").split("\r\n")
            if not head[0].startswith("HTTP/1.1 2"):
                sys.exit(f"answer: {head[0]}")
            length = next((int(l.split(":", 1)[1]) for l in head if l.lower().startswith("content-length:")), 0)
            if len(buf) >= end + 4 + length:
                buf = buf[end + 4 + length:]
                break
        chunk = conn.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        buf += chunk
'

# Slow to start under valgrind.
ready_seconds=60
results=()
callgrind itemsd
start_itemsd_logging "$SHIPPING" bench-instructions count
count itemsd "$server_pid" "$itemsd_port"
if [[ "$BASELINE_MUSL_BINARY" != skip ]]; then
    callgrind baseline
    start_baseline "$BASELINE_MUSL_BINARY"
    count baseline "$baseline_pid" "$baseline_port"
fi

echo "GET $ROUTE, $REQUESTS requests, log shipping $SHIPPING, user-space instructions a request (callgrind):"
for line in "${results[@]}"; do
    read -r name count <<<"$line"
    printf "  %-10s %8d\n" "$name" "$count"
done
if ((${#results[@]} == 2)); then
    read -r _ mine <<<"${results[0]}"
    read -r _ theirs <<<"${results[1]}"
    echo "  itemsd / baseline: $(awk -v a="$mine" -v b="$theirs" 'BEGIN {printf "%.1f %%", 100 * a / b}')"
fi
echo "profiles: callgrind_annotate $OUT/callgrind-itemsd.out"
