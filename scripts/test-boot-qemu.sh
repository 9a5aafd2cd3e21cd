#!/usr/bin/env bash
# Full-VM boot test of the image recipe: like scripts/test-boot.sh, but the provisioned Debian
# bookworm root filesystem (with Debian's kernel) becomes an ext4 disk image (mkfs.ext4 -d)
# booted by qemu-system-x86_64 under TCG (KVM is unusable here): a real kernel and a real
# systemd boot, as on EC2. The guest has no SSH: a test-only oneshot unit (guest-checks.service,
# added after validate-image.sh, not part of the image) runs scripts/lib/guest-checks.sh, the
# same checks scripts/test-boot.sh runs in its container, with its report on the serial console
# (ttyS0) and the host's answers to its HOST-TURNs on a second serial port (ttyS1, a unix socket
# here); in its turns the host checks /health through a forwarded port
# (scripts/lib/guest-report.sh). The guest reaches the host's throwaway PostgreSQL at 10.0.2.2
# (qemu user networking's alias for the host's loopback), and powers off after its checks.
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
# Seconds for each awaited condition, in the guest and in the host's turns: a step takes seconds
# even under TCG; the boot itself is BOOT_TIMEOUT's.
check_timeout=60
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
# shellcheck source=scripts/lib/checks.sh
source scripts/lib/checks.sh
# shellcheck source=scripts/lib/guest-report.sh
source scripts/lib/guest-report.sh

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
check "validate-image.sh passes in the provisioned root filesystem" \
    in_chroot "$rootfs" ITEMSD_VERSION="$version" /bin/bash -s <ami/scripts/validate-image.sh
install_guest_checks "$rootfs"

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

# --- the guest's checks (test-only; not part of the image) ---------------------------------------
# Started once the boot reaches multi-user, as the host's `systemctl is-system-running` wait does
# under nspawn. Report on ttyS0 (the console), answers from ttyS1, kept open for the whole run so
# that no answer arrives while nothing reads the port. Powers the guest off however the checks
# end, so that the host sees the end.
cat >"$rootfs/etc/systemd/system/guest-checks.service" <<UNIT
[Unit]
Description=itemsd boot test checks (test-only)
After=itemsd.service multi-user.target
[Service]
Type=oneshot
ExecStart=$GUEST_CHECKS
Environment=CHECK_TIMEOUT=$check_timeout
StandardInput=file:/dev/ttyS1
StandardOutput=file:/dev/ttyS0
StandardError=inherit
ExecStopPost=/usr/bin/systemctl poweroff --no-block
[Install]
WantedBy=multi-user.target
UNIT
in_chroot "$rootfs" systemctl enable guest-checks.service >/dev/null 2>&1
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
guest_report_begin
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
# For guest-report.sh's await.
await_timeout=$check_timeout guest_process_pid=$qemu_pid guest_kind=VM
guest_answer() {
    python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"go\n"); s.close()' "$work/ctl.sock" ||
        log "could not answer the guest on $work/ctl.sock" >&2
}

# The console log grows as the guest writes; each pass reads the report lines it has not seen.
seen=0
read_console() {
    local lines
    [[ -f "$work/console.log" ]] || return 0
    mapfile -t lines < <(tr -d '\r' <"$work/console.log" | grep -aoE "$GUEST_REPORT_PATTERN" || true)
    while ((seen < ${#lines[@]})); do
        guest_report_line "${lines[$seen]}"
        seen=$((seen + 1))
    done
}
deadline=$((SECONDS + BOOT_TIMEOUT))
while true; do
    # Whether qemu runs, asked before the read: once it has exited, that read saw its last line.
    qemu_runs=true
    kill -0 "$qemu_pid" 2>/dev/null || qemu_runs=false
    read_console
    if [[ -n "$guest_done" ]] || ! $qemu_runs || ((SECONDS >= deadline)); then
        break
    fi
    sleep 0.5
done
if [[ -z "$guest_done" ]]; then
    if $qemu_runs; then
        log "the guest did not finish its checks within ${BOOT_TIMEOUT}s" >&2
    else
        log "qemu exited before the guest finished its checks (see $work/console.log)" >&2
    fi
fi
log "guest checks ended $((SECONDS - boot_start)) s after qemu started"
guest_report_finish
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
checks_summary boot-qemu
