#!/usr/bin/env bash
# The in-guest checks of both boot tests, kept once so that the two cannot drift apart:
# scripts/test-boot.sh runs this inside the systemd-nspawn container (through nsenter) and
# scripts/test-boot-qemu.sh inside the qemu VM (a oneshot unit on the serial ports). Each host
# installs it as /usr/local/sbin/guest-checks after validate-image.sh (it is test-only, not part
# of the image); scripts/lib/guest-report.sh is the host's half: it counts the reports, makes
# the checks only the host can make, and answers the turns.
#
# Checks, as root in a booted guest: itemsd started at boot and reached READY, the migrations
# ran, kill -9 is followed by a restart, `systemctl stop` drains and exits 0, a bad config exits
# 64 and is not restarted; with the journal lines that go with each.
#
# Reports on stdout, one per line, each after an empty line because under qemu the kernel
# writes to the same console and may leave a line unfinished:
#   CHECK ok NAME | CHECK FAIL NAME    one per check
#   INFO TEXT                          for the host's log
#   HOST-TURN NAME                     then waits for a line on stdin: the host's checks go here
#   GUEST-CHECKS-DONE P passed, F failed
# The last one only when every step ran; the host fails the run without it, and if its counts
# differ from the reports it read (a lost console line).
#
# Env (all optional):
#   CHECK_TIMEOUT  seconds to wait for each condition (default 60)
#   BAD_SETTINGS   an itemsd.env with APPLICATION_PORT=notaport, put in place for the last step
#                  (default /etc/itemsd/itemsd.env.bad; the host writes it)
# Exit status 0 when every check passed, 1 when one failed; when a step could not run, non-zero
# before GUEST-CHECKS-DONE, with an INFO line saying where.
set -o errexit -o nounset -o pipefail

CHECK_TIMEOUT=${CHECK_TIMEOUT:-60}
BAD_SETTINGS=${BAD_SETTINGS:-/etc/itemsd/itemsd.env.bad}
SETTINGS=/etc/itemsd/itemsd.env
UNIT=itemsd.service

passed=0
failed=0
report() { printf '\n%s\n' "$*"; }
info() { report "INFO $*"; }
die() {
    # No GUEST-CHECKS-DONE: the host counts the unfinished run as a failure.
    info "guest-checks: error: $*"
    exit 2
}
# A step outside the checks that fails ends the run (errexit): say where, for the host's log.
trap 'info "guest-checks: error: line $LINENO failed (exit status $?)"' ERR

[[ "$(id -u)" == 0 ]] || die "must run as root (it stops, starts and kills itemsd)"
[[ "$CHECK_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "CHECK_TIMEOUT must be a number of seconds"
[[ -f "$BAD_SETTINGS" ]] || die "BAD_SETTINGS=$BAD_SETTINGS does not exist"
for tool in systemctl journalctl systemd-analyze getconf awk; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

check() {
    local name=$1
    shift
    if "$@"; then
        report "CHECK ok $name"
        passed=$((passed + 1))
    else
        report "CHECK FAIL $name"
        failed=$((failed + 1))
    fi
}
# await CMD...: runs CMD every 0.5 s until it succeeds or CHECK_TIMEOUT passes. Not more often:
# under qemu's software emulation a round of systemctl calls takes a good part of that itself.
await() {
    local deadline=$((SECONDS + CHECK_TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}
# host_turn NAME: hands over to the host and waits for its answer. The host's turn awaits at
# most two conditions of its own (CHECK_TIMEOUT each); a host that does not answer has already
# failed the run, so the checks go on without it.
host_turn() {
    local answer
    report "HOST-TURN $1"
    if ! read -r -t $((3 * CHECK_TIMEOUT)) answer || [[ "$answer" != go ]]; then
        info "no answer from the host to HOST-TURN $1; going on"
    fi
}

prop() { systemctl show "$UNIT" -p "$1" --value; }
state() { systemctl show "$UNIT" -p "$1" | tr '\n' ' '; }
unit_is() { [[ "$(prop ActiveState)/$(prop SubState)" == "$1/$2" ]]; }
# journal_has UNIT TEXT. Awaited by the checks: journald takes the lines from a stream, so
# they may land after the state they describe.
journal_has() { grep -q -- "$2" <<<"$(journalctl -u "$1" --no-pager -o cat)"; }
# Seconds since systemd started: /proc/1/stat's start time (clock ticks after the kernel's
# boot) against the kernel's uptime. Under nspawn the kernel is the host's, so this, not the
# uptime, is how long the guest has been up.
pid1_age() {
    awk -v up="$(cut -d' ' -f1 /proc/uptime)" -v start="$(cut -d' ' -f22 /proc/1/stat)" \
        -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", up - start / hz }'
}

info "guest checks start: systemd (PID 1) up $(pid1_age) s, kernel up $(cut -d' ' -f1 /proc/uptime) s, system $(systemctl is-system-running || true)"

# 1. Started at boot and READY: with Type=notify, active/running means READY=1 arrived.
check "itemsd started at boot and reached READY (active/running)" await unit_is active running
check "journal: itemsd listening" await journal_has "$UNIT" "itemsd listening"
migrated() {
    [[ "$(systemctl show itemsd-migrate.service -p Result --value)" == success ]] &&
        journal_has itemsd-migrate.service schema
}
check "itemsd-migrate.service ran at boot and applied the schema" await migrated
info "$(state ActiveState,SubState,MainPID,NRestarts)"

# 2. The host checks /health (and, through it, that the guest reaches PostgreSQL on the host).
host_turn health

# 3. kill -9 is followed by a restart. The kill builtin: minbase has no procps, and systemctl
# kill would tell systemd who did it. No main PID (itemsd not running) is left to the check to
# fail: `kill -KILL 0` would kill this script's own process group.
old_pid=$(prop MainPID)
old_restarts=$(prop NRestarts)
if [[ "$old_pid" =~ ^[1-9][0-9]*$ ]]; then
    info "kill -9 of the main PID $old_pid"
    kill -KILL "$old_pid" || info "kill -KILL $old_pid failed"
else
    info "itemsd has no main PID to kill (MainPID=$old_pid)"
fi
restarted() {
    (($(prop NRestarts) > old_restarts)) && [[ "$(prop MainPID)" != "$old_pid" ]] && unit_is active running
}
check "kill -9 of the main PID is followed by a restart" await restarted
info "$(state ActiveState,SubState,MainPID,NRestarts)"
host_turn health-after-restart

# 4. systemctl stop drains and exits 0. It returns once the unit has stopped (TimeoutStopSec
# bounds it), so the final state needs no waiting; the journal lines do.
stop_start=$SECONDS
systemctl stop "$UNIT" || info "systemctl stop failed"
info "systemctl stop took $((SECONDS - stop_start)) s; $(state ActiveState,Result,ExecMainCode,ExecMainStatus)"
stopped_cleanly() {
    [[ "$(prop ActiveState) $(prop Result) $(prop ExecMainStatus)" == "inactive success 0" ]]
}
check "systemctl stop: inactive, Result=success, ExecMainStatus=0" stopped_cleanly
check "journal: draining started" await journal_has "$UNIT" "draining: /health now answers 503"
check "journal: itemsd stopped" await journal_has "$UNIT" "itemsd stopped"

# 5. A bad config exits 64 and is not restarted (RestartPreventExitStatus=64).
cp "$BAD_SETTINGS" "$SETTINGS"
systemctl reset-failed "$UNIT" 2>/dev/null || true
# Expected to fail: itemsd exits 64 before READY=1.
systemctl start "$UNIT" 2>/dev/null && info "warning: systemctl start succeeded with a bad config"
config_failed() {
    [[ "$(prop ActiveState) $(prop Result) $(prop ExecMainStatus)" == "failed exit-code 64" ]]
}
check "bad config: failed, Result=exit-code, ExecMainStatus=64" await config_failed
restarts_after_failure=$(prop NRestarts)
# Not restarted: the unit stays failed, NRestarts unchanged, for three times RestartSec as
# systemd has it (systemd-analyze turns its "2s" into microseconds on the second line).
restart_sec=$(prop RestartUSec)
restart_usec=$(systemd-analyze timespan "$restart_sec" | awk 'NR == 2 { print $2 }')
[[ "$restart_usec" =~ ^[0-9]+$ ]] || die "cannot read RestartSec (RestartUSec=$restart_sec)"
observe=$(((3 * restart_usec + 999999) / 1000000))
info "watching for ${observe}s (3 x RestartSec=$restart_sec) that systemd does not restart it"
# Polls for the whole window (not a wait for a condition): the assertion is that nothing changes.
stays_failed() {
    local until=$((SECONDS + observe))
    while ((SECONDS < until)); do
        config_failed && [[ "$(prop NRestarts)" == "$restarts_after_failure" ]] || return 1
        sleep 0.5
    done
}
check "bad config: not restarted for 3 x RestartSec (still failed, NRestarts unchanged)" stays_failed
check "journal: names the invalid variable" await journal_has "$UNIT" "invalid configuration: APPLICATION_PORT"

report "GUEST-CHECKS-DONE $passed passed, $failed failed"
((failed == 0)) || exit 1
