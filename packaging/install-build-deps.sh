#!/usr/bin/env bash
# Installs what packaging/build-release.sh needs for the x86_64 musl build on Debian, and
# nothing already there: musl-tools (musl-gcc, for C code in dependencies such as ring),
# binutils (readelf, objcopy, strip) and the Rust target. Safe to run again; packages need root.
# For aarch64 see packaging/install-cross-tools.sh.
set -o errexit -o nounset -o pipefail

missing=()
command -v musl-gcc >/dev/null || missing+=(musl-tools)
command -v readelf >/dev/null && command -v objcopy >/dev/null && command -v strip >/dev/null || missing+=(binutils)
if ((${#missing[@]} > 0)); then
    if [[ "$(id -u)" != 0 ]]; then
        echo "install-build-deps: error: missing ${missing[*]}: apt-get install ${missing[*]} (as root)" >&2
        exit 1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v rustup >/dev/null || {
    echo "install-build-deps: error: rustup not found" >&2
    exit 1
}
rustup target list --installed | grep -qx x86_64-unknown-linux-musl || rustup target add x86_64-unknown-linux-musl
echo "install-build-deps: ready"
