#!/usr/bin/env bash
# Runs itemsd on this machine against a throwaway PostgreSQL cluster (no AWS needed):
# installs what is missing, starts the cluster under .tmp/local-pg, serves on APPLICATION_PORT
# (5001) until Ctrl-C, then stops the cluster. Extra arguments go to itemsd (e.g. `check`).
#
# Inputs (environment): APPLICATION_PORT (5001), LOCAL_PG_PORT (54329), KEEP_LOCAL_PG=1 to keep
# the cluster's data between runs.
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh

APPLICATION_PORT=${APPLICATION_PORT:-5001}
LOCAL_PG_PORT=${LOCAL_PG_PORT:-54329}
KEEP_LOCAL_PG=${KEEP_LOCAL_PG:-0}
[[ "$LOCAL_PG_PORT" =~ ^[0-9]+$ ]] || { echo "error: LOCAL_PG_PORT must be a port number" >&2; exit 64; }

scripts/install-deps.sh >/dev/null
cargo build --release --locked --bin itemsd

cluster_dir="$PWD/.tmp/local-pg"
[[ "$KEEP_LOCAL_PG" == 1 ]] || { stop_cluster "$cluster_dir"; rm -rf "$cluster_dir"; }
start_cluster "$cluster_dir" "$LOCAL_PG_PORT"
trap 'stop_cluster "$cluster_dir"' EXIT
create_database "$cluster_dir" "$LOCAL_PG_PORT" appdb

echo "PostgreSQL on 127.0.0.1:$LOCAL_PG_PORT; itemsd on http://localhost:$APPLICATION_PORT (Ctrl-C to stop)"
# No pre-stop delay on a laptop: there is no load balancer to wait for.
APPLICATION_PORT=$APPLICATION_PORT DB_HOST=127.0.0.1 DB_PORT=$LOCAL_PG_PORT DB_NAME=appdb \
    DB_USER=postgres SHUTDOWN_DELAY_SECONDS=${SHUTDOWN_DELAY_SECONDS:-0} \
    "${CARGO_TARGET_DIR:-target}/release/itemsd" "$@"
