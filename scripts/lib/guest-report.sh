# shellcheck shell=bash
# The host's half of scripts/lib/guest-checks.sh, the in-guest checks both boot tests run
# (scripts/test-boot.sh under systemd-nspawn, scripts/test-boot-qemu.sh under qemu): installs
# it into the root filesystem, takes its report one line at a time (from wherever the test gets
# it: a pipe under nspawn, the serial console's log under qemu), counts each CHECK line as a
# check of scripts/lib/checks.sh, and on each HOST-TURN makes the checks only the host can make
# before the guest goes on. Sourced after checks.sh; nothing runs on sourcing.
#
# The sourcing test defines
#   log TEXT                   prints its log line
#   guest_answer               tells the guest, waiting after a HOST-TURN, to go on
# and sets app_port (the port on the host's 127.0.0.1 where the guest's itemsd answers),
# await_timeout (seconds a condition of `await` may take), guest_process_pid (the process, nspawn or
# qemu, whose end means the guest is gone) and guest_kind (what to call it in messages).

# Where the tests install the guest's half.
GUEST_CHECKS=/usr/local/sbin/guest-checks
# A report line, wherever it starts on a console line: the kernel may write there too (grep -E).
# shellcheck disable=SC2034 # used by scripts/test-boot-qemu.sh
GUEST_REPORT_PATTERN='(CHECK (ok|FAIL) |INFO |HOST-TURN |GUEST-CHECKS-DONE ).*'

# await DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it succeeds; fails after
# await_timeout seconds, or at once when the guest is gone.
await() {
    local description=$1 deadline=$((SECONDS + await_timeout))
    shift
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "timed out after ${await_timeout}s waiting for: $description" >&2
            return 1
        fi
        if ! kill -0 "$guest_process_pid" 2>/dev/null; then
            log "the $guest_kind exited while waiting for: $description" >&2
            return 1
        fi
        sleep 0.2
    done
}

# The test sets these once the guest is started (see above).
await_timeout=60
guest_process_pid=
guest_kind=guest

# install_guest_checks ROOTFS: test-only, so after validate-image.sh has passed the image.
install_guest_checks() {
    install -D -m 0755 "${BASH_SOURCE[0]%/*}/guest-checks.sh" "$1$GUEST_CHECKS"
}

# guest_report_begin: call as the guest starts booting; report times count from here. Until the
# guest's closing line arrives guest_done is empty, then holds its counts ("P passed, F failed").
guest_report_begin() {
    guest_start=$SECONDS
    guest_passed=0
    guest_failed=0
    guest_done=
}

# guest_report_line LINE: one line of the guest's report; other lines are ignored.
guest_report_line() {
    local line=${1%$'\r'}
    case "$line" in
    "CHECK ok "*)
        check "${line#CHECK ok } (guest, $((SECONDS - guest_start)) s)" true
        guest_passed=$((guest_passed + 1))
        ;;
    "CHECK FAIL "*)
        check "${line#CHECK FAIL } (guest, $((SECONDS - guest_start)) s)" false
        guest_failed=$((guest_failed + 1))
        ;;
    "INFO "*) log "guest: ${line#INFO }" ;;
    "HOST-TURN "*)
        host_turn "${line#HOST-TURN }"
        guest_answer
        ;;
    "GUEST-CHECKS-DONE "*) guest_done=${line#GUEST-CHECKS-DONE } ;;
    esac
}

health_url() { echo "http://127.0.0.1:${app_port:?the sourcing test sets app_port}/health"; }
health_ok() {
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$(health_url)")" == 200 ]]
}
database_up() { grep -q '"database": *"ok"' <<<"$(curl -s --max-time 2 "$(health_url)")"; }

# host_turn NAME: the checks of the host's turn NAME.
host_turn() {
    case "$1" in
    health)
        check "/health answers 200 from the host" await "/health 200" health_ok
        log "/health: $(curl -s --max-time 2 "$(health_url)" || true)"
        check "/health reports the database up (guest reaches PostgreSQL on the host)" await "database up" database_up
        ;;
    health-after-restart)
        check "/health answers 200 again after the restart" await "/health 200" health_ok
        ;;
    *) check "a host turn the host knows: $1" false ;;
    esac
}

# guest_report_finish: the check that the guest ran every step (its closing line arrived) and
# that no report went missing on the way (its counts against the lines read here: a console line
# the kernel garbled would be lost). Call once the guest's side has ended.
guest_report_complete() {
    if [[ -z "$guest_done" ]]; then
        log "the guest's checks did not finish (no GUEST-CHECKS-DONE)" >&2
        return 1
    fi
    if [[ "$guest_done" != "$guest_passed passed, $guest_failed failed" ]]; then
        log "the guest reported $guest_done; the host read $guest_passed passed, $guest_failed failed" >&2
        return 1
    fi
}
guest_report_finish() {
    check "the guest ran every check and the host read every report" guest_report_complete
}
