#!/usr/bin/env bash
# Lints the systemd unit: `systemd-analyze verify` must print nothing (it only warns, with exit
# status 0, on an unknown key or a bad value, so any output is a failure), and
# `systemd-analyze security --offline=yes` must rate it at or below SECURITY_THRESHOLD.
#
# verify checks that ExecStart's binary exists and is executable. Rather than needing a built
# binary installed at /usr/local/bin (or a --root tree, which would also need every unit the
# service orders against: sysinit.target, network-online.target, ...), the unit is copied to a
# temporary directory with only the ExecStart path rewritten to an executable stub there; the
# substitution keeps line numbers, and messages are reported against systemd/itemsd.service.
#
# Env: UNIT (default systemd/itemsd.service), SECURITY_THRESHOLD (default 20, i.e. 2.0).
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
UNIT=${UNIT:-systemd/itemsd.service}
SECURITY_THRESHOLD=${SECURITY_THRESHOLD:-20}
INSTALLED_EXEC=/usr/local/bin/itemsd

command -v systemd-analyze >/dev/null || {
    echo "error: systemd-analyze not found (Debian package: systemd)" >&2
    exit 1
}
[[ -f "$UNIT" ]] || {
    echo "error: UNIT=$UNIT does not exist" >&2
    exit 1
}
[[ "$SECURITY_THRESHOLD" =~ ^[0-9]+$ ]] || {
    echo "error: SECURITY_THRESHOLD must be an integer (tenths: 20 means 2.0)" >&2
    exit 1
}
grep -q "^ExecStart=$INSTALLED_EXEC\b" "$UNIT" || {
    echo "error: $UNIT: expected ExecStart=$INSTALLED_EXEC ...; update INSTALLED_EXEC in $0" >&2
    exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unit_name=$(basename "$UNIT")
printf '#!/bin/sh\nexit 0\n' >"$tmp/itemsd"
chmod 0755 "$tmp/itemsd"
sed "s|^ExecStart=$INSTALLED_EXEC|ExecStart=$tmp/itemsd|" "$UNIT" >"$tmp/$unit_name"

failed=0
verify_output=$(systemd-analyze verify "$tmp/$unit_name" 2>&1) || failed=1
if [[ -n "$verify_output" ]]; then
    failed=1
fi
if ((failed)); then
    echo "FAIL systemd-analyze verify $UNIT:" >&2
    printf '%s\n' "${verify_output//$tmp\/$unit_name/$UNIT}" >&2
else
    echo "ok   systemd-analyze verify $UNIT: no output"
fi

security_output=$(systemd-analyze security --offline=yes --threshold="$SECURITY_THRESHOLD" "$tmp/$unit_name" 2>&1) && security_rc=0 || security_rc=$?
rating=$(printf '%s\n' "$security_output" | grep -o 'Overall exposure level for [^:]*: [0-9.]*' | grep -o '[0-9.]*$' || true)
if ((security_rc != 0)); then
    failed=1
    printf '%s\n' "$security_output" | grep -e '✗' -e 'Overall' >&2 || true
    echo "FAIL systemd-analyze security $UNIT: exposure ${rating:-unknown} (threshold $((SECURITY_THRESHOLD / 10)).$((SECURITY_THRESHOLD % 10)))" >&2
else
    echo "ok   systemd-analyze security $UNIT: exposure $rating (threshold $((SECURITY_THRESHOLD / 10)).$((SECURITY_THRESHOLD % 10)))"
fi

if ((failed)); then
    echo "lint-units: FAILED" >&2
    exit 1
fi
echo "lint-units: ok"
