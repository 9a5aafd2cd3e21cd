#!/usr/bin/env bash
# Boot test of the image recipe: the SAME provisioner scripts Packer runs (ami/scripts/) run in
# a minimal Debian bookworm root filesystem (debootstrap, cached), which then boots with systemd
# as PID 1 in systemd-nspawn, sharing the host's network. Shows that systemd starts itemsd at
# boot and it reaches READY (Type=notify: active means READY=1 arrived); /health answers from
# the host against a throwaway PostgreSQL on the host; kill -9 is followed by a restart;
# `systemctl stop` drains and exits 0; a bad config exits 64 and is not restarted.
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

cleanup() {
    local status=$?
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

# --- what the user data would write: settings pointing at a PostgreSQL on the host ------------
pg_port=$(free_port)
app_port=$(free_port)
mkdir -p "$pg_dir"
start_cluster "$pg_dir" "$pg_port"
create_database "$pg_dir" "$pg_port" itemsd_boot
log "PostgreSQL on 127.0.0.1:$pg_port; itemsd will listen on 127.0.0.1:$app_port"
write_settings() {
    cat >"$rootfs/etc/itemsd/itemsd.env" <<SETTINGS
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
write_settings "$app_port"

# --- boot ---------------------------------------------------------------------------------------
# --register=no --keep-unit: no machined/D-Bus registration and no new scope (PID 1 here is not
# systemd). The console needs a pty: --console=read-only gives the container one and copies its
# output to our stdout (the log) without reading stdin. (Under script(1) with the default
# interactive console, nspawn did not exit after the container powered off.)
log "booting $rootfs with systemd-nspawn"
boot_start_ms=$(($(date +%s%N) / 1000000))
systemd-nspawn --quiet -D "$rootfs" -b --register=no --keep-unit --machine="$machine" \
    --console=read-only </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!

# await DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it succeeds or BOOT_TIMEOUT passes.
await() {
    local description=$1 deadline=$((SECONDS + BOOT_TIMEOUT))
    shift
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "test-boot: timed out after ${BOOT_TIMEOUT}s waiting for: $description" >&2
            return 1
        fi
        if ! kill -0 "$nspawn_pid" 2>/dev/null; then
            echo "test-boot: the container exited while waiting for: $description" >&2
            return 1
        fi
        sleep 0.2
    done
}

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

prop() { guest systemctl show itemsd.service -p "$1" --value; }
unit_is() {
    local want_active=$1 want_sub=$2
    [[ "$(prop ActiveState)" == "$want_active" && "$(prop SubState)" == "$want_sub" ]]
}
health_ok() {
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$app_port/health")" == 200 ]]
}
journal_has() {
    grep -q -- "$1" <<<"$(guest journalctl -u itemsd.service --no-pager -o cat)"
}
show() { guest systemctl show itemsd.service -p "$1" | tr '\n' ' '; }

# 1. started at boot and READY: with Type=notify, active/running means READY=1 arrived.
check "itemsd started at boot and reached READY (active/running)" await "itemsd active/running" unit_is active running
check "journal: itemsd listening" journal_has "itemsd listening"
migrated() {
    [[ "$(guest systemctl show itemsd-migrate.service -p Result --value)" == success ]] &&
        grep -q -- "schema" <<<"$(guest journalctl -u itemsd-migrate.service --no-pager -o cat)"
}
check "itemsd-migrate.service ran at boot and applied the schema" await "itemsd-migrate Result=success" migrated
log "$(show ActiveState,SubState,MainPID,NRestarts)"

# 2. /health from the host, the database reachable from the guest.
check "/health answers 200 from the host" await "/health 200" health_ok
health_body=$(curl -s --max-time 2 "http://127.0.0.1:$app_port/health" || true)
log "/health: $health_body"
database_up() { grep -q '"database": *"ok"' <<<"$(curl -s --max-time 2 "http://127.0.0.1:$app_port/health")"; }
check "/health reports the database up (guest reaches PostgreSQL on the host)" await "database up" database_up

# 3. kill -9 is followed by a restart.
old_pid=$(prop MainPID)
old_restarts=$(prop NRestarts)
# bash's kill builtin: minbase has no procps, and systemctl kill would tell systemd who did it.
# shellcheck disable=SC2016 # $1 expands in the guest shell
guest /bin/bash -c 'kill -KILL "$1"' kill "$old_pid"
restarted() {
    (($(prop NRestarts) > old_restarts)) && [[ "$(prop MainPID)" != "$old_pid" ]] && unit_is active running
}
check "kill -9 of the main PID ($old_pid) is followed by a restart" await "NRestarts > $old_restarts" restarted
log "$(show ActiveState,SubState,MainPID,NRestarts)"
check "/health answers 200 again after the restart" await "/health 200" health_ok

# 4. systemctl stop drains and exits 0.
stop_start=$SECONDS
guest systemctl stop itemsd.service
log "systemctl stop took $((SECONDS - stop_start)) s; $(show ActiveState,Result,ExecMainCode,ExecMainStatus)"
stopped_cleanly() {
    [[ "$(prop ActiveState)" == inactive && "$(prop Result)" == success && "$(prop ExecMainStatus)" == 0 ]]
}
check "systemctl stop: inactive, Result=success, ExecMainStatus=0" stopped_cleanly
check "journal: draining started" journal_has "draining: /health now answers 503"
check "journal: itemsd stopped" journal_has "itemsd stopped"

# 5. A bad config exits 64 and is not restarted.
write_settings notaport
guest systemctl reset-failed itemsd.service 2>/dev/null || true
guest systemctl start itemsd.service 2>/dev/null && log "warning: systemctl start succeeded with a bad config" >&2
config_failed() {
    [[ "$(prop ActiveState)" == failed && "$(prop Result)" == exit-code && "$(prop ExecMainStatus)" == 64 ]]
}
check "bad config: failed, Result=exit-code, ExecMainStatus=64" await "itemsd failed with 64" config_failed
restarts_after_failure=$(prop NRestarts)
# Not restarted: the unit stays failed, with NRestarts unchanged, for three times RestartSec.
restart_sec=$(guest systemctl show itemsd.service -p RestartUSec --value)
observe=6
log "watching for ${observe}s (3 x RestartSec=$restart_sec) that systemd does not restart it"
stays_failed() {
    local until=$((SECONDS + observe))
    while ((SECONDS < until)); do
        config_failed && [[ "$(prop NRestarts)" == "$restarts_after_failure" ]] || return 1
        sleep 0.5
    done
}
check "bad config: not restarted (NRestarts stays $restarts_after_failure, still failed)" stays_failed
check "journal: names the invalid variable" journal_has "invalid configuration: APPLICATION_PORT"

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
