# shellcheck shell=bash
# The named checks the shell test scripts run and count: `check NAME CMD...` runs CMD and prints
# `ok   NAME` or `FAIL NAME`; `checks_summary WHO` prints the closing line ("WHO: N passed, N
# failed", the line CI reads) and fails if any check failed. Sourced; nothing runs on sourcing.

passed=0
failed=0

check() {
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

checks_summary() {
    echo "$1: $passed passed, $failed failed"
    ((failed == 0))
}
