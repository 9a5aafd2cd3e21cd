#!/usr/bin/env bash
# Full-VM boot test of the image recipe: like scripts/test-boot.sh, but the provisioned Debian
# bookworm root filesystem (with Debian's kernel) becomes an ext4 disk image (mkfs.ext4 -d)
# booted by qemu-system-x86_64 under TCG (KVM is unusable here): a real kernel and a real
# systemd boot, as on EC2. The guest has no SSH: a test-only oneshot unit (boot-check, added
# after the provisioner scripts ran, not part of the image) runs the checks inside the guest and
# reports on the serial console (ttyS0); it waits on a second serial port (ttyS1, a unix socket
# here) while the host checks /health through a forwarded port. The guest reaches the host's
# throwaway PostgreSQL at 10.0.2.2 (qemu user networking's alias for the host's loopback).
#
# Runs as root. Env (all optional):
#   ITEMSD_BINARY  (default dist/x86_64-unknown-linux-musl/itemsd)
#   BOOT_CACHE     (default /var/cache/itemsd-boot; see scripts/test-boot.sh)
#   DEBIAN_MIRROR  (default http://deb.debian.org/debian)
#   BOOT_TIMEOUT   seconds allowed for the guest to boot and finish its checks (default 300)
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
ITEMSD_BINARY=${ITEMSD_BINARY:-dist/x86_64-unknown-linux-musl/itemsd}
# Outside the repository by default: it survives clean clones (CI) and the repository's .tmp/
# being cleared by other scripts, which happened while this was written.
BOOT_CACHE=${BOOT_CACHE:-/var/cache/itemsd-boot}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}
SUITE=bookworm
# curl and openssl: as AL2023's base image has them, for install-rds-ca.sh (see scripts/test-boot.sh).
PACKAGES=systemd,systemd-sysv,curl,openssl,linux-image-amd64,initramfs-tools

die() {
    echo "test-boot-qemu: error: $*" >&2
    exit 1
}
log() { echo "test-boot-qemu: $*"; }

[[ "$(id -u)" == 0 ]] || die "must run as root (debootstrap and chroot need it)"
[[ "$BOOT_TIMEOUT" =~ ^[0-9]+$ ]] || die "BOOT_TIMEOUT must be a number of seconds"
[[ -x "$ITEMSD_BINARY" ]] || die "ITEMSD_BINARY=$ITEMSD_BINARY is not an executable: run packaging/build-release.sh first"

# shellcheck source=scripts/lib/tools.sh
source scripts/lib/tools.sh
require_tools boot-qemu debootstrap qemu-system-x86_64 mkfs.ext4 curl openssl python3 runuser initdb pg_ctl
# shellcheck source=scripts/lib/postgres.sh
source scripts/lib/postgres.sh
# shellcheck source=scripts/lib/provision.sh
source scripts/lib/provision.sh

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

mkdir -p "$BOOT_CACHE"
chmod 0755 "$BOOT_CACHE"
BOOT_CACHE=$(realpath "$BOOT_CACHE")
cache_key=$(printf '%s\n' "$SUITE" minbase "$PACKAGES" "$DEBIAN_MIRROR" | sha256sum | cut -c1-16)
base=$BOOT_CACHE/base-$cache_key
if [[ ! -f "$base/.complete" ]]; then
    log "debootstrap $SUITE ($PACKAGES) into $base (cached for later runs)"
    rm -rf "$base"
    start=$SECONDS
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$base" "$DEBIAN_MIRROR" >"$BOOT_CACHE/debootstrap-qemu.log" 2>&1 || {
        tail -20 "$BOOT_CACHE/debootstrap-qemu.log" >&2
        die "debootstrap failed (log: $BOOT_CACHE/debootstrap-qemu.log)"
    }
    [[ -e "$base/vmlinuz" && -e "$base/initrd.img" ]] || die "no kernel/initrd in $base (see $BOOT_CACHE/debootstrap-qemu.log)"
    touch "$base/.complete"
    log "debootstrap took $((SECONDS - start)) s"
else
    log "using cached root filesystem $base"
fi

work=$(mktemp -d "$BOOT_CACHE/qemu.XXXXXX")
chmod 0755 "$work"
rootfs=$work/rootfs
pg_dir=$work/pg
qemu_pid=

cleanup() {
    local status=$?
    if [[ -n "$qemu_pid" ]] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill -TERM "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    stop_cluster "$pg_dir"
    if ((status == 0)); then
        rm -rf "$work"
    else
        rm -rf "$rootfs" "$work/disk.img"
        [[ -f "$work/console.log" ]] && tail -40 "$work/console.log" >&2
        echo "test-boot-qemu: logs kept in $work" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp -a "$base" "$rootfs"

# --- provision with the AMI's scripts, exactly as scripts/test-boot.sh does --------------------
provision_rootfs "$rootfs" "$ITEMSD_BINARY"
version=$("$ITEMSD_BINARY" --version | cut -d' ' -f2)
in_chroot "$rootfs" ITEMSD_VERSION="$version" /bin/bash -s <ami/scripts/validate-image.sh

# --- what EC2 would provide: a network and the user data's settings ----------------------------
pg_port=$(free_port)
app_port=$(free_port)
mkdir -p "$pg_dir"
start_cluster "$pg_dir" "$pg_port"
create_database "$pg_dir" "$pg_port" itemsd_boot
log "PostgreSQL on 127.0.0.1:$pg_port (10.0.2.2 in the guest); /health forwarded from 127.0.0.1:$app_port"

# qemu user networking: static 10.0.2.15/24, the host is 10.0.2.2.
mkdir -p "$rootfs/etc/systemd/network"
cat >"$rootfs/etc/systemd/network/10-qemu.network" <<'NETWORK'
[Match]
Name=en* eth*
[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
NETWORK
in_chroot "$rootfs" systemctl enable systemd-networkd.service systemd-networkd-wait-online.service >/dev/null 2>&1
echo itemsd-qemu >"$rootfs/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$rootfs/etc/fstab"

write_settings() {
    cat <<SETTINGS
APPLICATION_PORT=$1
DB_HOST=10.0.2.2
DB_PORT=$pg_port
DB_NAME=itemsd_boot
DB_USER=postgres
ENVIRONMENT=boot-test-qemu
SHUTDOWN_DELAY_SECONDS=1
SHUTDOWN_TIMEOUT_SECONDS=5
SETTINGS
}
write_settings 5001 >"$rootfs/etc/itemsd/itemsd.env"
write_settings notaport >"$rootfs/etc/itemsd/itemsd.env.bad"

# --- the guest side of the test (test-only; not part of the image) ------------------------------
cat >"$rootfs/usr/local/sbin/boot-check" <<'CHECK'
#!/bin/bash
# Reports "CHECK ok|FAIL <name>" lines on the console; "HOST-TURN" waits for the host.
set -o nounset -o pipefail
exec >/dev/ttyS0 2>&1
echo "INFO guest uptime at boot-check start: $(cut -d' ' -f1 /proc/uptime) s (multi-user reached)"
prop() { systemctl show itemsd.service -p "$1" --value; }
# Each report starts on a new line: kernel messages may share the console.
check() { local name=$1; shift; if "$@"; then printf '\nCHECK ok %s\n' "$name"; else printf '\nCHECK FAIL %s\n' "$name"; fi; }
await() { local deadline=$((SECONDS + 60)); until "$@"; do ((SECONDS < deadline)) || return 1; sleep 0.5; done; }
host_turn() { printf '\nHOST-TURN %s\n' "$1"; read -r -t 120 _ </dev/ttyS1; }
running() { [[ "$(prop ActiveState)/$(prop SubState)" == active/running ]]; }
check "itemsd started at boot and reached READY (active/running)" await running
check "journal: itemsd listening" bash -c 'grep -q "itemsd listening" <<<"$(journalctl -u itemsd -o cat)"'
host_turn health
old_pid=$(prop MainPID); old_restarts=$(prop NRestarts)
kill -KILL "$old_pid"
restarted() { (($(prop NRestarts) > old_restarts)) && [[ "$(prop MainPID)" != "$old_pid" ]] && running; }
check "kill -9 of the main PID is followed by a restart" await restarted
host_turn health-after-restart
systemctl stop itemsd.service
echo "INFO $(systemctl show itemsd -p ActiveState,Result,ExecMainStatus | tr '\n' ' ')"
stopped() { [[ "$(prop ActiveState) $(prop Result) $(prop ExecMainStatus)" == "inactive success 0" ]]; }
check "systemctl stop: inactive, Result=success, ExecMainStatus=0" stopped
check "journal: itemsd stopped" bash -c 'grep -q "itemsd stopped" <<<"$(journalctl -u itemsd -o cat)"'
mv /etc/itemsd/itemsd.env.bad /etc/itemsd/itemsd.env
systemctl start itemsd.service
failed64() { [[ "$(prop ActiveState) $(prop Result) $(prop ExecMainStatus)" == "failed exit-code 64" ]]; }
check "bad config: failed, Result=exit-code, ExecMainStatus=64" await failed64
restarts=$(prop NRestarts)
stays() { local until=$((SECONDS + 6)); while ((SECONDS < until)); do failed64 && [[ "$(prop NRestarts)" == "$restarts" ]] || return 1; sleep 0.5; done; }
check "bad config: not restarted for 3 x RestartSec" stays
echo "BOOT-CHECK-DONE"
systemctl poweroff --no-block
CHECK
chmod 0755 "$rootfs/usr/local/sbin/boot-check"
cat >"$rootfs/etc/systemd/system/boot-check.service" <<'UNIT'
[Unit]
Description=itemsd boot test (test-only)
After=itemsd.service multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/boot-check
[Install]
WantedBy=multi-user.target
UNIT
in_chroot "$rootfs" systemctl enable boot-check.service >/dev/null 2>&1
# No login prompt on the console the checks report on.
in_chroot "$rootfs" systemctl mask serial-getty@ttyS0.service >/dev/null 2>&1

# --- disk image and boot ---------------------------------------------------------------------
kernel=$(readlink -f "$rootfs/vmlinuz")
initrd=$(readlink -f "$rootfs/initrd.img")
cp "$kernel" "$work/vmlinuz"
cp "$initrd" "$work/initrd.img"
mkfs.ext4 -q -F -L root -d "$rootfs" "$work/disk.img" 2G
rm -rf "$rootfs"

log "booting under qemu (TCG)"
boot_start=$SECONDS
qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
    -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 panic=-1 quiet systemd.show_status=0" \
    -drive "file=$work/disk.img,format=raw,if=virtio" \
    -netdev "user,id=net0,restrict=off,hostfwd=tcp:127.0.0.1:$app_port-:5001" \
    -device virtio-net-pci,netdev=net0 \
    -serial "file:$work/console.log" \
    -chardev "socket,id=ctl,path=$work/ctl.sock,server=on,wait=off" -serial chardev:ctl \
    -monitor none -display none </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!

passed=0
failed=0
host_check() {
    local name=$1
    shift
    if "$@"; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name" >&2
        failed=$((failed + 1))
    fi
}
health_ok() {
    local deadline=$((SECONDS + 60))
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$app_port/health")" == 200 ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}
database_ok() { grep -q '"database": *"ok"' <<<"$(curl -s --max-time 2 "http://127.0.0.1:$app_port/health")"; }
send_go() {
    python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"go\n"); s.close()' "$work/ctl.sock"
}

deadline=$((SECONDS + BOOT_TIMEOUT))
seen=0
done_marker=false
while ((SECONDS < deadline)); do
    kill -0 "$qemu_pid" 2>/dev/null || break
    [[ -f "$work/console.log" ]] || {
        sleep 0.5
        continue
    }
    mapfile -t lines < <(tr -d '\r' <"$work/console.log" 2>/dev/null | grep -aoE '(CHECK (ok|FAIL) |HOST-TURN |INFO |BOOT-CHECK-DONE).*' || true)
    while ((seen < ${#lines[@]})); do
        line=${lines[$seen]}
        seen=$((seen + 1))
        case "$line" in
        "CHECK ok "*) echo "ok   ${line#CHECK ok } (guest, $((SECONDS - boot_start)) s)" && passed=$((passed + 1)) ;;
        "CHECK FAIL "*) echo "FAIL ${line#CHECK FAIL } (guest)" >&2 && failed=$((failed + 1)) ;;
        "INFO "*) log "${line#INFO }" ;;
        "HOST-TURN health")
            host_check "/health answers 200 from the host (through hostfwd)" health_ok
            host_check "/health reports the database ok (guest reaches PostgreSQL on the host)" database_ok
            send_go
            ;;
        "HOST-TURN health-after-restart")
            host_check "/health answers 200 again after the restart" health_ok
            send_go
            ;;
        BOOT-CHECK-DONE) done_marker=true ;;
        esac
    done
    $done_marker && break
    sleep 0.5
done
$done_marker || {
    echo "FAIL the guest did not finish its checks within ${BOOT_TIMEOUT}s" >&2
    failed=$((failed + 1))
}
log "guest checks finished $((SECONDS - boot_start)) s after qemu started"
# The guest powers itself off after its checks.
off_deadline=$((SECONDS + 60))
while kill -0 "$qemu_pid" 2>/dev/null && ((SECONDS < off_deadline)); do sleep 0.5; done
if kill -0 "$qemu_pid" 2>/dev/null; then
    echo "FAIL the guest did not power off within 60 s" >&2
    failed=$((failed + 1))
else
    qemu_pid=
    echo "ok   the guest powered off"
    passed=$((passed + 1))
fi
echo "boot-qemu: $passed passed, $failed failed"
((failed == 0))
