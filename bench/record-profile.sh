#!/usr/bin/env bash
# Where itemsd's CPU goes on one route: perf record (call graphs by DWARF unwinding) of the
# release binary while wrk loads the route from a second process, then the functions with the
# largest share, themselves and with what they call. The profile of issue 13 came from this.
#
# Inputs (environment; checked before anything runs):
#   ROUTE          path and query to load (/health)
#   DURATION       seconds of load and recording (6)
#   CONNECTIONS    wrk connections (16)
#   ITEMSD_BINARY  the binary to profile; it needs its symbols, so the unstripped one cargo
#                  leaves in target/ (default target/x86_64-unknown-linux-musl/release/itemsd,
#                  from packaging/build-release.sh)
#   OUT            where perf.data and the reports go (.tmp/profile)
#   PORT_BASE      ports PORT_BASE+1..+5 are used (24900)
#   PERCENT        the smallest share listed, in percent (0.5)
#   RATE           requests a second, paced by bench/paced.lua as bench/run-bench.sh paces its
#                  fixed-rate runs, so that two recordings (SHIPPING on and off, say) do the
#                  same work; unset: as fast as itemsd answers
#   SHIPPING       "on": itemsd also ships every access-log line to CloudWatch Logs (moto's
#                  server), as bench/count-instructions.sh does ("off", the default)
#
# Usage: bench/record-profile.sh; ROUTE=/api/items?limit=10 bench/record-profile.sh
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUTE=${ROUTE:-/health}
DURATION=${DURATION:-6}
CONNECTIONS=${CONNECTIONS:-16}
ITEMSD_BINARY=${ITEMSD_BINARY:-target/x86_64-unknown-linux-musl/release/itemsd}
OUT=${OUT:-.tmp/profile}
PORT_BASE=${PORT_BASE:-24900}
PERCENT=${PERCENT:-0.5}
SHIPPING=${SHIPPING:-off}
RATE=${RATE:-}
# The benchmark's pool and table (bench/lib.sh reads them).
POOL_SIZE=16
SEED_ITEMS=1000

[[ "$ROUTE" == /* ]] || die "ROUTE must be a path, not '$ROUTE'"
for name in DURATION CONNECTIONS PORT_BASE; do
    [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive integer, not '${!name}'"
done
[[ "$PERCENT" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "PERCENT must be a number, not '$PERCENT'"
[[ -z "$RATE" || ( "$RATE" =~ ^[1-9][0-9]*$ && "$RATE" -ge 2 ) ]] ||
    die "RATE must be an integer of at least 2 (two wrk threads pace half each), not '$RATE'"
[[ "$SHIPPING" == on || "$SHIPPING" == off ]] || die "SHIPPING must be on or off, not '$SHIPPING'"
[[ -x "$ITEMSD_BINARY" ]] || die "ITEMSD_BINARY=$ITEMSD_BINARY is not an executable: run packaging/build-release.sh"
need_debian_tool wrk wrk "it generates the HTTP load"
need_debian_tool perf linux-perf "it records the profile"
command -v curl >/dev/null || die "curl not found (Debian: apt-get install curl)"
perf record -o /dev/null -- true >/dev/null 2>&1 || die "perf cannot record here (not root, or perf_event_paranoid)"

mkdir -p "$OUT"
bench_ports "$PORT_BASE"
trap bench_cleanup EXIT
start_database >/dev/null
set_itemsd_env
migrate_database
seed_items >/dev/null
start_itemsd_logging "$SHIPPING" bench-profile profile

note "recording itemsd (pid $server_pid) for ${DURATION}s of wrk -c$CONNECTIONS on $ROUTE"
perf record -F 999 --call-graph dwarf,16384 -p "$server_pid" -o "$OUT/perf.data" -- sleep "$DURATION" \
    2>"$OUT/perf-record.log" &
perf_pid=$!
url="http://127.0.0.1:$itemsd_port$ROUTE"
if [[ -n "$RATE" ]]; then
    # Two threads, each pacing half the rate.
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/paced.lua "$url" -- $((RATE / 2)) >"$OUT/wrk.txt"
else
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "$url" >"$OUT/wrk.txt"
fi
wait "$perf_pid" || die "perf record failed; see $OUT/perf-record.log"
stop_itemsd

perf report -i "$OUT/perf.data" --no-children --stdio -g none --sort sym --percent-limit "$PERCENT" \
    2>/dev/null >"$OUT/self.txt"
perf report -i "$OUT/perf.data" --children --stdio -g none --sort sym --percent-limit "$PERCENT" \
    2>/dev/null >"$OUT/children.txt"
note "$(awk '/Requests\/sec/ {print $2 " requests a second under the recording"}' "$OUT/wrk.txt")"
note "largest shares by the function itself ($OUT/self.txt):"
grep -E '^ +[0-9]' "$OUT/self.txt" | head -25
note "itemsd's own functions with what they call ($OUT/children.txt):"
grep -E '^ +[0-9]' "$OUT/children.txt" | grep -E 'itemsd::' | grep -v '{closure' | head -25
