#!/usr/bin/env bash
# Installs what building and testing itemsd needs on a fresh Debian machine, and nothing that is
# already there: PostgreSQL server binaries (for throwaway clusters), HAProxy (the load balancer
# of the rolling-restart test), shellcheck, the musl target. Safe to run again. Installing
# packages needs root; without it, it says what is missing.
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh

missing_packages=()
find_pg_bindir >/dev/null || missing_packages+=(postgresql)
command -v psql >/dev/null || missing_packages+=(postgresql-client)
command -v shellcheck >/dev/null || missing_packages+=(shellcheck)
command -v haproxy >/dev/null || missing_packages+=(haproxy)
command -v runuser >/dev/null || missing_packages+=(util-linux)

if ((${#missing_packages[@]} > 0)); then
    if [[ "$(id -u)" != 0 ]]; then
        echo "error: missing packages: ${missing_packages[*]}; install them (apt-get install ${missing_packages[*]})" >&2
        exit 1
    fi
    echo "installing: ${missing_packages[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null
fi

# The Debian package creates it; a machine with only the binaries may lack it.
if [[ "$(id -u)" == 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
    rustup target add x86_64-unknown-linux-musl
fi
echo "dependencies ready"
