#!/usr/bin/env bash
# Installs everything the test command needs that is not already there, from the one list in
# scripts/lib/tools.sh: Debian's packages (PostgreSQL, HAProxy, shellcheck, packer, musl-tools,
# debootstrap, systemd-container, qemu, ...) in one apt-get call, the `postgres` user that owns
# throwaway clusters, the musl Rust target, the project's Python venv and its Node.js tools.
# Then asks every tool its version, and fails naming any that does not answer. Safe to run
# again: a machine that has everything installs nothing. Installing packages needs root; without
# it, it says what is missing.
#
# Inputs (environment, all optional):
#   MACHINE_TOOLS        "false" skips what the machine itself brings (`rustup target add`, the
#                        checks of cargo, rustup, terraform, node and npm, and the Node.js tools
#                        npm installs): for a root filesystem that has only Debian
#                        (scripts/test-fresh-install.sh)
#   INSTALL_VENV         "false" skips the Python venv
#   VENV_DIR             where the venv goes (default <repo>/.venv)
#   NODE_TOOLS_DIR       where the Node.js tools go (default <repo>/.node-tools)
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh

MACHINE_TOOLS=${MACHINE_TOOLS:-true}
INSTALL_VENV=${INSTALL_VENV:-true}
VENV_DIR=${VENV_DIR:-$PWD/.venv}
NODE_TOOLS_DIR=${NODE_TOOLS_DIR:-$PWD/.node-tools}
[[ "$MACHINE_TOOLS" == true || "$MACHINE_TOOLS" == false ]] || {
    echo "install-deps: error: MACHINE_TOOLS must be true or false" >&2
    exit 64
}
[[ "$INSTALL_VENV" == true || "$INSTALL_VENV" == false ]] || {
    echo "install-deps: error: INSTALL_VENV must be true or false" >&2
    exit 64
}

mapfile -t packages < <(missing_packages all)
if ((${#packages[@]} > 0)); then
    if [[ "$(id -u)" != 0 ]]; then
        echo "install-deps: error: missing packages: ${packages[*]}; as root: apt-get install ${packages[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${packages[*]}"
    start=$SECONDS
    # A fresh machine may have no package lists at all: without them every package looks absent.
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    echo "install-deps: packages installed in $((SECONDS - start)) s"
fi

# The Debian package creates it; a machine with only the binaries may lack it.
if [[ "$(id -u)" == 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi

if [[ "$MACHINE_TOOLS" == true ]]; then
    require_tools build-release rustup
    grep -qx x86_64-unknown-linux-musl <<<"$(rustup target list --installed)" ||
        rustup target add x86_64-unknown-linux-musl
fi

if [[ "$INSTALL_VENV" == true ]]; then
    VENV_DIR=$VENV_DIR scripts/install-python-tools.sh
fi
# Node.js and npm are the machine's, like cargo: their tools come with MACHINE_TOOLS.
if [[ "$MACHINE_TOOLS" == true ]]; then
    NODE_TOOLS_DIR=$NODE_TOOLS_DIR scripts/install-node-tools.sh
fi

failed=0
while read -r cmd; do
    [[ "$MACHINE_TOOLS" == false && "$(package_of "$cmd")" == - ]] && continue
    check_version "$cmd" || failed=$((failed + 1))
done < <(tools_for all)
if [[ "$INSTALL_VENV" == true ]]; then
    check_venv "$VENV_DIR" || failed=$((failed + $?))
fi
if [[ "$MACHINE_TOOLS" == true ]]; then
    check_node_tools "$NODE_TOOLS_DIR" || failed=$((failed + $?))
fi
if ((failed > 0)); then
    echo "install-deps: error: $failed tool(s) missing or not answering (above)" >&2
    exit 1
fi
echo "install-deps: every tool answers"
