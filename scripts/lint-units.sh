#!/usr/bin/env bash
# Lints the systemd units: `systemd-analyze verify` must print nothing (it only warns, with exit
# status 0, on an unknown key or a bad value, so any output is a failure), and
# `systemd-analyze security --offline=yes` must rate each at or below SECURITY_THRESHOLD.
#
# verify checks that ExecStart's binary exists and is executable. Rather than needing a built
# binary installed at /usr/local/bin (or a --root tree, which would also need every unit the
# service orders against: sysinit.target, network-online.target, ...), the units are copied to a
# temporary directory with only the ExecStart path rewritten to an executable stub there (side
# by side, so the units they name, itemsd-migrate.service by itemsd.service, are found); the
# substitution keeps line numbers, and messages are reported against systemd/<unit>.
#
# Env: UNITS (default: every systemd/*.service), SECURITY_THRESHOLD (default 20, i.e. 2.0).
set -o errexit -o nounset -o pipefail

cd "$(dirname "$0")/.."
UNITS=${UNITS:-$(echo systemd/*.service)}
SECURITY_THRESHOLD=${SECURITY_THRESHOLD:-20}
INSTALLED_EXEC=/usr/local/bin/itemsd

command -v systemd-analyze >/dev/null || {
    echo "error: systemd-analyze not found (Debian package: systemd)" >&2
    exit 1
}
[[ "$SECURITY_THRESHOLD" =~ ^[0-9]+$ ]] || {
    echo "error: SECURITY_THRESHOLD must be an integer (tenths: 20 means 2.0)" >&2
    exit 1
}
read -r -a units <<<"$UNITS"
for unit in "${units[@]}"; do
    [[ -f "$unit" ]] || {
        echo "error: $unit (from UNITS) does not exist" >&2
        exit 1
    }
    grep -q "^ExecStart=$INSTALLED_EXEC\b" "$unit" || {
        echo "error: $unit: expected ExecStart=$INSTALLED_EXEC ...; update INSTALLED_EXEC in $0" >&2
        exit 1
    }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\nexit 0\n' >"$tmp/itemsd"
chmod 0755 "$tmp/itemsd"
for unit in systemd/*.service; do
    sed "s|^ExecStart=$INSTALLED_EXEC|ExecStart=$tmp/itemsd|" "$unit" >"$tmp/$(basename "$unit")"
done

threshold="$((SECURITY_THRESHOLD / 10)).$((SECURITY_THRESHOLD % 10))"
failed=0
for unit in "${units[@]}"; do
    copy="$tmp/$(basename "$unit")"
    unit_failed=0
    verify_output=$(systemd-analyze verify "$copy" 2>&1) || unit_failed=1
    if [[ -n "$verify_output" ]]; then
        unit_failed=1
    fi
    if ((unit_failed)); then
        failed=1
        echo "FAIL systemd-analyze verify $unit:" >&2
        printf '%s\n' "${verify_output//$copy/$unit}" >&2
    else
        echo "ok   systemd-analyze verify $unit: no output"
    fi

    security_output=$(systemd-analyze security --offline=yes --threshold="$SECURITY_THRESHOLD" "$copy" 2>&1) && security_rc=0 || security_rc=$?
    rating=$(printf '%s\n' "$security_output" | grep -o 'Overall exposure level for [^:]*: [0-9.]*' | grep -o '[0-9.]*$' || true)
    if ((security_rc != 0)); then
        failed=1
        printf '%s\n' "$security_output" | grep -e '✗' -e 'Overall' >&2 || true
        echo "FAIL systemd-analyze security $unit: exposure ${rating:-unknown} (threshold $threshold)" >&2
    else
        echo "ok   systemd-analyze security $unit: exposure $rating (threshold $threshold)"
    fi
done

if ((failed)); then
    echo "lint-units: FAILED" >&2
    exit 1
fi
echo "lint-units: ok"
