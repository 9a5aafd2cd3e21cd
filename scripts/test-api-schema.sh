#!/usr/bin/env bash
# Tests a live itemsd against its contract, docs/openapi.yaml, with schemathesis: boundary and
# invalid values for every parameter and body field (coverage phase), random valid and invalid
# requests (fuzzing), and create/read/delete sequences along the spec's links (stateful). Every
# response is checked: no 5xx; a status, content type, headers and body as documented for the
# operation; invalid input refused with a documented 4xx and valid input accepted; 405 with Allow
# for undocumented methods; a deleted item stays gone and a created one can be read.
# Why: the Rust tests check the cases someone thought of; this finds the inputs nobody did, and
# keeps the spec honest about what the server really answers.
#
# It starts a throwaway PostgreSQL cluster (scripts/lib/postgres.sh) and the given itemsd on a
# free loopback port with every AWS duty off, waits for /health, runs schemathesis (settings in
# scripts/test-api-schema.toml) and stops all it started on any exit. The last line is
# "api-schema: N passed, M failed", counting schemathesis' suites (one per operation, one for the
# stateful phase); the exit status is non-zero on any failure. A run takes about 40 s.
#
# Inputs (environment):
#   ITEMSD_BINARY           required: the itemsd executable to test (scripts/test-all.sh passes
#                           the cargo-built one)
#   API_SCHEMA_MAX_EXAMPLES test cases per operation in the fuzzing and stateful phases
#                           (default 300)
#   API_SCHEMA_SEED         the generator's seed (default: a fixed one, so that runs repeat; set
#                           another to explore). Printed with the command that repeats the run.
#   VENV_DIR                the venv holding schemathesis (default <repo>/.venv, made by
#                           scripts/install-python-tools.sh)
#   CI                      a missing tool (PostgreSQL, psql, curl, schemathesis) is an error
#                           under CI=true and also without it: this test is never skipped
# Logs and reports go to <repo>/.tmp/api-schema (gitignored) and stay after the run: itemsd.log,
# schemathesis.log (whole; the terminal gets lines cut at 2000 characters), junit.xml and
# events.ndjson (every request and response).
set -o errexit -o nounset -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/postgres.sh
source "${repo_root}/scripts/lib/postgres.sh"

itemsd_binary="${ITEMSD_BINARY:-}"
max_examples="${API_SCHEMA_MAX_EXAMPLES:-300}"
seed="${API_SCHEMA_SEED:-20240601}"
venv_dir="${VENV_DIR:-${repo_root}/.venv}"
ci="${CI:-false}"
spec="${repo_root}/docs/openapi.yaml"
config="${repo_root}/scripts/test-api-schema.toml"
work="${repo_root}/.tmp/api-schema"
schemathesis="${venv_dir}/bin/schemathesis"
# Every check that applies to an API without authentication. The two stateful ones
# (use_after_free, ensure_resource_availability) follow the spec's links from createItem.
checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_headers_conformance,response_schema_conformance
checks+=,negative_data_rejection,positive_data_acceptance,missing_required_header
checks+=,unsupported_method,allow_header_conformance,use_after_free,ensure_resource_availability

pg_dir=""
server_pid=""
tester_pid=""

fail() {
    echo "test-api-schema: $*" >&2
    exit 1
}

# check_inputs: the environment is what this script expects, before anything starts.
check_inputs() {
    [[ -n "${itemsd_binary}" ]] || fail "ITEMSD_BINARY is not set (the itemsd executable to test)"
    [[ -f "${itemsd_binary}" && -x "${itemsd_binary}" ]] ||
        fail "ITEMSD_BINARY=${itemsd_binary} is not an executable file"
    [[ "${max_examples}" =~ ^[1-9][0-9]*$ ]] ||
        fail "API_SCHEMA_MAX_EXAMPLES must be a positive integer, not '${max_examples}'"
    [[ "${seed}" =~ ^[0-9]+$ ]] || fail "API_SCHEMA_SEED must be a non-negative integer, not '${seed}'"
    [[ -f "${spec}" ]] || fail "${spec} is missing"
    [[ -f "${config}" ]] || fail "${config} is missing"
}

# check_tools: everything the run needs is installed; says how to get what is not.
check_tools() {
    local missing=()
    find_pg_bindir >/dev/null || missing+=("PostgreSQL server binaries (scripts/install-deps.sh)")
    command -v psql >/dev/null || missing+=("psql (scripts/install-deps.sh)")
    command -v curl >/dev/null || missing+=("curl (apt-get install curl)")
    [[ -x "${schemathesis}" ]] || missing+=("schemathesis in ${venv_dir} (scripts/install-python-tools.sh)")
    if ((${#missing[@]} > 0)); then
        printf 'test-api-schema: missing: %s\n' "${missing[@]}" >&2
        fail "cannot run without them (CI=${ci}); nothing was skipped"
    fi
}

# stop_process PID: SIGTERM, up to 10 s to exit, then SIGKILL. Only PIDs this script started.
stop_process() {
    local pid=$1
    kill -0 "${pid}" 2>/dev/null || return 0
    kill -TERM "${pid}" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "${pid}" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
}

# cleanup: stop what this script started, whatever the exit path; keeps the logs.
cleanup() {
    [[ -z "${tester_pid}" ]] || stop_process "${tester_pid}"
    [[ -z "${server_pid}" ]] || stop_process "${server_pid}"
    if [[ -n "${pg_dir}" ]]; then
        stop_cluster "${pg_dir}"
        rm -rf "${pg_dir}"
    fi
}

# pick_free_port: a loopback TCP port nobody listens on now.
pick_free_port() {
    "${venv_dir}/bin/python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# start_database: a fresh cluster on a free port with an empty appdb; sets pg_dir and pg_port.
start_database() {
    pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/itemsd-api-schema-pg.XXXXXX")"
    local attempt
    for attempt in 1 2 3; do
        pg_port="$(pick_free_port)"
        if start_cluster "${pg_dir}" "${pg_port}" 2>"${work}/postgres-start.log"; then
            create_database "${pg_dir}" "${pg_port}" appdb
            return 0
        fi
        echo "test-api-schema: PostgreSQL did not start on port ${pg_port} (attempt ${attempt})" >&2
    done
    cat "${work}/postgres-start.log" >&2
    fail "could not start PostgreSQL"
}

# start_server: itemsd on 127.0.0.1 with a kernel-chosen port, AWS off; sets server_pid and base_url.
start_server() {
    env -u DB_SECRET_ARN -u CLOUDWATCH_LOG_GROUP -u CLOUDWATCH_NAMESPACE \
        AWS_EC2_METADATA_DISABLED=true APPLICATION_PORT=0 BIND_ADDRESS=127.0.0.1 \
        DB_HOST=127.0.0.1 DB_PORT="${pg_port}" DB_NAME=appdb DB_USER=postgres DB_PASSWORD= \
        INSTANCE_ID=i-api-schema INSTANCE_IP=127.0.0.1 AVAILABILITY_ZONE=local \
        SHUTDOWN_DELAY_SECONDS=0 SHUTDOWN_TIMEOUT_SECONDS=5 \
        "${itemsd_binary}" >"${work}/itemsd.log" 2>&1 &
    server_pid=$!
    local address=""
    for _ in $(seq 300); do
        kill -0 "${server_pid}" 2>/dev/null || {
            cat "${work}/itemsd.log" >&2
            server_pid=""
            fail "itemsd exited during start-up"
        }
        address="$(grep -m1 -o '"msg":"itemsd listening".*' "${work}/itemsd.log" |
            grep -o '"address":"[^"]*"' | cut -d'"' -f4 || true)"
        [[ -z "${address}" ]] || break
        sleep 0.1
    done
    [[ -n "${address}" ]] || fail "itemsd did not log 'itemsd listening' within 30 s (see ${work}/itemsd.log)"
    base_url="http://${address}"
}

# wait_for_health: /health answers 200 (serving) within 30 s.
wait_for_health() {
    for _ in $(seq 300); do
        curl -fsS --max-time 2 "${base_url}/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "${base_url}/health did not answer 200 within 30 s (see ${work}/itemsd.log)"
}

# run_schemathesis: every phase against the live server; returns schemathesis' exit status.
run_schemathesis() {
    echo "test-api-schema: schemathesis $("${schemathesis}" --version | awk '{print $NF}') against ${base_url}"
    echo "test-api-schema: seed ${seed}, ${max_examples} examples; repeat with API_SCHEMA_SEED=${seed} API_SCHEMA_MAX_EXAMPLES=${max_examples}"
    # In the background so that a signal to this script is handled at once (cleanup stops it);
    # from the work directory, where Hypothesis keeps its caches. One worker: Hypothesis is not
    # thread-safe (with two, operations stopped early at random and CPython 3.11's ast.parse raised
    # SystemError), and with one a seed repeats the same run.
    (cd "${work}" && exec "${schemathesis}" --config-file "${config}" run "${spec}" \
        --url "${base_url}" \
        --checks "${checks}" \
        --phases examples,coverage,fuzzing,stateful \
        --max-examples "${max_examples}" \
        --seed "${seed}" \
        --generation-database none \
        --workers 1 \
        --request-timeout 10 \
        --no-color \
        --report junit,ndjson \
        --report-junit-path "${work}/junit.xml" \
        --report-ndjson-path "${work}/events.ndjson") \
        >"${work}/schemathesis.log" 2>&1 &
    tester_pid=$!
    local status=0
    wait "${tester_pid}" || status=$?
    tester_pid=""
    # Failing inputs can be 100 KiB long; the log file keeps them whole.
    cut -c1-2000 "${work}/schemathesis.log"
    return "${status}"
}

# report_summary STATUS: the closing line, from schemathesis' JUnit report.
report_summary() {
    local status=$1 junit="${work}/junit.xml" tests=0 failed=0
    if [[ -f "${junit}" ]]; then
        tests="$(grep -m1 -o '<testsuite [^>]*' "${junit}" | grep -o ' tests="[0-9]*"' | grep -o '[0-9]*')"
        failed="$(grep -c '<failure\|<error' "${junit}" || true)"
    fi
    if ((status != 0)) && ((failed == 0)); then
        failed=1
    fi
    if ((status != 0)); then
        echo "test-api-schema: itemsd's warnings and errors (whole log: ${work}/itemsd.log):"
        grep -v '"level":"INFO"' "${work}/itemsd.log" | tail -n 20 || true
    fi
    echo "test-api-schema: logs and reports in ${work}"
    echo "api-schema: $((tests - failed < 0 ? 0 : tests - failed)) passed, ${failed} failed"
}

main() {
    check_inputs
    check_tools
    rm -rf "${work}"
    mkdir -p "${work}"
    trap cleanup EXIT
    trap 'echo "test-api-schema: interrupted" >&2; exit 130' INT
    trap 'echo "test-api-schema: terminated" >&2; exit 143' TERM
    start_database
    start_server
    wait_for_health
    local status=0
    run_schemathesis || status=$?
    report_summary "${status}"
    return "${status}"
}

main "$@"
