#!/usr/bin/env bash
# Installs what `TARGET=aarch64-unknown-linux-musl packaging/build-release.sh` needs on Debian:
# zig and cargo-zigbuild from PyPI (in a venv of their own), the Rust target, binutils for
# aarch64 (objcopy/strip) and qemu-user-static (to run the built binary's --version).
# Then: PATH="$CROSS_VENV/bin:$PATH" TARGET=aarch64-unknown-linux-musl packaging/build-release.sh
#
# Env: CROSS_VENV (default $HOME/.cache/itemsd-cross-venv). Debian packages need root.
set -o errexit -o nounset -o pipefail

CROSS_VENV=${CROSS_VENV:-$HOME/.cache/itemsd-cross-venv}
# Versions this was tested with.
readonly ZIGLANG_VERSION=0.17.1 CARGO_ZIGBUILD_VERSION=0.24.1

command -v python3 >/dev/null || {
    echo "install-cross-tools: error: python3 not found" >&2
    exit 1
}
command -v rustup >/dev/null || {
    echo "install-cross-tools: error: rustup not found" >&2
    exit 1
}

missing=()
command -v aarch64-linux-gnu-objcopy >/dev/null || missing+=(binutils-aarch64-linux-gnu)
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
if ((${#missing[@]} > 0)); then
    if [[ "$(id -u)" != 0 ]]; then
        echo "install-cross-tools: error: missing ${missing[*]}: apt-get install ${missing[*]} (as root)" >&2
        exit 1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[[ -x "$CROSS_VENV/bin/python3" ]] || python3 -m venv "$CROSS_VENV"
"$CROSS_VENV/bin/pip" install -q "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
grep -qx aarch64-unknown-linux-musl <<<"$(rustup target list --installed)" || rustup target add aarch64-unknown-linux-musl
echo "install-cross-tools: ready; PATH=\"$CROSS_VENV/bin:\$PATH\" TARGET=aarch64-unknown-linux-musl packaging/build-release.sh"
