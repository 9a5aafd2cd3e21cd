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
