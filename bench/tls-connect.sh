#!/usr/bin/env bash
# What TLS costs a new database connection: pgbench with a connection per transaction (-C) and
# a trivial statement, against one throwaway cluster with ssl=on, in each sslmode, rounds
# alternating so that the modes share the machine's state. Prints the average connection time
# of each mode and its ratio to plain text. itemsd pays this once per pooled connection (at
# start, after a restart or failover of the database, after a deadline cut its connections
# off), never per request. pgbench speaks libpq and OpenSSL where itemsd speaks rustls; the
# server's half of the handshake is the same.
#
# Inputs (environment): ROUNDS (default 3), RUN_SECONDS per mode and round (default 5).
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh

ROUNDS=${ROUNDS:-3}
RUN_SECONDS=${RUN_SECONDS:-5}
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "tls-connect: ROUNDS must be a positive number" >&2; exit 64; }
[[ "$RUN_SECONDS" =~ ^[1-9][0-9]*$ ]] || { echo "tls-connect: RUN_SECONDS must be a positive number" >&2; exit 64; }
bindir=$(find_pg_bindir) || { echo "tls-connect: PostgreSQL not found: run scripts/install-deps.sh" >&2; exit 1; }
command -v openssl >/dev/null || { echo "tls-connect: openssl not found: run scripts/install-deps.sh" >&2; exit 1; }

work=$(mktemp -d)
chmod 0755 "$work"
trap 'stop_cluster "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# A CA and a server certificate for 127.0.0.1, as the tests make them.
(
    cd "$work"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj "/CN=bench CA" -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
        -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
        -extfile server.ext -out server.pem 2>/dev/null
)
start_cluster "$work/pg" "$port"
install -m 0600 "$work/server.pem" "$work/server.key" "$work/pg/"
[[ "$(id -u)" != 0 ]] || chown postgres: "$work/pg/server.pem" "$work/pg/server.key"
psql_at "$work/pg" "$port" -qc "ALTER SYSTEM SET ssl = on" >/dev/null
psql_at "$work/pg" "$port" -qc "ALTER SYSTEM SET ssl_cert_file = '$work/pg/server.pem'" >/dev/null
psql_at "$work/pg" "$port" -qc "ALTER SYSTEM SET ssl_key_file = '$work/pg/server.key'" >/dev/null
psql_at "$work/pg" "$port" -qc "SELECT pg_reload_conf()" >/dev/null
echo "SELECT 1;" >"$work/select1.sql"

declare -A total=()
modes=(disable require verify-full)
for round in $(seq 1 "$ROUNDS"); do
    for mode in "${modes[@]}"; do
        out=$(PGSSLMODE=$mode PGSSLROOTCERT=$work/ca.pem "$bindir/pgbench" -n -C -c 1 \
            -T "$RUN_SECONDS" -f "$work/select1.sql" -h 127.0.0.1 -p "$port" -U postgres postgres 2>&1)
        ms=$(sed -n 's/^average connection time = \([0-9.]*\) ms$/\1/p' <<<"$out")
        [[ -n "$ms" ]] || { echo "tls-connect: pgbench said: $out" >&2; exit 1; }
        echo "round $round  $mode  average connection time $ms ms"
        total[$mode]=$(python3 -c "print(${total[$mode]:-0} + $ms)")
    done
done
plain=$(python3 -c "print(${total[disable]} / $ROUNDS)")
for mode in "${modes[@]}"; do
    python3 -c "m = ${total[$mode]} / $ROUNDS; print(f'$mode: {m:.3f} ms a new connection, {m / $plain:.2f}x plain text, +{m - $plain:.3f} ms')"
done
