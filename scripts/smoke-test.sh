#!/usr/bin/env bash
# Smoke test of a deployed itemsd through its load balancer:
#   scripts/smoke-test.sh BASE_URL        e.g. scripts/smoke-test.sh http://itemsd-dev-alb-1.eu-north-1.elb.amazonaws.com
#
# Checks, in order: GET /health answers 200 with a status; GET /api/items answers 200 with a
# list; POST /api/items creates an item (201 with its id); GET /api/items/{id} returns that item;
# DELETE /api/items/{id} removes it again (204), so that repeated runs leave nothing behind. Then
# it asks GET / until every instance behind the balancer has answered (the X-Instance-ID header
# and the body's instance_id and version) and prints one line per instance with the version it
# runs. The closing line is "smoke: N passed, M failed"; the exit status is 0 only when all passed.
#
# Inputs (environment, all optional):
#   SMOKE_EXPECT_VERSION    every instance must answer this version (scripts/deploy.sh prints it)
#   SMOKE_EXPECT_INSTANCES  comma-separated instance ids that must all answer (deploy.sh's
#                           healthy_instances); without it, the instances that answered are listed
#   SMOKE_ROUNDS            most requests to GET / while looking for the instances (default 30)
#   SMOKE_TIMEOUT_SECONDS   per request (default 10)
# Exit codes: 0 all checks passed, 1 a check failed, 2 usage.
set -o errexit -o nounset -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/checks.sh
source "$repo_root/scripts/lib/checks.sh"

usage() {
    printf 'smoke-test: error: %s\nusage: scripts/smoke-test.sh BASE_URL\n' "$*" >&2
    exit 2
}

(($# == 1)) || usage "expected 1 argument, got $#"
base_url=${1%/}
[[ "$base_url" =~ ^https?://[^/[:space:]]+$ ]] || usage "BASE_URL must be http(s)://host[:port], not '$1'"
expect_version=${SMOKE_EXPECT_VERSION:-}
expect_instances=${SMOKE_EXPECT_INSTANCES:-}
rounds=${SMOKE_ROUNDS:-30}
request_timeout=${SMOKE_TIMEOUT_SECONDS:-10}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || usage "SMOKE_ROUNDS must be a positive integer, not '$rounds'"
[[ "$request_timeout" =~ ^[1-9][0-9]*$ ]] || usage "SMOKE_TIMEOUT_SECONDS must be a positive integer, not '$request_timeout'"
[[ -z "$expect_instances" || "$expect_instances" =~ ^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$ ]] ||
    usage "SMOKE_EXPECT_INSTANCES must be comma-separated instance ids, not '$expect_instances'"
for tool in curl jq; do
    command -v "$tool" >/dev/null || usage "$tool is not installed (scripts/install-deps.sh)"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# request METHOD PATH [BODY]: sets status, and leaves the body in $work/body and the headers in
# $work/headers. A connection failure is status 000.
request() {
    local method=$1 path=$2 data=${3:-}
    local args=(-sS --max-time "$request_timeout" -X "$method" -o "$work/body" -D "$work/headers" -w '%{http_code}')
    [[ -z "$data" ]] || args+=(-H 'Content-Type: application/json' --data "$data")
    status=$(curl "${args[@]}" "$base_url$path" 2>"$work/curl.err") || status=000
}

explain() { echo "    $1 answered $status: $(head -c 300 "$work/body" 2>/dev/null; cat "$work/curl.err")" >&2; }

# answered WHAT STATUS JQ: the last request answered STATUS with a body for which JQ holds;
# otherwise says what came back.
answered() {
    if [[ "$status" == "$2" ]] && jq -e "$3" "$work/body" >/dev/null 2>&1; then
        return 0
    fi
    explain "$1"
    return 1
}

health_ok() {
    request GET /health
    answered "GET /health" 200 '.status | type == "string"' || return 1
    echo "    /health: $(jq -c '{status, version, database: .checks.database}' "$work/body")"
}

list_ok() {
    request GET '/api/items?limit=5'
    answered "GET /api/items" 200 '.items | type == "array"'
}

item_id=""
item_name="smoke-$(date -u +%Y%m%dT%H%M%SZ)-$$"
create_ok() {
    request POST /api/items "{\"name\":\"$item_name\",\"description\":\"scripts/smoke-test.sh\",\"value\":\"1\"}"
    answered "POST /api/items" 201 '.item.id | type == "number"' || return 1
    item_id=$(jq -r '.item.id' "$work/body")
}

read_ok() {
    [[ -n "$item_id" ]] || return 1
    request GET "/api/items/$item_id"
    answered "GET /api/items/$item_id" 200 ".id == $item_id and .name == \"$item_name\""
}

delete_ok() {
    [[ -n "$item_id" ]] || return 1
    request DELETE "/api/items/$item_id"
    [[ "$status" == 204 ]] || {
        explain "DELETE /api/items/$item_id"
        return 1
    }
}

declare -A versions=()
# instances_ok: GET / until every expected instance answered (or, without a list, SMOKE_ROUNDS
# times); one line per instance; each must answer the expected version when one is given.
instances_ok() {
    local i id version wanted missing=() wrong=()
    for ((i = 0; i < rounds; i++)); do
        request GET /
        if [[ "$status" != 200 ]]; then
            explain "GET /"
            return 1
        fi
        id=$(tr -d '\r' <"$work/headers" | awk -F': ' 'tolower($1) == "x-instance-id" {print $2}' | tail -1)
        [[ -n "$id" ]] || id=$(jq -r '.instance_id // "unknown"' "$work/body")
        version=$(jq -r '.version // "unknown"' "$work/body")
        versions[$id]=$version
        if [[ -n "$expect_instances" ]]; then
            missing=()
            for wanted in ${expect_instances//,/ }; do
                [[ -n "${versions[$wanted]:-}" ]] || missing+=("$wanted")
            done
            ((${#missing[@]} > 0)) || break
        fi
    done
    for id in $(printf '%s\n' "${!versions[@]}" | sort); do
        echo "    instance $id answers version ${versions[$id]}"
        [[ -z "$expect_version" || "${versions[$id]}" == "$expect_version" ]] || wrong+=("$id")
    done
    if ((${#missing[@]} > 0)); then
        echo "    not heard from in $rounds requests: ${missing[*]}" >&2
        return 1
    fi
    if ((${#wrong[@]} > 0)); then
        echo "    not on version $expect_version: ${wrong[*]}" >&2
        return 1
    fi
}

echo "smoke-test: $base_url${expect_version:+ (expecting version $expect_version)}"
check "GET /health answers 200 with a status" health_ok
check "GET /api/items answers 200 with a list" list_ok
check "POST /api/items creates an item (201)" create_ok
check "GET /api/items/{id} returns it" read_ok
check "DELETE /api/items/{id} removes it again (204)" delete_ok
check "every instance answers GET /${expect_version:+ with version $expect_version}" instances_ok
checks_summary smoke
