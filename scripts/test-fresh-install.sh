#!/usr/bin/env bash
# Proves the fresh-machine promise of the README: scripts/install-deps.sh, run as root inside a
# freshly bootstrapped Debian root filesystem (debootstrap minbase: none of the project's tools),
# must install every tool scripts/lib/tools.sh lists and leave each one answering its version
# (the venv's moto, AWS CLI, checkov and schemathesis too). Then it checks the list itself: every
# tool that a script of the test command checks for with `command -v` must be listed, so a step
# cannot come to depend on a tool that nothing installs. What the machine brings (the Rust
# toolchain, terraform) is not Debian's to install and is checked on the host by install-deps.
#
# Inputs (environment): BOOT_CACHE (default /var/cache/itemsd-boot: the cached minbase root,
# copied afresh for every run), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
BOOT_CACHE=${BOOT_CACHE:-/var/cache/itemsd-boot}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The suite the boot tests and the machines here use.
SUITE=bookworm

die() {
    echo "test-fresh-install: error: $*" >&2
    exit 1
}
log() { echo "test-fresh-install: $*"; }

[[ "$(id -u)" == 0 ]] || die "must run as root (debootstrap and chroot need it)"
# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh
require_tools fresh-install debootstrap

# shellcheck source=scripts/lib/checks.sh
source scripts/lib/checks.sh

# 1. The list covers what the scripts of the test command look for on this machine. Left out:
#    the aarch64 cross tools and the benchmarks (not in the test command), and ami/scripts
#    (they run inside the image, whose tools are the image's).
unlisted=()
mapfile -t scripts < <(git ls-files 'scripts/*.sh' 'scripts/lib/*.sh' 'packaging/*.sh' .ci/run |
    grep -v '^packaging/install-cross-tools.sh$')
while read -r cmd; do
    package_of "$cmd" >/dev/null || grep -qx -- "$cmd" <<<"$(printf '%s\n' "${OUTSIDE_TEST_COMMAND[@]}")" ||
        unlisted+=("$cmd")
done < <(grep -ohE 'command -v [A-Za-z0-9._+-]+' "${scripts[@]}" | awk '{print $3}' | sort -u)
list_is_complete() {
    ((${#unlisted[@]} == 0)) || echo "    not in scripts/lib/tools.sh: ${unlisted[*]}" >&2
    ((${#unlisted[@]} == 0))
}
check "every tool a script checks for is in scripts/lib/tools.sh" list_is_complete

# 2. A fresh root, copied from a cached minbase debootstrap.
mkdir -p "$BOOT_CACHE"
BOOT_CACHE=$(realpath "$BOOT_CACHE")
cache_key=$(printf '%s\n' "$SUITE" minbase-only "$DEBIAN_MIRROR" | sha256sum | cut -c1-16)
base=$BOOT_CACHE/fresh-$cache_key
if [[ ! -f "$base/.complete" ]]; then
    log "debootstrap $SUITE minbase into $base (cached for later runs)"
    rm -rf "$base"
    start=$SECONDS
    debootstrap --variant=minbase "$SUITE" "$base" "$DEBIAN_MIRROR" >"$BOOT_CACHE/fresh-debootstrap.log" 2>&1 || {
        tail -20 "$BOOT_CACHE/fresh-debootstrap.log" >&2
        die "debootstrap failed (log: $BOOT_CACHE/fresh-debootstrap.log)"
    }
    touch "$base/.complete"
    log "debootstrap took $((SECONDS - start)) s"
fi

work=$(mktemp -d "$BOOT_CACHE/fresh-run.XXXXXX")
rootfs=$work/rootfs
mounted=()
cleanup() {
    local status=$? i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -l "${mounted[$i]}" 2>/dev/null || true
    done
    rm -rf --one-file-system "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp -a "$base" "$rootfs"
for fs in proc sys dev; do
    mount --rbind "/$fs" "$rootfs/$fs"
    mounted+=("$rootfs/$fs")
done
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# The machine's own network setup, which is not a tool: the CA bundle its HTTPS is verified
# with (on these machines that includes the CA of the proxy that reaches PyPI) and any package
# index or proxy settings; a fresh machine here has them before anything is installed.
trust=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
pass_env=()
if [[ -f "$trust" ]]; then
    cp "$trust" "$rootfs/etc/host-ca-bundle.pem"
    pass_env+=(PIP_CERT=/etc/host-ca-bundle.pem)
fi
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL HTTPS_PROXY HTTP_PROXY https_proxy http_proxy NO_PROXY no_proxy; do
    [[ -z "${!var:-}" ]] || pass_env+=("$var=${!var}")
done
# Packages' maintainer scripts must not start services (PostgreSQL, HAProxy) in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
# Nothing of this project is there yet: only the installer and the lists it reads.
mkdir -p "$rootfs/src"
git ls-files -z scripts requirements-dev.txt | xargs -0 cp --parents -t "$rootfs/src"

log "running scripts/install-deps.sh in the fresh root (MACHINE_TOOLS=false)"
start=$SECONDS
in_root() {
    chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        MACHINE_TOOLS=false "${pass_env[@]}" "$@"
}
if in_root /bin/bash /src/scripts/install-deps.sh >"$work/install.log" 2>&1; then
    install_ok=true
else
    install_ok=false
fi
log "install-deps took $((SECONDS - start)) s in the fresh root"
sed 's/^/    | /' "$work/install.log"
check "install-deps installs every listed tool in a fresh $SUITE root and each answers" "$install_ok"

# 3. The check can fail: with a listed package removed again, install-deps' check must name it.
if [[ "$install_ok" == true ]]; then
    in_root dpkg --remove --force-depends haproxy >/dev/null 2>&1
    removed_noticed=true
    if in_root /bin/bash -c 'source /src/scripts/lib/tools.sh && check_version haproxy' >"$work/removed.log" 2>&1; then
        removed_noticed=false
    fi
    check "a tool removed again is reported missing ($(tr -s ' ' <"$work/removed.log"))" "$removed_noticed"
fi

checks_summary test-fresh-install
