#!/usr/bin/env bash
# Boot test of the image recipe: the SAME provisioner scripts Packer runs (ami/scripts/) run in
# a minimal Debian bookworm root filesystem (debootstrap, cached), which then boots with systemd
# as PID 1 in systemd-nspawn, sharing the host's network. The checks inside the guest are
# scripts/lib/guest-checks.sh, the same ones scripts/test-boot-qemu.sh runs in its VM; run here
# in the container through nsenter, they show that systemd starts itemsd at boot and it reaches
# READY (Type=notify: active means READY=1 arrived), the migrations run, kill -9 is followed by
# a restart, `systemctl stop` drains and exits 0, and a bad config exits 64 and is not
# restarted. Between them the host checks /health against a throwaway PostgreSQL on the host
# (scripts/lib/guest-report.sh), and at the end that the container powers off.
#
# Runs as root (debootstrap, chroot, nspawn). Env (all optional):
#   ITEMSD_BINARY  static binary to install (default dist/x86_64-unknown-linux-musl/itemsd, from
#                  packaging/build-release.sh)
#   BOOT_CACHE     cache for the debootstrapped base, keyed by a hash of suite, packages and
#                  mirror, plus each run's scratch directory (default /var/cache/itemsd-boot;
#                  the postgres user must be able to reach it, so not under /root)
#   DEBIAN_MIRROR  (default http://deb.debian.org/debian)
#   BOOT_TIMEOUT   seconds to wait for each condition (default 60)
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
ITEMSD_BINARY=${ITEMSD_BINARY:-dist/x86_64-unknown-linux-musl/itemsd}
# Outside the repository by default: it survives clean clones (CI) and the repository's .tmp/
# being cleared by other scripts, which happened while this was written.
BOOT_CACHE=${BOOT_CACHE:-/var/cache/itemsd-boot}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-60}
SUITE=bookworm
# systemd as PID 1, plus what AL2023's base image has and the provisioner scripts use: curl and
# openssl (install-rds-ca.sh). Nothing else: the AMI installs no packages either.
PACKAGES=systemd,systemd-sysv,curl,openssl

die() {
    echo "test-boot: error: $*" >&2
    exit 1
}
log() { echo "test-boot: $*"; }

[[ "$(id -u)" == 0 ]] || die "must run as root (debootstrap, chroot and systemd-nspawn need it)"
[[ "$BOOT_TIMEOUT" =~ ^[0-9]+$ ]] || die "BOOT_TIMEOUT must be a number of seconds"
[[ -x "$ITEMSD_BINARY" ]] || die "ITEMSD_BINARY=$ITEMSD_BINARY is not an executable: run packaging/build-release.sh first"

# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh
require_tools boot debootstrap systemd-nspawn nsenter runuser curl openssl python3 initdb pg_ctl
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh
# shellcheck source=scripts/lib/provision.sh
source scripts/lib/provision.sh

# shellcheck source=scripts/lib/checks.sh
source scripts/lib/checks.sh
# shellcheck source=scripts/lib/guest-report.sh
source scripts/lib/guest-report.sh

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- the cached base root filesystem ---------------------------------------------------------
mkdir -p "$BOOT_CACHE"
chmod 0755 "$BOOT_CACHE"
# Absolute: PostgreSQL's socket directory and chroot paths must not depend on the cwd.
BOOT_CACHE=$(realpath "$BOOT_CACHE")
cache_key=$(printf '%s\n' "$SUITE" minbase "$PACKAGES" "$DEBIAN_MIRROR" | sha256sum | cut -c1-16)
base=$BOOT_CACHE/base-$cache_key
if [[ ! -f "$base/.complete" ]]; then
    log "debootstrap $SUITE ($PACKAGES) into $base (cached for later runs)"
    rm -rf "$base"
    start=$(date +%s)
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$base" "$DEBIAN_MIRROR" >"$BOOT_CACHE/debootstrap.log" 2>&1 || {
        tail -20 "$BOOT_CACHE/debootstrap.log" >&2
        die "debootstrap failed (log: $BOOT_CACHE/debootstrap.log)"
    }
    touch "$base/.complete"
    log "debootstrap took $(($(date +%s) - start)) s"
else
    log "using cached root filesystem $base"
fi

work=$(mktemp -d "$BOOT_CACHE/run.XXXXXX")
chmod 0755 "$work"
rootfs=$work/rootfs
pg_dir=$work/pg
machine=itemsd-boot-$$
nspawn_pid=
leader=
guest_checks_pid=

cleanup() {
    local status=$?
    # The guest's checks, if the run ended before they did.
    [[ -n "$guest_checks_pid" ]] && stop_guest_checks
    if [[ -n "$nspawn_pid" ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
        # nspawn turns SIGTERM into a clean shutdown of the container; SIGKILL if it hangs.
        kill -TERM "$nspawn_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$nspawn_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$nspawn_pid" 2>/dev/null; then
            [[ -n "$leader" ]] && kill -KILL "$leader" 2>/dev/null
            kill -KILL "$nspawn_pid" 2>/dev/null || true
        fi
        wait "$nspawn_pid" 2>/dev/null || true
    fi
    stop_cluster "$pg_dir"
    if ((status != 0)) && [[ -f "$work/console.log" ]]; then
        echo "--- last console lines ($work/console.log) ---" >&2
        tail -30 "$work/console.log" >&2
    fi
    # Keep the console log and PostgreSQL's log of a failed run; the copied root goes either way.
    if ((status == 0)); then
        rm -rf "$work"
    else
        rm -rf "$rootfs"
        echo "test-boot: logs kept in $work" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "copying the base into $rootfs"
cp -a "$base" "$rootfs"

# --- provision with the AMI's scripts ---------------------------------------------------------
provision_rootfs "$rootfs" "$ITEMSD_BINARY"
version=$("$ITEMSD_BINARY" --version | cut -d' ' -f2)
check "validate-image.sh passes in the provisioned root filesystem" \
    in_chroot "$rootfs" ITEMSD_VERSION="$version" /bin/bash -s <ami/scripts/validate-image.sh
install_guest_checks "$rootfs"

# --- what the user data would write: settings pointing at a PostgreSQL on the host ------------
pg_port=$(free_port)
app_port=$(free_port)
mkdir -p "$pg_dir"
start_cluster "$pg_dir" "$pg_port"
create_database "$pg_dir" "$pg_port" itemsd_boot
log "PostgreSQL on 127.0.0.1:$pg_port; itemsd will listen on 127.0.0.1:$app_port"
write_settings() {
    cat <<SETTINGS
# written by scripts/test-boot.sh
APPLICATION_PORT=$1
BIND_ADDRESS=127.0.0.1
DB_HOST=127.0.0.1
DB_PORT=$pg_port
DB_NAME=itemsd_boot
DB_USER=postgres
ENVIRONMENT=boot-test
# Short shutdown timeline: the test only needs to see the drain happen.
SHUTDOWN_DELAY_SECONDS=1
SHUTDOWN_TIMEOUT_SECONDS=5
SETTINGS
}
write_settings "$app_port" >"$rootfs/etc/itemsd/itemsd.env"
# What guest-checks puts in place for its last step.
write_settings notaport >"$rootfs/etc/itemsd/itemsd.env.bad"

# --- boot ---------------------------------------------------------------------------------------
# --register=no --keep-unit: no machined/D-Bus registration and no new scope (PID 1 here is not
# systemd). The console needs a pty: --console=read-only gives the container one and copies its
# output to our stdout (the log) without reading stdin. (Under script(1) with the default
# interactive console, nspawn did not exit after the container powered off.)
log "booting $rootfs with systemd-nspawn"
boot_start_ms=$(($(date +%s%N) / 1000000))
boot_start=$SECONDS
guest_report_begin
systemd-nspawn --quiet -D "$rootfs" -b --register=no --keep-unit --machine="$machine" \
    --console=read-only </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!
# For guest-report.sh's await.
await_timeout=$BOOT_TIMEOUT guest_process_pid=$nspawn_pid guest_kind=container

# The container's PID 1: the descendant of nspawn whose innermost PID is 1.
find_leader() {
    local pid queue=("$nspawn_pid") nspid
    while ((${#queue[@]} > 0)); do
        pid=${queue[0]}
        queue=("${queue[@]:1}")
        nspid=$(awk '/^NSpid:/ { print NF - 1, $NF }' "/proc/$pid/status" 2>/dev/null || true)
        if [[ "$nspid" == "2 1" ]]; then
            leader=$pid
            return 0
        fi
        mapfile -t -O "${#queue[@]}" queue < <(ps -o pid= --ppid "$pid" | tr -d ' ')
    done
    return 1
}
await "the container's PID 1" find_leader
guest() { nsenter -t "$leader" -a "$@"; }
system_up() {
    local state
    state=$(guest systemctl is-system-running 2>/dev/null || true)
    [[ "$state" == running || "$state" == degraded ]]
}
await "the container to reach multi-user (systemctl is-system-running)" system_up
log "container up $(($(date +%s%N) / 1000000 - boot_start_ms)) ms after nspawn started: $(guest systemctl is-system-running || true)"
if [[ "$(guest systemctl is-system-running || true)" == degraded ]]; then
    guest systemctl --failed --no-legend --plain >&2 || true
fi

# --- the guest's checks --------------------------------------------------------------------------
# Through nsenter into all of the container's namespaces, as the commands the checks run
# (systemctl, journalctl) need, with a clean environment. Not `systemd-run --wait --pipe`, which
# would make it a unit as under qemu: that needs the D-Bus system bus, which minbase has not
# (systemctl only needs systemd's private socket). The coprocess's pipes carry the report back
# and the answers to its HOST-TURNs in.
log "running $GUEST_CHECKS in the container (nsenter)"
coproc GUEST {
    exec nsenter -t "$leader" -a /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        CHECK_TIMEOUT="$BOOT_TIMEOUT" "$GUEST_CHECKS"
}
# Kills nsenter's child, the checks in the container; nsenter then exits with its status. Not
# nsenter: util-linux 2.38's has no --kill-child, and the child it left behind held up the
# container's poweroff here (systemd-shutdown "Waiting for process: (bash)", nsenter stopped).
stop_guest_checks() {
    local child
    for child in $(ps -o pid= --ppid "$guest_checks_pid"); do
        kill -KILL "$child" 2>/dev/null || true
    done
}
# Copies: bash drops GUEST and GUEST_PID when the coprocess exits, which it may before the last
# lines are read.
guest_checks_pid=$GUEST_PID
exec {guest_out}<&"${GUEST[0]}" {guest_in}>&"${GUEST[1]}"
# In a subshell: if the guest's side has gone, the write's SIGPIPE ends only the subshell.
guest_answer() { (printf 'go\n' >&"$guest_in") 2>/dev/null || log "the guest's checks no longer read answers" >&2; }
# The longest the guest can stay silent: an awaited condition (BOOT_TIMEOUT), or systemctl stop
# (bounded by the unit's TimeoutStopSec=90s), plus some slack.
silence=$((BOOT_TIMEOUT + 100))
while true; do
    status=0
    IFS= read -r -t "$silence" -u "$guest_out" line || status=$?
    # read: 1 at the end of the output (the guest's side exited), above 128 on the timeout.
    if ((status > 128)); then
        log "no report from the guest for ${silence}s: stopping its checks" >&2
        stop_guest_checks
        break
    fi
    ((status == 0)) || break
    guest_report_line "$line"
done
guest_checks_status=0
wait "$guest_checks_pid" || guest_checks_status=$?
guest_checks_pid=
exec {guest_out}<&- {guest_in}>&-
log "guest checks ended $((SECONDS - boot_start)) s after nspawn started (exit status $guest_checks_status)"
guest_report_finish

# --- shut the container down --------------------------------------------------------------------
guest systemctl poweroff --no-block >/dev/null 2>&1 || true
poweroff_deadline=$((SECONDS + BOOT_TIMEOUT))
while kill -0 "$nspawn_pid" 2>/dev/null && ((SECONDS < poweroff_deadline)); do
    sleep 0.2
done
if kill -0 "$nspawn_pid" 2>/dev/null; then
    echo "FAIL container did not power off within ${BOOT_TIMEOUT}s" >&2
    failed=$((failed + 1))
else
    nspawn_pid=
    echo "ok   container powered off"
    passed=$((passed + 1))
fi

checks_summary boot
