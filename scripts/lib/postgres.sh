# shellcheck shell=bash
# Throwaway PostgreSQL clusters from the machine's PostgreSQL binaries: sourced by the scripts
# that need one (run-local.sh, the benchmarks). Functions only; nothing runs on sourcing.

# Prints the directory holding pg_ctl and initdb, newest version first; fails if none.
find_pg_bindir() {
    local dir
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    local candidates=(/usr/lib/postgresql/*/bin)
    for dir in $(printf '%s\n' "${candidates[@]}" | sort -V -r); do
        if [[ -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# Runs a command as the unprivileged owner of the cluster: PostgreSQL refuses to run as root.
run_as_pg_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# start_cluster DIR PORT: initdb into DIR (if empty) and start it on 127.0.0.1:PORT.
start_cluster() {
    local dir=$1 port=$2 bindir
    bindir=$(find_pg_bindir) || {
        echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/install-deps.sh" >&2
        return 1
    }
    mkdir -p "$dir"
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || {
            echo "error: running as root needs a 'postgres' user to own the cluster; run scripts/install-deps.sh" >&2
            return 1
        }
        chown postgres: "$dir"
    fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        run_as_pg_owner "$bindir/initdb" --pgdata="$dir/data" --username=postgres \
            --auth=trust --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            return 1
        }
    fi
    run_as_pg_owner "$bindir/pg_ctl" --pgdata="$dir/data" --log="$dir/postgres.log" --wait \
        --options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off" \
        start >/dev/null || {
        cat "$dir/postgres.log" >&2
        return 1
    }
}

# stop_cluster DIR: fast shutdown; quiet if it is not running.
stop_cluster() {
    local dir=$1 bindir
    bindir=$(find_pg_bindir) || return 0
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        run_as_pg_owner "$bindir/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null 2>&1 || true
    fi
}

# create_database DIR PORT NAME: creates NAME unless it exists.
create_database() {
    local dir=$1 port=$2 name=$3
    if [[ "$(psql_at "$dir" "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" != 1 ]]; then
        psql_at "$dir" "$port" -qc "CREATE DATABASE \"$name\"" >/dev/null
    fi
}

psql_at() {
    local dir=$1 port=$2
    shift 2
    local bindir
    bindir=$(find_pg_bindir)
    if [[ -x "$bindir/psql" ]]; then
        "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
    else
        psql -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
    fi
}

# start_tls_cluster DIR PORT: like start_cluster, but TLS only, as RDS with rds.force_ssl: a CA
# made here (DIR/ca.pem, for DB_SSLROOTCERT), a server certificate for 127.0.0.1 and localhost,
# and pg_hba.conf with hostssl lines alone (trust: the tests are about TLS and the service, not
# passwords). A client that connects without TLS is refused.
start_tls_cluster() {
    local dir=$1 port=$2 bindir
    bindir=$(find_pg_bindir) || {
        echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/install-deps.sh" >&2
        return 1
    }
    command -v openssl >/dev/null || {
        echo "error: openssl not found; run scripts/install-deps.sh" >&2
        return 1
    }
    mkdir -p "$dir"
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || {
            echo "error: running as root needs a 'postgres' user to own the cluster; run scripts/install-deps.sh" >&2
            return 1
        }
        chown postgres: "$dir"
    fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        run_as_pg_owner "$bindir/initdb" --pgdata="$dir/data" --username=postgres \
            --auth=trust --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            return 1
        }
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -subj "/CN=itemsd test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
            -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/server.ext"
        openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
            -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
        cp "$dir/server.pem" "$dir/server.key" "$dir/data/"
        chmod 0600 "$dir/data/server.key"
        [[ "$(id -u)" != 0 ]] || chown postgres: "$dir/data/server.pem" "$dir/data/server.key"
        printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\n' >"$dir/data/pg_hba.conf"
        [[ "$(id -u)" != 0 ]] || chown postgres: "$dir/data/pg_hba.conf"
    fi
    run_as_pg_owner "$bindir/pg_ctl" --pgdata="$dir/data" --log="$dir/postgres.log" --wait \
        --options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c ssl=on -c ssl_cert_file=server.pem -c ssl_key_file=server.key" \
        start >/dev/null || {
        cat "$dir/postgres.log" >&2
        return 1
    }
}

# psql_tls_at DIR PORT ARGS...: psql over TLS, verifying the cluster against DIR/ca.pem.
psql_tls_at() {
    local dir=$1 port=$2
    shift 2
    local bindir
    bindir=$(find_pg_bindir)
    local psql=psql
    [[ ! -x "$bindir/psql" ]] || psql=$bindir/psql
    PGSSLMODE=verify-full PGSSLROOTCERT="$dir/ca.pem" "$psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}
